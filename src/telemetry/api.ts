// The console's JSON API: what the console server answers and the web console reads.
// Shapes follow Kiali's API (graph elements as Cytoscape data, metrics as labelled
// series), so scripts written against one read the other with few changes.
// Every endpoint is a GET under /api; errors are { error: string, detail?: string }
// with 4xx for bad input and 503 when a backend (Prometheus, the API server) fails.

/** GET /api/status */
export interface StatusResponse {
  version: string;
  prometheus: BackendState;
  kubernetes: BackendState;
  /** The mesh control plane's debug URL, when known. */
  controlPlane: BackendState;
}

export interface BackendState {
  url: string;
  ok: boolean;
  /** What failed, a whole sentence, e.g. "Prometheus at http://127.0.0.1:9090 is unreachable: connect ECONNREFUSED 127.0.0.1:9090". */
  error?: string;
}

export type GraphType = 'workload' | 'app' | 'versionedApp' | 'service';

/**
 * GET /api/namespaces/graph?namespaces=a,b&graphType=workload&duration=60s&queryTime=<unix s>
 *     &injectServiceNodes=true&includeIdle=false
 * GET /api/namespaces/{ns}/workloads/{name}/graph?... (the workload's own traffic: a node graph)
 * duration: Prometheus duration (30s, 1m, 10m, 1h...), the rate window; queryTime: default now.
 */
export interface GraphResponse {
  timestamp: number; // unix seconds the rates were evaluated at
  duration: number; // seconds
  graphType: GraphType;
  namespaces: string[];
  elements: { nodes: Array<{ data: NodeData }>; edges: Array<{ data: EdgeData }> };
}

export type NodeType = 'workload' | 'app' | 'service' | 'unknown' | 'box';
export type Health = 'healthy' | 'degraded' | 'failure' | 'na';

export interface NodeData {
  id: string;
  /** Box nodes (namespace boxes, app boxes in versionedApp graphs) are parents of other nodes. */
  parent?: string;
  nodeType: NodeType;
  /** For box nodes: 'namespace' | 'app'. */
  isBox?: 'namespace' | 'app';
  namespace: string;
  workload?: string;
  app?: string;
  version?: string;
  service?: string;
  /** Human label to draw ("istio-vmi", "PassthroughCluster", "unknown"). */
  label: string;
  /** The node's inbound traffic summed over its edges (outbound for a root node, which has no inbound). */
  traffic?: { http?: HttpRates; tcp?: TcpRates };
  health: Health;
  /** Why the health is what it is, e.g. "5xx 12.5% >= 10%". */
  healthReason?: string;
  /** Known to the API server but without traffic in the window (only with includeIdle=true). */
  isIdle?: boolean;
  /** No incoming edges (a traffic source). */
  isRoot?: boolean;
  /** In a namespace not asked for. */
  isOutside?: boolean;
  /** PassthroughCluster or BlackHoleCluster. */
  isPassthrough?: boolean;
  /** The workload's pods run a sidecar (false: the "missing sidecar" badge). Undefined when unknown. */
  hasSidecar?: boolean;
}

export interface HttpRates {
  /** Requests per second. */
  rate: number;
  /** Per second, responses with 3xx/4xx/5xx or no response code ("-", e.g. connect failures counted as 5xx). */
  rate3xx: number;
  rate4xx: number;
  rate5xx: number;
  /** 0..100 */
  percentErr: number;
}

export interface TcpRates {
  /** Bytes per second, sent plus received. */
  bytesPerSec: number;
}

export interface EdgeData {
  id: string;
  source: string;
  target: string;
  protocol: 'http' | 'tcp';
  /** HTTP only. */
  http?: HttpRates;
  /** Rate per response code, then per response flags: { "200": { "-": 0.98 }, "503": { "UF": 0.02 } }. */
  responses?: Record<string, Record<string, number>>;
  /** p95 request duration in milliseconds (HTTP), when known. */
  responseTimeP95?: number;
  /** Request plus response bytes per second (HTTP), or sent plus received (TCP). */
  throughput?: number;
  /** TCP only. */
  tcp?: TcpRates;
  /** 0..100: share of the edge's traffic that the destination saw with mutual TLS. */
  mtlsPercent: number;
  health: Health;
}

