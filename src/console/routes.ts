// The console API's views of traffic and objects: each handler reads its query, asks
// the API server for the objects and Prometheus for the traffic, and answers with the
// shapes of ../telemetry/api.ts. Bad parameters are 400s that name the parameter.

import type { ApiClient, KubeObject } from '../client/index.js';
import type { ProxySyncStatus } from '../pilot/index.js';
import {
  buildGraph,
  type GraphResponse,
  type GraphType,
  type IstioConfigItem,
  type MeshObjects,
  type MetricsResponse,
  type PrometheusApi,
  type ProxyStatusRow,
  parsePrometheusDuration,
  requestRatesByWorkloadAndService,
  type ServiceListItem,
  serviceHealth,
  serviceMetrics,
  servicesFromObjects,
  validateIstioObject,
  validateService,
  type WorkloadDetails,
  type WorkloadListItem,
  workloadDetails,
  workloadHealth,
  workloadMetrics,
  workloadsFromPods,
} from '../telemetry/index.js';
import { HttpError } from './errors.js';

/** The Istio kinds the config list shows, by their API paths. */
const ISTIO_KINDS: Array<[kind: string, path: string]> = [
  ['VirtualService', '/apis/networking.istio.io/v1/virtualservices'],
  ['DestinationRule', '/apis/networking.istio.io/v1/destinationrules'],
  ['ServiceEntry', '/apis/networking.istio.io/v1/serviceentries'],
  ['Sidecar', '/apis/networking.istio.io/v1/sidecars'],
  ['PeerAuthentication', '/apis/security.istio.io/v1/peerauthentications'],
  ['AuthorizationPolicy', '/apis/security.istio.io/v1/authorizationpolicies'],
];

const GRAPH_TYPES: GraphType[] = ['workload', 'app', 'versionedApp', 'service'];
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** How far back list health looks unless asked (`duration`). */
const LIST_HEALTH_WINDOW = '10m';

interface Objects {
  pods: KubeObject[];
  vmis: KubeObject[];
  services: KubeObject[];
  endpoints: KubeObject[];
}

export interface RouteDeps {
  client: ApiClient;
  prom: PrometheusApi;
  controlPlane: () => Promise<ProxySyncStatus[]>;
}

/** A namespace name from the path or query; "all" only where every namespace makes sense (lists). */
function namespaceParam(value: string, allowAll = true): string {
  if ((value !== 'all' || !allowAll) && !NAME.test(value)) throw new HttpError(400, `namespace "${value}" is not a valid namespace name`);
  return value;
}

function durationParam(q: URLSearchParams, name: string, fallback: string): number {
  const text = q.get(name) ?? fallback;
  // Plain numbers are seconds, as Kiali's metrics parameters are.
  const seconds = parsePrometheusDuration(text);
  if (!seconds) throw new HttpError(400, `${name} "${text}" is not a duration (e.g. 60s, 10m, 1h, or seconds)`);
  return seconds;
}

