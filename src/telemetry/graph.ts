// The traffic graph as Kiali draws it, from Istio's standard metrics: workload, app,
// versioned-app and service graphs, namespace boxes, the nodes of traffic with no
// workload behind it (unknown sources, PassthroughCluster), rates, response codes,
// p95 latency, throughput, mTLS share and health per node and edge.
// Node ids are readable and made only of names ("wl:default:istio-vmi"), so two
// Prometheus servers scraping the same sidecars give the same graph but for the numbers.

import type { GraphResponse, GraphType } from './api.js';
import { assemble, type EdgeAcc, ids, type NodeSpec } from './graph-elements.js';
import { type Flow, flowsOfWorkload, type GraphSamples, graphQueries, selectFlows } from './graph-traffic.js';
import { isKnown, responseClass } from './health.js';
import { addBucket } from './histogram.js';
import type { PrometheusApi } from './prometheus-client.js';

export { ids } from './graph-elements.js';
export { type GraphSamples, graphQueries } from './graph-traffic.js';

/** A workload the API server knows (for idle nodes and the missing-sidecar badge). */
export interface KnownWorkload {
  namespace: string;
  name: string;
  app?: string;
  version?: string;
  hasSidecar: boolean;
}

export interface KnownService {
  namespace: string;
  name: string;
}

export interface GraphOptions {
  namespaces: string[];
  graphType: GraphType;
  /** The rate window, in seconds. */
  duration: number;
  /** Unix seconds the rates are evaluated at (default: now). */
  queryTime?: number;
  /** A service node between a source and the workload it reached (default true). */
  injectServiceNodes?: boolean;
  /** Known workloads and services without traffic become idle nodes (default false). */
  includeIdle?: boolean;
  knownWorkloads?: KnownWorkload[];
  knownServices?: KnownService[];
  /** Only this workload's traffic, in and out (a node graph); `namespaces` is then its namespace. */
  focus?: { namespace: string; workload: string };
}

/** Graph of the traffic in and out of `namespaces`, read from Prometheus at `queryTime`. */
export async function buildGraph(prom: PrometheusApi, opts: GraphOptions): Promise<GraphResponse> {
  const queryTime = opts.queryTime ?? Math.floor(Date.now() / 1000);
  const namespaces = opts.focus ? [opts.focus.namespace] : opts.namespaces;
  const queries = graphQueries(namespaces, opts.duration);
  const keys = Object.keys(queries) as Array<keyof GraphSamples>;
  const answers = await Promise.all(keys.map((k) => prom.query(queries[k], queryTime)));
  const samples = Object.fromEntries(keys.map((k, i) => [k, answers[i]])) as unknown as GraphSamples;
  return graphFromSamples(samples, { ...opts, namespaces, queryTime });
}

const PASSTHROUGH = new Set(['PassthroughCluster', 'BlackHoleCluster']);
/** destination_service_name values that name no service: the request went straight to a workload (or nowhere known). */
const NO_SERVICE = new Set(['', 'unknown', 'InboundPassthroughCluster']);

function peer(m: Record<string, string>, side: 'source' | 'destination') {
  const get = (k: string) => m[`${side}_${k}`];
  const workload = get('workload');
  const namespace = get('workload_namespace');
  const canonical = isKnown(get('canonical_service')) ? get('canonical_service') : isKnown(get('app')) ? get('app') : workload;
  const revision = isKnown(get('canonical_revision')) ? get('canonical_revision') : isKnown(get('version')) ? get('version') : 'latest';
  return {
    known: isKnown(workload) && isKnown(namespace),
    namespace,
    workload,
    app: isKnown(get('app')) ? get('app') : canonical,
    version: isKnown(get('version')) ? get('version') : undefined,
    canonical,
    revision,
  };
}
type Peer = ReturnType<typeof peer>;

