// The endpoints and endpointslice controllers of kube-controller-manager: every
// Service with a selector gets an Endpoints object and EndpointSlices listing the
// pods it selects, which is what virtmesh's DNS, proxy and mesh read to find
// backends. Objects are written only when their content changes, and a burst of pod
// changes for one Service is coalesced into one write.

import { isIPv4 } from 'node:net';
import { type ApiClient, Informer, isConflict, isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import { canonicalJson } from '../util/canonical-json.js';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
const HEADLESS_LABEL = 'service.kubernetes.io/headless';
const MAX_ENDPOINTS_PER_SLICE = 100;
const DEBOUNCE_MS = 50;
const CONFLICT_RETRIES = 5;

interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  appProtocol?: string;
}
interface Service extends KubeObject {
  spec?: { selector?: Record<string, string>; ports?: ServicePort[]; type?: string; clusterIP?: string; publishNotReadyAddresses?: boolean };
}
interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}
interface Pod extends KubeObject {
  spec?: { nodeName?: string; hostname?: string; subdomain?: string; containers?: Array<{ ports?: ContainerPort[] }> };
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}
type EndpointPort = { name: string; port: number; protocol: string; appProtocol?: string };
/** A pod that belongs in a Service's endpoints, with its state and the Service's ports resolved for it. */
type PodEndpoint = { pod: Pod; ip: string; ready: boolean; serving: boolean; terminating: boolean; ports: EndpointPort[] };
type SliceContent = { ports: EndpointPort[]; endpoints: unknown[] };

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/** Items grouped by key, the groups in key order. */
function groupBy<T>(items: T[], keyOf: (t: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const t of items) groups.set(keyOf(t), [...(groups.get(keyOf(t)) ?? []), t]);
  return [...groups].sort(([a], [b]) => byText(a, b)).map(([, g]) => g);
}

const isPodReady = (pod: Pick<Pod, 'status'>) => (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const selects = (selector: Record<string, string>, pod: Pod) => Object.entries(selector).every(([k, v]) => pod.metadata?.labels?.[k] === v);
/** The selector this controller acts on; an empty one would select every pod, so it counts as none. */
const selectorOf = (svc: Service) => {
  const selector = svc.spec?.selector;
  return selector && Object.keys(selector).length > 0 && svc.spec?.type !== 'ExternalName' ? selector : undefined;
};

/** podutil.FindPort: a number as is, a name looked up among the pod's container ports; undefined if absent. */
function resolvePort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  return ports.find((p) => p.name === target && (p.protocol ?? 'TCP') === (sp.protocol ?? 'TCP'))?.containerPort;
}

/** The pods that belong in a Service's endpoints, terminating ones included (Endpoints leaves those out itself). */
function podEndpoints(svc: Service, pods: Pod[]): PodEndpoint[] {
  const result: PodEndpoint[] = [];
  for (const pod of pods) {
    const ip = pod.status?.podIP;
    if (!ip || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const ports = (svc.spec?.ports ?? []).flatMap((sp) => {
      const port = resolvePort(pod, sp);
      return port === undefined
        ? []
        : [{ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) }];
    });
    const serving = isPodReady(pod);
    const terminating = Boolean(pod.metadata?.deletionTimestamp);
    result.push({ pod, ip, serving, terminating, ready: svc.spec?.publishNotReadyAddresses === true || (serving && !terminating), ports });
  }
  return result.sort((a, b) => byText(a.ip, b.ip) || byText(a.pod.metadata?.name ?? '', b.pod.metadata?.name ?? ''));
}

/** Where an endpoint runs: its pod, node and (for a pod that asked for one under this Service) DNS hostname. */
const placement = (svc: Service, pod: Pod) => ({
  ...(pod.spec?.hostname && pod.spec.subdomain === svc.metadata?.name ? { hostname: pod.spec.hostname } : {}),
  ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
  targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid },
});

