// One push's view of the mesh, indexed once and shared by every proxy's generation
// (Istio's PushContext): services from Kubernetes and ServiceEntries, their endpoints
// with the workloads behind them, and the Istio config each host resolves to.

import type { KubeObject } from '../client/index.js';
import type { LbEndpoint, Protocol, ServiceRef } from '../proxy/config.js';
import {
  byAge,
  type DestinationRule,
  type EndpointSlice,
  exportedTo,
  hostMatches,
  type MeshConfig,
  type OutboundMode,
  type Pod,
  ROOT_NAMESPACE,
  resolveHost,
  type Service,
  type ServiceEntry,
  type SidecarResource,
  selects,
  serviceEntryPortProtocol,
  serviceHost,
  servicePortProtocol,
  type VirtualService,
  workloadMeta,
} from './model.js';

/** Everything the control plane watches, as plain lists (what the informers hold). */
export interface MeshSnapshot {
  services: Service[];
  endpointSlices: EndpointSlice[];
  pods: Pod[];
  namespaces: KubeObject[];
  virtualServices: VirtualService[];
  destinationRules: DestinationRule[];
  serviceEntries: ServiceEntry[];
  sidecars: SidecarResource[];
  meshConfig: MeshConfig;
}

export interface ServicePortModel {
  name: string;
  port: number;
  protocol: Protocol;
  /** Where the workload listens: a Service's targetPort (number or container port name), a ServiceEntry's targetPort. */
  targetPort?: number | string;
}

/** A host the mesh routes to: a Kubernetes Service or one host of a ServiceEntry. */
export interface ServiceModel {
  /** istio-vmi-svc.default.svc.cluster.local, or the ServiceEntry's host */
  host: string;
  /** The Service's name (a ServiceEntry's host). */
  name: string;
  namespace: string;
  origin: 'Kubernetes' | 'ServiceEntry';
  /** Cluster IP or ServiceEntry addresses; empty for headless services and address-less entries. */
  addresses: string[];
  ports: ServicePortModel[];
  /** EDS: the control plane lists the endpoints; ORIGINAL_DST: the connection's own destination (headless, resolution NONE). */
  discovery: 'EDS' | 'ORIGINAL_DST';
  selector?: Record<string, string>;
  ref: ServiceRef;
  createdAt: string;
}

/** An endpoint with the labels DestinationRule subsets select on. */
export interface IndexedEndpoint {
  endpoint: LbEndpoint;
  labels: Record<string, string>;
}

/** What a group of proxies sees outbound: the same for every proxy in a namespace under the same Sidecar resource. */
export interface OutboundScope {
  /** The proxies' namespace (config lookups prefer it). */
  namespace: string;
  /** Sidecar outboundTrafficPolicy, else MeshConfig's. */
  mode: OutboundMode;
  /** The services the proxies may reach (all, unless a Sidecar's egress hosts narrow them). */
  services: ServiceModel[];
  /** Cache key of the scope. */
  key: string;
}

const endpointKey = (host: string, port: number) => `${host}|${port}`;

export interface PushContextOptions {
  version: string;
  clusterId: string;
  /** The previous push, when only endpoints changed: its generated clusters, listeners and routes are reused. */
  reuseConfigOf?: PushContext;
}

export class PushContext {
  readonly version: string;
  readonly clusterId: string;
  readonly meshConfig: MeshConfig;
  /** Every service, sorted by host (then namespace), so generated config has a stable order. */
  readonly services: ServiceModel[];
  readonly serviceByHost: Map<string, ServiceModel>;
  readonly #endpoints = new Map<string, IndexedEndpoint[]>();
  readonly #pods = new Map<string, Pod>();
  readonly #virtualServices: VirtualService[];
  readonly #destinationRules: DestinationRule[];
  readonly #sidecars: SidecarResource[];
  /** Generated config shared between proxies (outbound per scope, inbound per proxy); endpoints kept apart. */
  readonly configCache: Map<string, unknown>;
  readonly endpointCache = new Map<string, unknown>();

  constructor(snapshot: MeshSnapshot, opts: PushContextOptions) {
    this.version = opts.version;
    this.clusterId = opts.clusterId;
    this.meshConfig = snapshot.meshConfig;
    this.configCache = opts.reuseConfigOf?.configCache ?? new Map();
    for (const pod of snapshot.pods) this.#pods.set(`${pod.metadata?.namespace}/${pod.metadata?.name}`, pod);
    const services = [...kubernetesServices(snapshot.services), ...serviceEntryServices(snapshot.serviceEntries)];
    services.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
    // One service per host: a Kubernetes Service wins over a ServiceEntry, then the older (Istio's rule).
    const byHost = new Map<string, ServiceModel>();
    for (const s of services) {
      const prev = byHost.get(s.host);
      if (!prev || (prev.origin === 'ServiceEntry' && s.origin === 'Kubernetes') || (prev.origin === s.origin && s.createdAt < prev.createdAt))
        byHost.set(s.host, s);
    }
    this.services = services.filter((s) => byHost.get(s.host) === s);
    this.serviceByHost = byHost;
    this.#indexSliceEndpoints(snapshot.endpointSlices);
    this.#indexServiceEntryEndpoints(snapshot.serviceEntries);
    this.#virtualServices = [...snapshot.virtualServices].sort(byAge);
    this.#destinationRules = [...snapshot.destinationRules].sort(byAge);
    this.#sidecars = [...snapshot.sidecars].sort(byAge);
  }

