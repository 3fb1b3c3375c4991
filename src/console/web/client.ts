// Reads the console's JSON API (src/telemetry/api.ts). Every URL is relative to the page
// ('api/...'), so the console works behind any path prefix.
import type {
  GraphResponse,
  GraphType,
  IstioConfigItem,
  MetricsResponse,
  NamespaceInfo,
  ProxyStatusRow,
  ServiceListItem,
  StatusResponse,
  WorkloadDetails,
  WorkloadListItem,
} from '../../telemetry/api';

/** A failed API call, with what was asked and what the server said. */
export class ApiError extends Error {
  readonly url: string;
  readonly status?: number;
  readonly detail?: string;

  constructor(message: string, url: string, status?: number, detail?: string) {
    super(message);
    this.name = 'ApiError';
    this.url = url;
    this.status = status;
    this.detail = detail;
  }
}

async function request(url: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json, text/plain' } });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(`GET ${url} failed: ${(err as Error).message || 'network error'}`, url);
  }
  if (res.ok) return res;
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The body is optional; the status says enough.
  }
  let body: { error?: unknown; detail?: unknown } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = typeof body?.error === 'string' ? body.error : text.trim().slice(0, 300) || res.statusText;
  const detail = typeof body?.detail === 'string' ? body.detail : undefined;
  throw new ApiError(`GET ${url} failed (HTTP ${res.status}): ${error}`, url, res.status, detail);
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await request(url, signal);
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(`GET ${url} returned a body that is not JSON: ${text.slice(0, 120)}`, url, res.status);
  }
}

export async function getText(url: string, signal?: AbortSignal): Promise<string> {
  return (await request(url, signal)).text();
}

const enc = encodeURIComponent;

export interface GraphQuery {
  namespaces: string[];
  graphType: GraphType;
  duration: number;
  includeIdle: boolean;
}

export interface MetricsQuery {
  direction: 'inbound' | 'outbound';
  reporter: 'source' | 'destination';
  duration: number;
  step: number;
  byLabels?: string;
}

export const api = {
  status: (s?: AbortSignal) => getJson<StatusResponse>('api/status', s),
  namespaces: (s?: AbortSignal) => getJson<NamespaceInfo[]>('api/namespaces', s),
  graphUrl: (q: GraphQuery) =>
    `api/namespaces/graph?namespaces=${q.namespaces.map(enc).join(',')}&graphType=${q.graphType}&duration=${q.duration}s` +
    `&injectServiceNodes=true&includeIdle=${q.includeIdle}`,
  workloadGraphUrl: (ns: string, name: string, duration: number) =>
    `api/namespaces/${enc(ns)}/workloads/${enc(name)}/graph?duration=${duration}s&graphType=workload&injectServiceNodes=true`,
  // duration: the window health is rated over, in seconds.
  workloads: (ns: string, duration: number, s?: AbortSignal) => getJson<WorkloadListItem[]>(`api/namespaces/${enc(ns)}/workloads?duration=${duration}s`, s),
  workload: (ns: string, name: string, duration: number, s?: AbortSignal) =>
    getJson<WorkloadDetails>(`api/namespaces/${enc(ns)}/workloads/${enc(name)}?duration=${duration}s`, s),
  metricsUrl: (ns: string, name: string, q: MetricsQuery) =>
    `api/namespaces/${enc(ns)}/workloads/${enc(name)}/metrics?direction=${q.direction}&reporter=${q.reporter}` +
    `&duration=${q.duration}&step=${q.step}&rateInterval=1m&quantiles=0.5,0.95,0.99` +
    (q.byLabels ? `&byLabels=${enc(q.byLabels)}` : ''),
  metrics: (url: string, s?: AbortSignal) => getJson<MetricsResponse>(url, s),
  graph: (url: string, s?: AbortSignal) => getJson<GraphResponse>(url, s),
  services: (ns: string, duration: number, s?: AbortSignal) => getJson<ServiceListItem[]>(`api/namespaces/${enc(ns)}/services?duration=${duration}s`, s),
  istioConfig: (namespaces: string[], s?: AbortSignal) => getJson<IstioConfigItem[]>(`api/istio/config?namespaces=${namespaces.map(enc).join(',')}`, s),
  proxyStatus: (s?: AbortSignal) => getJson<ProxyStatusRow[]>('api/proxy-status', s),
  logs: (ns: string, pod: string, container: string, s?: AbortSignal) =>
    getText(`api/namespaces/${enc(ns)}/pods/${enc(pod)}/logs?container=${enc(container)}&tailLines=500`, s),
};

/** Runs one request per namespace; returns what succeeded and throws only when every one failed. */
export async function perNamespace<T>(namespaces: string[], load: (ns: string) => Promise<T[]>): Promise<{ items: T[]; errors: Error[] }> {
  const results = await Promise.allSettled(namespaces.map(load));
  const items: T[] = [];
  const errors: Error[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') items.push(...(Array.isArray(r.value) ? r.value : []));
    else errors.push(r.reason as Error);
  }
  if (errors.length > 0 && errors.length === namespaces.length) throw errors[0];
  return { items, errors };
}
