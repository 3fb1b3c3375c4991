// The cluster objects the control plane reads (Kubernetes and Istio kinds, only the
// fields it uses) and the small rules Istio applies to them: host names, protocol from
// a port's name, durations, label selection, workload identity.

import type { KubeObject } from '../client/index.js';
import type { Protocol, WorkloadMeta } from '../proxy/config.js';

export const DOMAIN_SUFFIX = 'svc.cluster.local';
export const TRUST_DOMAIN = 'cluster.local';
/** Where mesh-wide Istio config lives (MeshConfig, root-namespace Sidecar and DestinationRules). */
export const ROOT_NAMESPACE = 'istio-system';
/** The injected sidecar's container: its ports are the proxy's own, never the workload's. */
export const PROXY_CONTAINER = 'istio-proxy';

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  appProtocol?: string;
}
export interface Service extends KubeObject {
  spec?: { selector?: Record<string, string>; ports?: ServicePort[]; type?: string; clusterIP?: string; externalName?: string };
}
export interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
  nodeName?: string;
}
export interface EndpointSlice extends KubeObject {
  addressType?: string;
  endpoints?: SliceEndpoint[];
  ports?: Array<{ name?: string; port?: number; protocol?: string; appProtocol?: string }>;
}
export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}
export interface Pod extends KubeObject {
  spec?: { containers?: Array<{ name: string; ports?: ContainerPort[] }>; serviceAccountName?: string; nodeName?: string };
  status?: { podIP?: string; phase?: string };
}

/** Istio's StringMatch: exactly one of these (an empty one means "present"). */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}
export interface HttpMatchRequest {
  name?: string;
  uri?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  scheme?: StringMatch;
  headers?: Record<string, StringMatch>;
  port?: number;
  gateways?: string[];
}
export interface Destination {
  host: string;
  subset?: string;
  port?: { number?: number };
}
export interface HttpRoute {
  name?: string;
  match?: HttpMatchRequest[];
  route?: Array<{ destination: Destination; weight?: number; headers?: HeaderOperations }>;
  redirect?: { uri?: string; authority?: string; redirectCode?: number };
  directResponse?: { status: number; body?: { string?: string; bytes?: string } };
  rewrite?: { uri?: string; authority?: string };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string };
  fault?: {
    delay?: { fixedDelay?: string; percentage?: { value?: number }; percent?: number };
    abort?: { httpStatus?: number; percentage?: { value?: number } };
  };
  headers?: HeaderOperations;
}
export interface HeaderOperations {
  request?: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] };
  response?: { set?: Record<string, string>; add?: Record<string, string>; remove?: string[] };
}
export interface TcpRoute {
  match?: Array<{ port?: number; destinationSubnets?: string[] }>;
  route?: Array<{ destination: Destination; weight?: number }>;
}
export interface VirtualService extends KubeObject {
  spec?: { hosts?: string[]; gateways?: string[]; http?: HttpRoute[]; tcp?: TcpRoute[]; exportTo?: string[] };
}
export interface TrafficPolicy {
  loadBalancer?: { simple?: string };
  connectionPool?: { tcp?: { maxConnections?: number; connectTimeout?: string }; http?: { maxRequestsPerConnection?: number } };
  outlierDetection?: { consecutive5xxErrors?: number; consecutiveGatewayErrors?: number; consecutiveErrors?: number; baseEjectionTime?: string };
  portLevelSettings?: Array<TrafficPolicy & { port?: { number?: number } }>;
}
export interface DestinationRule extends KubeObject {
  spec?: {
    host?: string;
    trafficPolicy?: TrafficPolicy;
    subsets?: Array<{ name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicy }>;
    exportTo?: string[];
  };
}
export interface ServiceEntry extends KubeObject {
  spec?: {
    hosts?: string[];
    addresses?: string[];
    ports?: Array<{ number: number; protocol?: string; name?: string; targetPort?: number }>;
    location?: string;
    resolution?: string;
    endpoints?: Array<{ address?: string; ports?: Record<string, number>; labels?: Record<string, string>; weight?: number }>;
    workloadSelector?: { labels?: Record<string, string> };
    exportTo?: string[];
  };
}
export interface SidecarResource extends KubeObject {
  spec?: {
    workloadSelector?: { labels?: Record<string, string> };
    egress?: Array<{ hosts?: string[]; port?: { number?: number } }>;
    outboundTrafficPolicy?: { mode?: string };
  };
}