export function graphFromSamples(samples: GraphSamples, opts: GraphOptions & { queryTime: number }): GraphResponse {
  const { graphType } = opts;
  const inject = opts.injectServiceNodes ?? true;
  const requested = new Set(opts.namespaces);
  const known = new Map((opts.knownWorkloads ?? []).map((w) => [`${w.namespace}/${w.name}`, w]));
  let flows = selectFlows(samples);
  if (opts.focus) flows = flowsOfWorkload(flows, opts.focus.namespace, opts.focus.workload);

  const nodes = new Map<string, NodeSpec>();
  /** Workloads seen reporting: a report comes from a sidecar. */
  const reporters = new Set<string>();
  const addNode = (n: NodeSpec) => {
    if (!nodes.has(n.id)) nodes.set(n.id, n);
    return n.id;
  };

  const workloadNode = (p: Peer): NodeSpec => {
    const w = known.get(`${p.namespace}/${p.workload}`);
    return {
      id: ids.workload(p.namespace, p.workload),
      nodeType: 'workload',
      namespace: p.namespace,
      workload: p.workload,
      ...(p.app ? { app: p.app } : {}),
      ...(p.version ? { version: p.version } : {}),
      label: p.workload,
      ...(w ? { hasSidecar: w.hasSidecar } : {}),
    };
  };
  const appNode = (p: Peer): NodeSpec =>
    graphType === 'versionedApp'
      ? {
          id: ids.versionedApp(p.namespace, p.canonical, p.revision),
          nodeType: 'app',
          namespace: p.namespace,
          app: p.canonical,
          version: p.revision,
          label: `${p.canonical} ${p.revision}`,
        }
      : { id: ids.app(p.namespace, p.canonical), nodeType: 'app', namespace: p.namespace, app: p.canonical, label: p.canonical };
  const serviceNode = (ns: string, name: string): NodeSpec => ({
    id: ids.service(ns, name),
    nodeType: 'service',
    namespace: ns,
    service: name,
    label: name,
    ...(PASSTHROUGH.has(name) ? { isPassthrough: true } : {}),
  });
  const unknownNode: NodeSpec = { id: ids.unknown, nodeType: 'unknown', namespace: 'unknown', label: 'unknown' };

  /** The service node a flow went through, if any: Passthrough and BlackHole in the source's namespace, as Kiali places them. */
  const serviceOf = (m: Record<string, string>, src: Peer): NodeSpec | undefined => {
    const name = m.destination_service_name ?? '';
    if (NO_SERVICE.has(name)) return undefined;
    if (PASSTHROUGH.has(name))
      return serviceNode(src.known ? src.namespace : isKnown(m.destination_service_namespace) ? m.destination_service_namespace : 'unknown', name);
    const ns = isKnown(m.destination_service_namespace) ? m.destination_service_namespace : src.known ? src.namespace : 'unknown';
    return serviceNode(ns, name);
  };

  // Service graph: a workload that sends traffic is drawn as the service it receives traffic through, as Kiali does.
  const servicesOfWorkload = new Map<string, NodeSpec>();
  if (graphType === 'service') {
    for (const f of flows) {
      if (f.kind !== 'requests' && f.kind !== 'tcp') continue;
      const dst = peer(f.labels, 'destination');
      const svc = serviceOf(f.labels, peer(f.labels, 'source'));
      if (!dst.known || !svc || svc.isPassthrough) continue;
      const key = `${dst.namespace}/${dst.workload}`;
      const had = servicesOfWorkload.get(key);
      if (!had || svc.id < had.id) servicesOfWorkload.set(key, svc);
    }
  }

  const endpointNode = (p: Peer): NodeSpec => {
    if (graphType === 'workload') return workloadNode(p);
    if (graphType === 'service') {
      return servicesOfWorkload.get(`${p.namespace}/${p.workload}`) ?? workloadNode(p);
    }
    return appNode(p);
  };

  /** The nodes a flow passes, source first. */
  const pathOf = (m: Record<string, string>): string[] | undefined => {
    const src = peer(m, 'source');
    const dst = peer(m, 'destination');
    if (m.reporter === 'source' && src.known) reporters.add(`${src.namespace}/${src.workload}`);
    if (m.reporter === 'destination' && dst.known) reporters.add(`${dst.namespace}/${dst.workload}`);
    const from = addNode(src.known ? endpointNode(src) : unknownNode);
    const svc = serviceOf(m, src);
    if (graphType === 'service') {
      const to = svc ?? (dst.known ? workloadNode(dst) : undefined);
      return to ? [from, addNode(to)] : undefined;
    }
    const path = [from];
    if (svc && (inject || !dst.known)) path.push(addNode(svc));
    if (dst.known) path.push(addNode(endpointNode(dst)));
    return path.length > 1 ? path : undefined;
  };

  const edges = new Map<string, EdgeAcc>();
  for (const f of flows) {
    const path = pathOf(f.labels);
    if (!path) continue;
    for (let i = 1; i < path.length; i++) {
      const id = `${path[i - 1]}>${path[i]}:${f.protocol}`;
      let e = edges.get(id);
      if (!e) {
        e = {
          source: path[i - 1],
          target: path[i],
          protocol: f.protocol,
          rate: 0,
          rate3xx: 0,
          rate4xx: 0,
          rate5xx: 0,
          mtls: 0,
          responses: {},
          bytes: 0,
          buckets: new Map(),
        };
        edges.set(id, e);
      }
      addFlow(e, f);
    }
  }

  if (opts.includeIdle && !opts.focus) addIdleNodes(opts, requested, addNode, workloadNode, appNode, serviceNode, inject);

  return assemble(opts, nodes, edges, requested, reporters);
}