function listParam(q: URLSearchParams, name: string): string[] {
  return q
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

function queryTimeParam(q: URLSearchParams): number | undefined {
  const t = q.get('queryTime');
  if (t === null) return undefined;
  if (!/^\d+(\.\d+)?$/.test(t)) throw new HttpError(400, `queryTime "${t}" is not unix seconds`);
  return Number(t);
}

const inNamespaces = (namespaces: string[]) => (o: KubeObject) => namespaces.includes('all') || namespaces.includes(o.metadata.namespace ?? 'default');

export class ApiRoutes {
  constructor(private readonly deps: RouteDeps) {}

  /** The answer for `path`, or undefined when no route matches. */
  async handle(path: string, q: URLSearchParams): Promise<unknown> {
    if (path === '/api/namespaces/graph') return this.graph(q);
    if (path === '/api/istio/config') return this.istioConfig(q);
    let m = path.match(/^\/api\/namespaces\/([^/]+)\/workloads$/);
    if (m) return this.workloads(namespaceParam(m[1]), durationParam(q, 'duration', LIST_HEALTH_WINDOW));
    m = path.match(/^\/api\/namespaces\/([^/]+)\/workloads\/([^/]+)(\/graph|\/metrics)?$/);
    if (m) {
      const [ns, name] = [namespaceParam(m[1], false), decodeURIComponent(m[2])];
      if (m[3] === '/graph') return this.graph(q, { namespace: ns, workload: name });
      if (m[3] === '/metrics') return this.metrics(q, { namespace: ns, workload: name });
      return this.workload(ns, name, durationParam(q, 'duration', LIST_HEALTH_WINDOW));
    }
    m = path.match(/^\/api\/namespaces\/([^/]+)\/services$/);
    if (m) return this.services(namespaceParam(m[1]), durationParam(q, 'duration', LIST_HEALTH_WINDOW));
    m = path.match(/^\/api\/namespaces\/([^/]+)\/services\/([^/]+)\/metrics$/);
    if (m) return this.metrics(q, { namespace: namespaceParam(m[1], false), service: decodeURIComponent(m[2]) });
    return undefined;
  }

  async #namespaceNames(): Promise<string[]> {
    return (await this.deps.client.list('/api/v1/namespaces')).items.map((n) => n.metadata.name);
  }

  async #objects(): Promise<Objects> {
    const { client } = this.deps;
    const [pods, vmis, services, endpoints] = await Promise.all([
      client.list('/api/v1/pods'),
      client.list('/apis/kubevirt.io/v1/virtualmachineinstances'),
      client.list('/api/v1/services'),
      client.list('/api/v1/endpoints'),
    ]);
    return { pods: pods.items, vmis: vmis.items, services: services.items, endpoints: endpoints.items };
  }

  async graph(q: URLSearchParams, focus?: { namespace: string; workload: string }): Promise<GraphResponse> {
    let namespaces = focus ? [focus.namespace] : listParam(q, 'namespaces').map((n) => namespaceParam(n));
    if (namespaces.length === 0) throw new HttpError(400, 'namespaces is required: one or more namespace names (or all), comma-separated');
    if (namespaces.includes('all')) namespaces = await this.#namespaceNames();
    const graphType = (q.get('graphType') ?? 'workload') as GraphType;
    if (!GRAPH_TYPES.includes(graphType)) throw new HttpError(400, `graphType "${graphType}" is not one of ${GRAPH_TYPES.join(', ')}`);
    // Workloads and services the API server knows give idle nodes and the missing-sidecar badge;
    // traffic alone still makes the graph when the API server cannot be read.
    const objects = await this.#objects().catch(() => undefined);
    const knownWorkloads = objects
      ? workloadsFromPods(objects.pods, objects.vmis).map((w) => ({
          namespace: w.namespace,
          name: w.name,
          app: w.app,
          version: w.version,
          hasSidecar: w.istioSidecar,
        }))
      : undefined;
    const knownServices = objects?.services.map((s) => ({ namespace: s.metadata.namespace ?? 'default', name: s.metadata.name }));
    return buildGraph(this.deps.prom, {
      namespaces,
      graphType,
      duration: durationParam(q, 'duration', '60s'),
      queryTime: queryTimeParam(q),
      injectServiceNodes: q.get('injectServiceNodes') !== 'false',
      includeIdle: q.get('includeIdle') === 'true',
      knownWorkloads,
      knownServices,
      focus,
    });
  }

  /** Health for list rows; while Prometheus cannot be read the rows still come, with health "na" and the reason. */
  async #healthRates(namespaces: string[], seconds: number) {
    try {
      const names = namespaces.includes('all') ? await this.#namespaceNames() : namespaces;
      return { rates: await requestRatesByWorkloadAndService(this.deps.prom, names, seconds) };
    } catch (e) {
      return { error: `no health: ${(e as Error).message}` };
    }
  }

  async workloads(namespace: string, seconds: number): Promise<WorkloadListItem[]> {
    const objects = await this.#objects();
    const rows = workloadsFromPods(objects.pods, objects.vmis, namespace);
    const { rates, error } = await this.#healthRates([namespace], seconds);
    return rows.map((w) => {
      const h = rates ? workloadHealth(rates, w.namespace, w.name) : { health: 'na' as const, reason: error };
      return { ...w, health: h.health, ...(h.reason ? { healthReason: h.reason } : {}) };
    });
  }

  async workload(namespace: string, name: string, seconds: number): Promise<WorkloadDetails> {
    const objects = await this.#objects();
    const details = workloadDetails(namespace, name, objects.pods, objects.vmis, objects.services);
    if (!details) throw new HttpError(404, `workload "${name}" not found in namespace ${namespace}`);
    const [{ rates, error }, statuses] = await Promise.all([
      this.#healthRates([namespace], seconds),
      this.deps.controlPlane().catch(() => [] as ProxySyncStatus[]),
    ]);
    const h = rates ? workloadHealth(rates, namespace, name) : { health: 'na' as const, reason: error };
    const byProxy = new Map(statuses.map((s) => [s.proxy, s]));
    const pods = details.pods.map((p) => {
      const s = byProxy.get(`${p.name}.${namespace}`);
      return s ? { ...p, proxyStatus: proxyStatusRow(s) } : p;
    });
    return { ...details, pods, health: h.health, ...(h.reason ? { healthReason: h.reason } : {}) };
  }

  async metrics(q: URLSearchParams, target: { namespace: string; workload?: string; service?: string }): Promise<MetricsResponse> {
    const direction = q.get('direction') ?? 'inbound';
    if (direction !== 'inbound' && direction !== 'outbound') throw new HttpError(400, `direction "${direction}" is not inbound or outbound`);
    const reporter = q.get('reporter') ?? (direction === 'inbound' ? 'destination' : 'source');
    if (reporter !== 'source' && reporter !== 'destination') throw new HttpError(400, `reporter "${reporter}" is not source or destination`);
    const duration = durationParam(q, 'duration', '600');
    const step = durationParam(q, 'step', String(Math.max(5, Math.round(duration / 60))));
    if (duration / step > 11_000) throw new HttpError(400, `step ${step}s is too small for duration ${duration}s (at most 11000 points)`);
    const common = {
      reporter: reporter as 'source' | 'destination',
      duration,
      step,
      rateInterval: q.get('rateInterval') ?? '1m',
      quantiles: listParam(q, 'quantiles'),
      byLabels: listParam(q, 'byLabels'),
      queryTime: queryTimeParam(q),
    };
    if (target.service) {
      if (direction !== 'inbound') throw new HttpError(400, 'a service has inbound metrics only');
      return serviceMetrics(this.deps.prom, { ...common, namespace: target.namespace, service: target.service });
    }
    return workloadMetrics(this.deps.prom, { ...common, direction, namespace: target.namespace, workload: target.workload as string });
  }

  async services(namespace: string, seconds: number): Promise<ServiceListItem[]> {
    const objects = await this.#objects();
    const rows = servicesFromObjects(objects.services, objects.endpoints, namespace);
    const { rates } = await this.#healthRates([namespace], seconds);
    const byKey = new Map(objects.services.map((s) => [`${s.metadata.namespace ?? 'default'}/${s.metadata.name}`, s]));
    return rows.map((row) => {
      const svc = byKey.get(`${row.namespace}/${row.name}`) as KubeObject;
      const h = rates ? serviceHealth(rates, row.namespace, row.name) : { health: 'na' as const };
      return { ...row, health: h.health, validations: validateService(svc, objects.pods.filter(inNamespaces([row.namespace]))) };
    });
  }

  async istioConfig(q: URLSearchParams): Promise<IstioConfigItem[]> {
    const namespaces = listParam(q, 'namespaces').map((n) => namespaceParam(n));
    const keep = inNamespaces(namespaces.length ? namespaces : ['all']);
    const [objects, ...lists] = await Promise.all([this.#objects(), ...ISTIO_KINDS.map(([, path]) => this.deps.client.list(path))]);
    const serviceEntries = lists[ISTIO_KINDS.findIndex(([k]) => k === 'ServiceEntry')].items;
    const mesh: MeshObjects = { services: objects.services, serviceEntries, pods: objects.pods };
    return ISTIO_KINDS.flatMap(([kind], i) =>
      lists[i].items.filter(keep).map((o) => ({
        kind,
        name: o.metadata.name,
        namespace: o.metadata.namespace ?? 'default',
        createdAt: String(o.metadata.creationTimestamp ?? ''),
        validations: validateIstioObject({ ...o, kind }, mesh),
      })),
    );
  }
}

/** One proxy's row of istioctl proxy-status. */
export function proxyStatusRow(s: ProxySyncStatus): ProxyStatusRow {
  const t = s.types;
  return {
    name: s.proxy,
    cluster: s.clusterId,
    cds: t.CDS.status,
    lds: t.LDS.status,
    eds: t.EDS.status,
    rds: t.RDS.status,
    ecds: t.ECDS.status,
    istiod: s.istiod,
    version: s.istioVersion,
  };
}