  pod(namespace: string, name: string): Pod | undefined {
    return this.#pods.get(`${namespace}/${name}`);
  }

  endpoints(host: string, port: number): IndexedEndpoint[] {
    return this.#endpoints.get(endpointKey(host, port)) ?? [];
  }

  /** The DestinationRule for a host as seen from a namespace: exact host over wildcard; the proxy's namespace, the service's, the root, then others. */
  destinationRule(fromNamespace: string, host: string): DestinationRule | undefined {
    const svcNamespace = this.serviceByHost.get(host)?.namespace;
    const rank = (dr: DestinationRule) => {
      const ns = dr.metadata?.namespace;
      return ns === fromNamespace ? 0 : ns === svcNamespace ? 1 : ns === ROOT_NAMESPACE ? 2 : 3;
    };
    let best: { dr: DestinationRule; score: number } | undefined;
    for (const dr of this.#destinationRules) {
      if (!dr.spec?.host || !exportedTo(dr, fromNamespace)) continue;
      const pattern = resolveHost(dr.spec.host, dr.metadata?.namespace ?? 'default');
      if (!hostMatches(pattern, host)) continue;
      const score = (pattern === host ? 0 : 10) + rank(dr);
      if (!best || score < best.score) best = { dr, score };
    }
    return best?.dr;
  }

  /** The VirtualService that routes a host for sidecars in a namespace (the oldest; an exact host beats a wildcard). */
  virtualService(fromNamespace: string, host: string): VirtualService | undefined {
    let wildcard: VirtualService | undefined;
    for (const vs of this.#virtualServices) {
      const gateways = vs.spec?.gateways;
      if (gateways && gateways.length > 0 && !gateways.includes('mesh')) continue;
      if (!exportedTo(vs, fromNamespace)) continue;
      for (const h of vs.spec?.hosts ?? []) {
        const pattern = resolveHost(h, vs.metadata?.namespace ?? 'default');
        if (pattern === host) return vs;
        if (!wildcard && hostMatches(pattern, host)) wildcard = vs;
      }
    }
    return wildcard;
  }

  /** The Sidecar resource that applies to a workload: one selecting it, else its namespace's default, else the root namespace's. */
  sidecar(namespace: string, labels: Record<string, string> | undefined): SidecarResource | undefined {
    const inNs = this.#sidecars.filter((s) => s.metadata?.namespace === namespace);
    return (
      inNs.find((s) => s.spec?.workloadSelector?.labels && labels && selects(s.spec.workloadSelector.labels, labels)) ??
      inNs.find((s) => !s.spec?.workloadSelector) ??
      this.#sidecars.find((s) => s.metadata?.namespace === ROOT_NAMESPACE && !s.spec?.workloadSelector)
    );
  }

  /** Memoizes a generated value for this push (or, for config, across endpoint-only pushes). */
  cached<T>(cache: Map<string, unknown>, key: string, make: () => T): T {
    let v = cache.get(key) as T | undefined;
    if (v === undefined) {
      v = make();
      cache.set(key, v);
    }
    return v;
  }