export type OutboundMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';
export interface MeshConfig {
  outboundTrafficPolicy: { mode: OutboundMode };
  /** connectTimeout of every cluster unless a DestinationRule says otherwise (Istio's default: 10s). */
  connectTimeoutMs: number;
}
export const DEFAULT_MESH_CONFIG: MeshConfig = { outboundTrafficPolicy: { mode: 'ALLOW_ANY' }, connectTimeoutMs: 10_000 };

export const serviceHost = (name: string, namespace: string) => `${name}.${namespace}.${DOMAIN_SUFFIX}`;

/** Istio's ResolveShortnameToFQDN: a name without dots is a Service in the config's namespace; anything else is taken as written. */
export function resolveHost(host: string, namespace: string): string {
  if (host === '*' || host.includes('.')) return host;
  return serviceHost(host, namespace);
}

/** A host pattern ("*", "*.example.com" or a name) against a service's host. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

export const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

/** Config visible from a namespace, per its exportTo ("*" or absent: everywhere; ".": its own namespace). */
export function exportedTo(obj: { metadata?: { namespace?: string }; spec?: { exportTo?: string[] } }, namespace: string): boolean {
  const exportTo = obj.spec?.exportTo;
  if (!exportTo || exportTo.length === 0 || exportTo.includes('*')) return true;
  return exportTo.some((e) => (e === '.' ? obj.metadata?.namespace === namespace : e === namespace));
}

const HTTP_PROTOCOLS = new Set(['http', 'http2', 'grpc', 'grpc-web', 'h2c']);
const TCP_PROTOCOLS = new Set(['tcp', 'tls', 'https', 'mongo', 'mysql', 'redis', 'thrift', 'kafka']);

function protocolNamed(name: string | undefined): Protocol | undefined {
  const p = name?.toLowerCase();
  if (!p) return undefined;
  if (HTTP_PROTOCOLS.has(p) || p === 'kubernetes.io/h2c') return 'http';
  if (TCP_PROTOCOLS.has(p)) return 'tcp';
  return undefined;
}

/**
 * A Kubernetes service port's protocol as Istio selects it: appProtocol, else the port
 * name's prefix before "-" (http, http2, grpc, tcp, ...), else auto-detection.
 * UDP ports are not proxied (undefined).
 */
export function servicePortProtocol(p: { name?: string; appProtocol?: string; protocol?: string }): Protocol | undefined {
  if ((p.protocol ?? 'TCP').toUpperCase() === 'UDP') return undefined;
  return protocolNamed(p.appProtocol) ?? protocolNamed(p.name?.split('-')[0]) ?? 'auto';
}

/** A ServiceEntry port's protocol (HTTP, TCP, GRPC, ...), else from its name. */
export function serviceEntryPortProtocol(p: { protocol?: string; name?: string }): Protocol | undefined {
  if (p.protocol?.toUpperCase() === 'UDP') return undefined;
  return protocolNamed(p.protocol) ?? protocolNamed(p.name?.split('-')[0]) ?? 'auto';
}

/** A protobuf Duration as Istio's YAML writes it ("5s", "1.5s", "250ms", "1m30s"); undefined when unreadable. */
export function parseDurationMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]];
    matched = re.lastIndex;
  }
  return matched === text.length && matched > 0 ? Math.round(total) : undefined;
}

/** The workload a pod belongs to: its controller's name (a launcher pod's VMI; a ReplicaSet's Deployment), else the pod. */
export function workloadName(pod: Pod): string {
  const owner = (pod.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
  const name = typeof owner?.name === 'string' ? owner.name : undefined;
  if (!name) return pod.metadata?.name ?? '';
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner?.kind === 'ReplicaSet' && hash && name.endsWith(`-${hash}`)) return name.slice(0, -(hash.length + 1));
  return name;
}

/** Who a pod is, as Istio's peer metadata and the standard metrics name it. */
export function workloadMeta(pod: Pod, clusterId: string): WorkloadMeta {
  const labels = pod.metadata?.labels ?? {};
  const namespace = pod.metadata?.namespace ?? 'default';
  const workload = workloadName(pod);
  const serviceAccount = pod.spec?.serviceAccountName || 'default';
  return {
    workload,
    namespace,
    canonicalService: labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? workload,
    canonicalRevision: labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest',
    app: labels.app ?? '',
    version: labels.version ?? '',
    serviceAccount,
    principal: `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`,
    cluster: clusterId,
    podName: pod.metadata?.name ?? '',
    ip: pod.status?.podIP ?? '',
  };
}

/** Creation order, then name: which of two conflicting configs wins (the older, as in Istio). */
export function byAge(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata?.creationTimestamp ?? '';
  const tb = b.metadata?.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = `${a.metadata?.namespace}/${a.metadata?.name}`;
  const nb = `${b.metadata?.namespace}/${b.metadata?.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}