/** Metric names of the metrics endpoint, as Kiali names them. */
export type MetricName =
  | 'request_count'
  | 'request_error_count'
  | 'request_duration_millis'
  | 'request_size'
  | 'response_size'
  | 'request_throughput'
  | 'response_throughput'
  | 'tcp_opened'
  | 'tcp_closed'
  | 'tcp_sent'
  | 'tcp_received';

/**
 * GET /api/namespaces/{ns}/workloads/{name}/metrics?direction=inbound|outbound&reporter=source|destination
 *     &duration=600&step=15&rateInterval=1m&quantiles=0.5,0.95,0.99&byLabels=response_code
 * GET /api/namespaces/{ns}/services/{name}/metrics?... (inbound only)
 * duration and step in seconds. Counters are per-second rates: ops, bytes/s for TCP, and bit/s for
 * request_throughput/response_throughput (as Kiali charts them); histograms give one series per
 * quantile (stat "quantile", e.g. "0.95") plus "avg".
 */
export type MetricsResponse = Partial<Record<MetricName, Series[]>>;

export interface Series {
  /** The byLabels values of this series, e.g. { response_code: "200" }; empty when not grouped. */
  labels: Record<string, string>;
  /** For histograms: "avg" or a quantile such as "0.95". */
  stat?: string;
  /** [unix seconds, value]; NaN values are left out. */
  datapoints: Array<[number, number]>;
}

/** GET /api/namespaces -> NamespaceInfo[] */
export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
  /** istio-injection=enabled or istio.io/rev set. */
  injection: boolean;
}

/** GET /api/namespaces/{ns}/workloads -> WorkloadListItem[] (ns may be "all") */
export interface WorkloadListItem {
  name: string;
  namespace: string;
  /** What owns the pods: VirtualMachineInstance, Deployment, ReplicaSet..., or Pod. */
  kind: string;
  labels: Record<string, string>;
  app?: string;
  version?: string;
  /** Every pod runs istio-proxy. */
  istioSidecar: boolean;
  podCount: number;
  /** Ready pods / pods. */
  readyPods: number;
  health: Health;
  healthReason?: string;
}

/** GET /api/namespaces/{ns}/workloads/{name} */
export interface WorkloadDetails extends WorkloadListItem {
  pods: PodInfo[];
  /** The Services whose selector matches the workload's pods. */
  services: string[];
}

export interface PodInfo {
  name: string;
  phase: string;
  /** kubectl's READY and STATUS columns, e.g. "3/3", "Running". */
  ready: string;
  status: string;
  podIP?: string;
  containers: string[];
  initContainers: string[];
  createdAt: string;
  /** The sidecar's sync state with the control plane, from proxy status. */
  proxyStatus?: ProxyStatusRow;
}

/** GET /api/namespaces/{ns}/services -> ServiceListItem[] (ns may be "all") */
export interface ServiceListItem {
  name: string;
  namespace: string;
  type: string;
  clusterIP?: string;
  ports: string; // kubectl's PORT(S) column
  selector: Record<string, string>;
  /** Ready endpoints. */
  endpoints: number;
  health: Health;
  validations: Validation[];
}

/** GET /api/istio/config?namespaces=a,b -> IstioConfigItem[] */
export interface IstioConfigItem {
  kind: string; // VirtualService, DestinationRule, ServiceEntry, Sidecar, PeerAuthentication, AuthorizationPolicy, Gateway
  name: string;
  namespace: string;
  createdAt: string;
  validations: Validation[];
}

/** Kiali-style validation messages (code, e.g. "KIA1101"). */
export interface Validation {
  severity: 'error' | 'warning' | 'info';
  code: string;
  message: string;
  /** Where in the object, e.g. "spec/http[0]/route[0]/destination/host". */
  path?: string;
}

/** GET /api/proxy-status -> ProxyStatusRow[]; istioctl proxy-status's columns. */
export interface ProxyStatusRow {
  name: string; // pod.namespace
  cluster: string;
  cds: string; // SYNCED, NOT SENT, STALE, NACKED...
  lds: string;
  eds: string;
  rds: string;
  ecds: string;
  istiod: string;
  version: string;
}

/**
 * GET /api/namespaces/{ns}/pods/{pod}/logs?container=compute|istio-proxy&tailLines=500 -> text/plain.
 * The compute container's log is the VM's serial console.
 */
export type LogsResponse = string;
