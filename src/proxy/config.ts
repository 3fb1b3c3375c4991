// What a sidecar is configured with: the resources the control plane pushes, shaped
// after Envoy's xDS resources (Cluster, Listener, RouteConfiguration,
// ClusterLoadAssignment) and named as Istio names them, so `virtmesh proxy-config`
// reads like `istioctl proxy-config`. Plain JSON: no protobuf, no Any.

/** xDS type URLs, one per resource type (ECDS is sent empty: there are no extensions). */
export const TypeUrl = {
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  extension: 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig',
} as const;
export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** Who a workload is, as Istio's peer metadata carries it (and as the metrics label it). */
export interface WorkloadMeta {
  /** e.g. istio-vmi (the controlling owner's name: the VMI for a virt-launcher pod). */
  workload: string;
  namespace: string;
  /** app.kubernetes.io/name, app, or the workload name (Istio's canonical service). */
  canonicalService: string;
  /** version label, or "latest". */
  canonicalRevision: string;
  /** app label, or "" ("unknown" in metrics). */
  app: string;
  version: string;
  serviceAccount: string;
  /** spiffe://cluster.local/ns/<ns>/sa/<sa> */
  principal: string;
  /** Kubernetes (the cluster id) */
  cluster: string;
  podName: string;
  ip: string;
}

/** The service a cluster leads to, for the destination_service* labels. */
export interface ServiceRef {
  /** istio-vmi-svc.default.svc.cluster.local */
  host: string;
  name: string;
  namespace: string;
}

export type Protocol = 'http' | 'tcp' | 'auto';

export interface Cluster {
  /** outbound|8080||istio-vmi-svc.default.svc.cluster.local, outbound|8080|v1|host, inbound|8080||, PassthroughCluster, BlackHoleCluster, InboundPassthroughCluster */
  name: string;
  /** EDS: endpoints from ClusterLoadAssignment; ORIGINAL_DST: the connection's original destination; STATIC: none (BlackHole). */
  type: 'EDS' | 'ORIGINAL_DST' | 'STATIC';
  lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';
  connectTimeoutMs: number;
  /** Outbound clusters: the service; inbound clusters: the service(s') first match, if any. */
  service?: ServiceRef;
  /** Inbound clusters: where the workload listens (127.0.0.1: a VM's forwarded port). */
  upstreamAddress?: string;
  upstreamPort?: number;
  /** DestinationRule connection pool / outlier settings that apply (optional). */
  maxConnections?: number;
  maxRequestsPerConnection?: number;
  /** Outlier detection: eject an endpoint after this many consecutive 5xx / connect failures. */
  consecutiveErrors?: number;
  baseEjectionTimeMs?: number;
}

export interface LbEndpoint {
  address: string;
  port: number;
  /** HEALTHY unless the endpoint is not ready (EndpointSlice conditions.ready=false). */
  healthStatus: 'HEALTHY' | 'UNHEALTHY' | 'DRAINING';
  weight?: number;
  /** The workload behind the endpoint (for destination_* labels when the peer does not say). */
  workload?: WorkloadMeta;
}

export interface ClusterLoadAssignment {
  clusterName: string;
  endpoints: LbEndpoint[];
}

export interface FilterChain {
  name?: string;
  /** Which traffic the chain takes: by destination port (inbound) and by detected protocol. */
  match?: { destinationPort?: number; transportProtocol?: 'raw_buffer' | 'tls'; applicationProtocols?: string[] };
  /** http: HTTP connection manager with routes from RDS; tcp: TCP proxy to a cluster. */
  filter: { type: 'http'; routeConfigName: string } | { type: 'tcp'; cluster: string };
}

export interface Listener {
  /** virtualOutbound, virtualInbound, 10.96.0.12_8080, 0.0.0.0_8080 */
  name: string;
  address: string;
  port: number;
  trafficDirection: 'INBOUND' | 'OUTBOUND';
  /** virtualOutbound/virtualInbound: hand the connection to the listener matching its original destination. */
  useOriginalDst?: boolean;
  /** Protocol sniffing (Istio's auto-detection) when there is both an http and a tcp chain. */
  protocol: Protocol;
  filterChains: FilterChain[];
  /** Used when no chain matches (PassthroughCluster outbound, InboundPassthroughCluster inbound). */
  defaultFilterChain?: FilterChain;
}

export interface HeaderMatch {
  name: string;
  exact?: string;
  prefix?: string;
  /** RE2 syntax, as Envoy and Istio take it; a proxy that cannot compile it rejects the config. */
  regex?: string;
  present?: boolean;
}

export interface RouteMatch {
  prefix?: string;
  path?: string;
  /** RE2 syntax (see HeaderMatch.regex). */
  safeRegex?: string;
  headers?: HeaderMatch[];
}

export interface WeightedCluster {
  name: string;
  weight: number;
}

export interface RouteAction {
  cluster?: string;
  weightedClusters?: WeightedCluster[];
  timeoutMs?: number;
  retryPolicy?: { retryOn: string; numRetries: number; perTryTimeoutMs?: number };
  prefixRewrite?: string;
  hostRewrite?: string;
}

export interface Route {
  name?: string;
  match: RouteMatch;
  route?: RouteAction;
  directResponse?: { status: number; body?: string };
  /** Istio fault injection: abort with a status, or delay, for a percentage of requests. */
  fault?: { abort?: { httpStatus: number; percentage: number }; delay?: { fixedDelayMs: number; percentage: number } };
  requestHeadersToAdd?: Array<{ key: string; value: string }>;
  responseHeadersToAdd?: Array<{ key: string; value: string }>;
}

export interface VirtualHost {
  /** istio-vmi-svc.default.svc.cluster.local:8080, allow_any, inbound|http|8080 */
  name: string;
  /** Host header values this host answers: the service's short and long names, its cluster IP, with and without :port; "*" for the catch-all. */
  domains: string[];
  routes: Route[];
}

export interface RouteConfiguration {
  /** "8080" (outbound HTTP port), "istio-vmi-svc.default.svc.cluster.local:8080" (sniffed port), "inbound|8080||" */
  name: string;
  virtualHosts: VirtualHost[];
}

/** What a proxy knows about itself, from its bootstrap (the injected container's environment). */
export interface ProxyNode {
  /** sidecar~10.244.0.5~virt-launcher-istio-vmi-abcde.default~default.svc.cluster.local */
  id: string;
  /** Kubernetes */
  cluster: string;
  metadata: WorkloadMeta & {
    /** The proxy's version, shown by proxy-status. */
    istioVersion: string;
    /** Ports of the workload's containers (ISTIO_META_POD_PORTS). */
    podPorts?: number[];
    /** The pod's labels (ISTIO_METAJSON_LABELS), for workload selectors (Sidecar, DestinationRule subsets). */
    labels?: Record<string, string>;
    /** ISTIO_META_MESH_ID. */
    meshId?: string;
  };
}

export interface ProxyConfigSet {
  clusters: Cluster[];
  listeners: Listener[];
  routes: RouteConfiguration[];
  endpoints: ClusterLoadAssignment[];
}