/** Endpoints subsets as kube's RepackSubsets leaves them: pods grouped by their resolved ports. */
function desiredSubsets(svc: Service, eps: PodEndpoint[]): unknown[] {
  // A pod none of whose ports resolve is no endpoint, unless the Service is headless without ports.
  const portless = svc.spec?.clusterIP === 'None' && (svc.spec?.ports ?? []).length === 0;
  const included = eps.filter((ep) => (!ep.terminating || svc.spec?.publishNotReadyAddresses === true) && (ep.ports.length > 0 || portless));
  return groupBy(included, (ep) => canonicalJson(ep.ports)).map((group) => {
    const address = (ep: PodEndpoint) => ({ ip: ep.ip, ...placement(svc, ep.pod) });
    const addresses = group.filter((ep) => ep.ready).map(address);
    const notReadyAddresses = group.filter((ep) => !ep.ready).map(address);
    const ports = group[0].ports.map(({ name, ...rest }) => (name ? { name, ...rest } : rest));
    return { ...(addresses.length ? { addresses } : {}), ...(notReadyAddresses.length ? { notReadyAddresses } : {}), ...(ports.length ? { ports } : {}) };
  });
}

/** One slice per distinct port set (at most 100 endpoints each); a Service without endpoints keeps one empty slice. */
function desiredSlices(svc: Service, eps: PodEndpoint[]): SliceContent[] {
  const slices = groupBy(
    eps.filter((ep) => isIPv4(ep.ip)),
    (ep) => canonicalJson(ep.ports),
  ).flatMap((group) => {
    const endpoints = group.map((ep) => ({
      addresses: [ep.ip],
      conditions: { ready: ep.ready, serving: ep.serving, terminating: ep.terminating },
      ...placement(svc, ep.pod),
    }));
    const count = Math.ceil(endpoints.length / MAX_ENDPOINTS_PER_SLICE);
    return Array.from({ length: count }, (_, i) => ({
      ports: group[0].ports,
      endpoints: endpoints.slice(i * MAX_ENDPOINTS_PER_SLICE, (i + 1) * MAX_ENDPOINTS_PER_SLICE),
    }));
  });
  return slices.length > 0 ? slices : [{ ports: [], endpoints: [] }];
}

const ownerReferences = (svc: Service) => [
  { apiVersion: 'v1', kind: 'Service', name: svc.metadata?.name, uid: svc.metadata?.uid, controller: true, blockOwnerDeletion: true },
];
const endpointsLabels = (svc: Service) => ({ ...svc.metadata?.labels, ...(svc.spec?.clusterIP === 'None' ? { [HEADLESS_LABEL]: '' } : {}) });
const sliceLabels = (svc: Service) => ({ ...endpointsLabels(svc), [SERVICE_NAME_LABEL]: svc.metadata?.name ?? '', [MANAGED_BY_LABEL]: CONTROLLER_NAME });
const ownedByAService = (o: KubeObject) => (o.metadata?.ownerReferences ?? []).some((r) => r.kind === 'Service' && r.controller === true);

const endpointsPath = (namespace: string, name?: string) => resourcePath({ version: 'v1', plural: 'endpoints', namespace, name });
const slicesPath = (namespace?: string, name?: string) => resourcePath({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespace, name });
const sliceSelector = (service: string) => `${SERVICE_NAME_LABEL}=${service},${MANAGED_BY_LABEL}=${CONTROLLER_NAME}`;
const ignoreNotFound = (e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e));

/** What about a pod decides its place in endpoints; other changes (e.g. new annotations) need no sync. */
const podFingerprint = ({ metadata: m, spec, status }: Pod) =>
  canonicalJson([m?.labels, m?.deletionTimestamp, status?.podIP, status?.phase, isPodReady({ status }), spec?.nodeName]);