  #add(host: string, port: number, e: IndexedEndpoint): void {
    const key = endpointKey(host, port);
    const list = this.#endpoints.get(key);
    if (list) list.push(e);
    else this.#endpoints.set(key, [e]);
  }

  #indexSliceEndpoints(slices: EndpointSlice[]): void {
    const sorted = [...slices].sort(byAge);
    const seen = new Set<string>();
    for (const slice of sorted) {
      if (slice.addressType && slice.addressType !== 'IPv4') continue;
      const namespace = slice.metadata?.namespace ?? 'default';
      const svcName = slice.metadata?.labels?.['kubernetes.io/service-name'];
      if (!svcName) continue;
      const svc = this.serviceByHost.get(serviceHost(svcName, namespace));
      if (svc?.origin !== 'Kubernetes') continue;
      for (const ep of slice.endpoints ?? []) {
        const ref = ep.targetRef;
        const pod = ref?.kind === 'Pod' && ref.name ? this.pod(ref.namespace ?? namespace, ref.name) : undefined;
        const c = ep.conditions ?? {};
        const healthStatus = c.terminating === true ? 'DRAINING' : c.ready === false ? 'UNHEALTHY' : 'HEALTHY';
        for (const sp of svc.ports) {
          const port = (slice.ports ?? []).find((p) => (p.name ?? '') === sp.name)?.port;
          if (port === undefined) continue;
          for (const address of ep.addresses ?? []) {
            // The same address can sit in two slices while one is being rewritten: list it once.
            const id = `${svc.host}|${sp.port}|${address}:${port}`;
            if (seen.has(id)) continue;
            seen.add(id);
            const endpoint: LbEndpoint = { address, port, healthStatus, ...(pod ? { workload: workloadMeta(pod, this.clusterId) } : {}) };
            this.#add(svc.host, sp.port, { endpoint, labels: pod?.metadata?.labels ?? {} });
          }
        }
      }
    }
    for (const list of this.#endpoints.values()) list.sort(byAddress);
  }

  #indexServiceEntryEndpoints(entries: ServiceEntry[]): void {
    for (const se of entries) {
      const namespace = se.metadata?.namespace ?? 'default';
      const spec = se.spec ?? {};
      const resolution = (spec.resolution ?? 'NONE').toUpperCase();
      if (resolution === 'NONE') continue;
      for (const host of spec.hosts ?? []) {
        const svc = this.serviceByHost.get(host);
        if (svc?.origin !== 'ServiceEntry' || svc.namespace !== namespace) continue;
        for (const p of svc.ports) {
          const list: IndexedEndpoint[] = [];
          const defaultPort = typeof p.targetPort === 'number' ? p.targetPort : p.port;
          const targetOf = (ports?: Record<string, number>) => ports?.[p.name] ?? defaultPort;
          for (const e of spec.endpoints ?? []) {
            if (!e.address) continue;
            const endpoint: LbEndpoint = { address: e.address, port: targetOf(e.ports), healthStatus: 'HEALTHY', ...(e.weight ? { weight: e.weight } : {}) };
            list.push({ endpoint, labels: e.labels ?? {} });
          }
          if (spec.workloadSelector?.labels) {
            for (const pod of this.#pods.values()) {
              const ip = pod.status?.podIP;
              if (!ip || pod.metadata?.namespace !== namespace || !selects(spec.workloadSelector.labels, pod.metadata?.labels)) continue;
              const endpoint: LbEndpoint = { address: ip, port: targetOf(), healthStatus: 'HEALTHY', workload: workloadMeta(pod, this.clusterId) };
              list.push({ endpoint, labels: pod.metadata?.labels ?? {} });
            }
          }
          // DNS resolution without endpoints: the host itself, resolved by the proxy.
          if (list.length === 0 && resolution.startsWith('DNS'))
            list.push({ endpoint: { address: host, port: defaultPort, healthStatus: 'HEALTHY' }, labels: {} });
          for (const e of list.sort(byAddress)) this.#add(host, p.port, e);
        }
      }
    }
  }
}

const byAddress = (a: IndexedEndpoint, b: IndexedEndpoint) => {
  const ka = `${a.endpoint.address}:${a.endpoint.port}`;
  const kb = `${b.endpoint.address}:${b.endpoint.port}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

function kubernetesServices(services: Service[]): ServiceModel[] {
  const out: ServiceModel[] = [];
  for (const svc of services) {
    const name = svc.metadata?.name;
    const namespace = svc.metadata?.namespace ?? 'default';
    if (!name) continue;
    const spec = svc.spec ?? {};
    const host = serviceHost(name, namespace);
    const ports = (spec.ports ?? []).flatMap((p) => {
      const protocol = servicePortProtocol(p);
      return protocol ? [{ name: p.name ?? '', port: p.port, protocol, targetPort: p.targetPort ?? p.port }] : [];
    });
    const headless = spec.clusterIP === 'None';
    const clusterIP = spec.clusterIP && !headless ? [spec.clusterIP] : [];
    out.push({
      host,
      name,
      namespace,
      origin: 'Kubernetes',
      addresses: spec.type === 'ExternalName' ? [] : clusterIP,
      ports,
      discovery: headless ? 'ORIGINAL_DST' : 'EDS',
      selector: spec.selector,
      ref: { host, name, namespace },
      createdAt: svc.metadata?.creationTimestamp ?? '',
    });
  }
  return out;
}

function serviceEntryServices(entries: ServiceEntry[]): ServiceModel[] {
  const out: ServiceModel[] = [];
  for (const se of entries) {
    const namespace = se.metadata?.namespace ?? 'default';
    const spec = se.spec ?? {};
    const ports = (spec.ports ?? []).flatMap((p) => {
      const protocol = serviceEntryPortProtocol(p);
      return protocol ? [{ name: p.name ?? '', port: p.number, protocol, ...(p.targetPort ? { targetPort: p.targetPort } : {}) }] : [];
    });
    // Plain addresses only: a CIDR would need a listener per range, which proxies do not take.
    const addresses = (spec.addresses ?? []).filter((a) => !a.includes('/') || a.endsWith('/32')).map((a) => a.replace(/\/32$/, ''));
    const discovery = (spec.resolution ?? 'NONE').toUpperCase() === 'NONE' ? 'ORIGINAL_DST' : 'EDS';
    for (const host of spec.hosts ?? []) {
      out.push({
        host,
        name: host,
        namespace,
        origin: 'ServiceEntry',
        addresses,
        ports,
        discovery,
        ref: { host, name: host, namespace },
        createdAt: se.metadata?.creationTimestamp ?? '',
      });
    }
  }
  return out;
}