function addFlow(e: EdgeAcc, f: Flow): void {
  const m = f.labels;
  if (f.kind === 'requests') {
    e.rate += f.value;
    const code = m.response_code ?? '-';
    const cls = responseClass(code);
    if (cls === '3xx') e.rate3xx += f.value;
    else if (cls === '4xx') e.rate4xx += f.value;
    else if (cls === '5xx') e.rate5xx += f.value;
    e.responses[code] ??= {};
    const byFlags = e.responses[code];
    const flags = m.response_flags || '-';
    byFlags[flags] = (byFlags[flags] ?? 0) + f.value;
    if (m.connection_security_policy === 'mutual_tls') e.mtls += f.value;
  } else if (f.kind === 'tcp') {
    e.bytes += f.value;
    if (m.connection_security_policy === 'mutual_tls') e.mtls += f.value;
  } else if (f.kind === 'bytes') {
    e.bytes += f.value;
  } else if (f.le !== undefined) {
    addBucket(e.buckets, f.le, f.value);
  }
}

function addIdleNodes(
  opts: GraphOptions,
  requested: Set<string>,
  addNode: (n: NodeSpec) => string,
  workloadNode: (p: Peer) => NodeSpec,
  appNode: (p: Peer) => NodeSpec,
  serviceNode: (ns: string, name: string) => NodeSpec,
  inject: boolean,
): void {
  for (const w of opts.knownWorkloads ?? []) {
    if (!requested.has(w.namespace) || opts.graphType === 'service') continue;
    const p: Peer = {
      known: true,
      namespace: w.namespace,
      workload: w.name,
      app: w.app ?? w.name,
      version: w.version,
      canonical: w.app ?? w.name,
      revision: w.version ?? 'latest',
    };
    addNode({ ...(opts.graphType === 'workload' ? workloadNode(p) : appNode(p)), isIdle: true });
  }
  if (opts.graphType === 'service' || inject) {
    for (const s of opts.knownServices ?? []) {
      if (requested.has(s.namespace)) addNode({ ...serviceNode(s.namespace, s.name), isIdle: true });
    }
  }
}