export async function startEndpointsController(opts: { client: ApiClient; log?: (line: string) => void }): Promise<{ stop(): void }> {
  const { client } = opts;
  const log = opts.log ?? (() => {});
  const services = new Informer<Service>(client, '/api/v1/services', {}, log);
  const pods = new Informer<Pod>(client, '/api/v1/pods', {}, log);
  // Changes by others to what this controller owns (e.g. a deleted slice) bring the Service back into sync.
  const endpoints = new Informer(client, '/api/v1/endpoints', {}, log);
  const slices = new Informer(client, slicesPath(), { labelSelector: `${MANAGED_BY_LABEL}=${CONTROLLER_NAME}` }, log);

  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Set<string>();
  const dirty = new Set<string>();
  const failures = new Map<string, number>();
  // The resourceVersion of each object this controller last wrote: the watch echo of its own write starts no sync.
  const written = new Map<string, string>();
  const writtenKey = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`;
  const remember = (o: KubeObject) => written.set(writtenKey(o), o.metadata?.resourceVersion ?? '');
  let ready = false;
  let stopped = false;

  /** Syncs a Service (`namespace/name`) after a short quiet time, so a burst of changes makes one write. */
  const enqueue = (key: string, delay = DEBOUNCE_MS) => {
    if (ready && !stopped && !timers.has(key)) timers.set(key, setTimeout(run, delay, key));
  };

  const run = async (key: string) => {
    timers.delete(key);
    if (running.has(key)) {
      dirty.add(key);
      return;
    }
    running.add(key);
    try {
      await withConflictRetry(() => sync(key));
      failures.delete(key);
    } catch (e) {
      if (stopped) return;
      const attempt = (failures.get(key) ?? 0) + 1;
      failures.set(key, attempt);
      const delay = Math.min(5000, 100 * 2 ** attempt);
      log(`endpoints for service ${key}: ${(e as Error).message}; retrying in ${delay} ms`);
      enqueue(key, delay);
    } finally {
      running.delete(key);
      if (dirty.delete(key)) enqueue(key);
    }
  };

  // A conflict means someone wrote in between: read again and recompute.
  const withConflictRetry = async (fn: () => Promise<void>) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isConflict(e) || attempt >= CONFLICT_RETRIES || stopped) throw e;
      }
    }
  };

  const sync = async (key: string) => {
    const [namespace, name] = key.split('/');
    const svc = services.get(namespace, name);
    if (!svc) return removeOrphans(namespace, name);
    const selector = selectorOf(svc);
    if (!selector) return;
    const eps = podEndpoints(
      svc,
      pods.list((p) => p.metadata?.namespace === namespace && selects(selector, p)),
    );
    await syncEndpoints(svc, namespace, name, desiredSubsets(svc, eps));
    await syncSlices(svc, namespace, name, desiredSlices(svc, eps));
  };

  const syncEndpoints = async (svc: Service, namespace: string, name: string, subsets: unknown[]) => {
    const metadata = { name, labels: endpointsLabels(svc), ownerReferences: ownerReferences(svc) };
    const current = await client.get(endpointsPath(namespace, name)).catch(ignoreNotFound);
    if (!current) {
      remember(await client.create(endpointsPath(namespace), { apiVersion: 'v1', kind: 'Endpoints', metadata, subsets }));
      return;
    }
    const meta = current.metadata ?? {};
    if (same([meta.labels ?? {}, meta.ownerReferences ?? [], current.subsets ?? []], [metadata.labels, metadata.ownerReferences, subsets])) return;
    remember(await client.update(endpointsPath(namespace, name), { ...current, metadata: { ...meta, ...metadata }, subsets }));
  };

  const syncSlices = async (svc: Service, namespace: string, name: string, desired: SliceContent[]) => {
    const metadata = { labels: sliceLabels(svc), ownerReferences: ownerReferences(svc) };
    // Read, not the cache: a slice created a moment ago must be found, or it would be created twice.
    const existing = (await client.list(slicesPath(namespace), { labelSelector: sliceSelector(name) })).items;
    const content = (s: KubeObject) => [s.metadata?.labels ?? {}, s.metadata?.ownerReferences ?? [], s.addressType, s.ports ?? [], s.endpoints ?? []];
    const wanted = (d: SliceContent) => [metadata.labels, metadata.ownerReferences, 'IPv4', d.ports, d.endpoints];
    // Keep slices that are already right, reuse the rest (same ports first), create what is missing, delete the surplus.
    const pairs = new Map<SliceContent, KubeObject>();
    const unused = [...existing];
    const take = (d: SliceContent, match: (s: KubeObject) => boolean) => {
      const i = pairs.has(d) ? -1 : unused.findIndex(match);
      if (i >= 0) pairs.set(d, unused.splice(i, 1)[0]);
    };
    for (const d of desired) take(d, (s) => same(content(s), wanted(d)));
    for (const d of desired) take(d, (s) => same(s.ports ?? [], d.ports));
    for (const d of desired) take(d, () => true);
    for (const d of desired) {
      if (pairs.has(d)) continue;
      const slice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { generateName: `${name}-`, ...metadata }, addressType: 'IPv4' };
      remember(await client.create(slicesPath(namespace), { ...slice, endpoints: d.endpoints, ports: d.ports }));
    }
    for (const [d, s] of pairs) {
      if (same(content(s), wanted(d))) continue;
      const slice = { ...s, metadata: { ...s.metadata, ...metadata }, addressType: 'IPv4', endpoints: d.endpoints, ports: d.ports };
      remember(await client.update(slicesPath(namespace, s.metadata?.name), slice));
    }
    for (const s of unused) await client.delete(slicesPath(namespace, s.metadata?.name)).catch(ignoreNotFound);
  };

  /** A Service that is gone: drop what a sync still in flight may have written after its deletion. */
  const removeOrphans = async (namespace: string, name: string) => {
    const ep = await client.get(endpointsPath(namespace, name)).catch(ignoreNotFound);
    if (ep && ownedByAService(ep)) await client.delete(endpointsPath(namespace, name)).catch(ignoreNotFound);
    for (const s of (await client.list(slicesPath(namespace), { labelSelector: sliceSelector(name) })).items) {
      await client.delete(slicesPath(namespace, s.metadata?.name)).catch(ignoreNotFound);
    }
  };

  const keyOf = (o: KubeObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
  const enqueueSelecting = (pod: Pod) => {
    for (const svc of services.list((s) => s.metadata?.namespace === pod.metadata?.namespace)) {
      const selector = selectorOf(svc);
      if (selector && selects(selector, pod)) enqueue(keyOf(svc));
    }
  };
  services.on({ add: (s) => enqueue(keyOf(s)), update: (s) => enqueue(keyOf(s)), delete: (s) => enqueue(keyOf(s)) });
  pods.on({
    add: enqueueSelecting,
    update: (pod, old) => {
      if (podFingerprint(pod) === podFingerprint(old)) return;
      enqueueSelecting(pod);
      enqueueSelecting(old);
    },
    delete: enqueueSelecting,
  });
  const onOwned = (serviceName: (o: KubeObject) => string | undefined) => {
    const changed = (o: KubeObject) => {
      const svc = serviceName(o);
      if (svc && written.get(writtenKey(o)) !== o.metadata?.resourceVersion) enqueue(`${o.metadata?.namespace}/${svc}`);
    };
    const deleted = (o: KubeObject) => {
      written.delete(writtenKey(o));
      changed(o);
    };
    return { add: changed, update: changed, delete: deleted };
  };
  endpoints.on(onOwned((o) => o.metadata?.name));
  slices.on(onOwned((o) => o.metadata?.labels?.[SERVICE_NAME_LABEL]));

  // Nothing syncs before every cache is filled: a half-listed pod cache would empty endpoints.
  await Promise.all([services.start(), pods.start(), endpoints.start(), slices.start()]);
  ready = true;
  for (const svc of services.list()) enqueue(keyOf(svc));

  return {
    stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      for (const informer of [services, pods, endpoints, slices]) informer.stop();
    },
  };
}
