// A workload's or service's request and TCP metrics over time, as Kiali's metrics tab
// charts them: one range query per metric (and per quantile), run concurrently.
// Units: counters are per-second rates (requests/s, connections/s, TCP bytes/s);
// request_duration_millis is milliseconds; request_size/response_size bytes;
// request_throughput/response_throughput are bits per second (HTTP body bytes/s × 8,
// the unit Kiali charts them in, kbit/s).

import type { MetricName, MetricsResponse, Series } from './api.js';
import type { PrometheusApi, PromSeries } from './prometheus-client.js';

export interface MetricsQuery {
  /** inbound: requests the workload received; outbound: requests it sent. */
  direction: 'inbound' | 'outbound';
  /** Whose sidecar's report: the source's or the destination's. */
  reporter: 'source' | 'destination';
  /** Seconds back from queryTime. */
  duration: number;
  /** Seconds between points. */
  step: number;
  /** Prometheus duration of each rate, e.g. "1m". */
  rateInterval: string;
  /** Histogram quantiles, e.g. ["0.5", "0.95", "0.99"]; "avg" is always added. */
  quantiles: string[];
  /** Labels to group by, e.g. ["response_code"] or ["source_workload"]; empty for one series per metric. */
  byLabels: string[];
  /** Unix seconds of the last point (default now). */
  queryTime?: number;
}

export interface MetricQuery {
  name: MetricName;
  stat?: string;
  promql: string;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RATE_INTERVAL = /^(\d+(ms|s|m|h|d|w|y))+$/;
const QUANTILE = /^(0(\.\d+)?|1(\.0+)?)$/;

/** Errors in the caller's input (the HTTP layer answers 400). */
export class MetricsQueryError extends Error {
  readonly kind = 'bad_query';
  readonly code = 'VM_ERR_TELEMETRY_BAD_METRICS_QUERY';
  readonly status = 400;
}

const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The PromQL of every metric for series selected by `filter` (label = value pairs), Kiali's shapes. */
export function metricsQueries(filter: Record<string, string>, q: Pick<MetricsQuery, 'rateInterval' | 'quantiles' | 'byLabels'>): MetricQuery[] {
  for (const l of q.byLabels) if (!LABEL_NAME.test(l)) throw new MetricsQueryError(`byLabels: "${l}" is not a label name`);
  for (const x of q.quantiles) if (!QUANTILE.test(x)) throw new MetricsQueryError(`quantiles: "${x}" is not a number between 0 and 1`);
  if (!RATE_INTERVAL.test(q.rateInterval)) throw new MetricsQueryError(`rateInterval: "${q.rateInterval}" is not a Prometheus duration such as 1m`);
  const sel = Object.entries(filter)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(',');
  const by = q.byLabels.length ? ` by (${q.byLabels.join(',')})` : '';
  const byLe = ` by (${['le', ...q.byLabels].join(',')})`;
  const ri = q.rateInterval;
  const rate = (metric: string, extra = '') => `sum(rate(${metric}{${sel}${extra}}[${ri}]))${by}`;
  const histogram = (name: MetricName, base: string): MetricQuery[] => [
    { name, stat: 'avg', promql: `${rate(`${base}_sum`)} / ${rate(`${base}_count`)}` },
    ...q.quantiles.map((x) => ({ name, stat: x, promql: `histogram_quantile(${x}, sum(rate(${base}_bucket{${sel}}[${ri}]))${byLe})` })),
  ];
  return [
    { name: 'request_count', promql: rate('istio_requests_total') },
    // No response code at all ("0": connect failures, resets) is an error as much as a 5xx.
    { name: 'request_error_count', promql: rate('istio_requests_total', ',response_code=~"[45][0-9]{2}|0"') },
    ...histogram('request_duration_millis', 'istio_request_duration_milliseconds'),
    ...histogram('request_size', 'istio_request_bytes'),
    ...histogram('response_size', 'istio_response_bytes'),
    { name: 'request_throughput', promql: `${rate('istio_request_bytes_sum')} * 8` },
    { name: 'response_throughput', promql: `${rate('istio_response_bytes_sum')} * 8` },
    { name: 'tcp_opened', promql: rate('istio_tcp_connections_opened_total') },
    { name: 'tcp_closed', promql: rate('istio_tcp_connections_closed_total') },
    { name: 'tcp_sent', promql: rate('istio_tcp_sent_bytes_total') },
    { name: 'tcp_received', promql: rate('istio_tcp_received_bytes_total') },
  ];
}

/** A range query's matrix as Series: the byLabels values, NaN points left out, series in label order. */
export function seriesFromMatrix(matrix: PromSeries[], byLabels: string[], stat?: string): Series[] {
  const out: Series[] = [];
  for (const s of matrix) {
    const datapoints: Array<[number, number]> = [];
    for (const [t, v] of s.values) {
      const n = Number(v);
      if (!Number.isNaN(n)) datapoints.push([t, n]);
    }
    if (datapoints.length === 0) continue;
    const labels = Object.fromEntries(byLabels.map((l) => [l, s.metric[l] ?? '']));
    out.push({ labels, ...(stat !== undefined ? { stat } : {}), datapoints });
  }
  const key = (s: Series) => JSON.stringify(byLabels.map((l) => s.labels[l]));
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

async function run(prom: PrometheusApi, filter: Record<string, string>, q: MetricsQuery): Promise<MetricsResponse> {
  if (!(q.duration > 0) || !(q.step > 0)) throw new MetricsQueryError('duration and step must be positive numbers of seconds');
  if (q.duration / q.step > 11_000) throw new MetricsQueryError(`duration/step gives ${Math.ceil(q.duration / q.step)} points; Prometheus allows 11000`);
  const end = q.queryTime ?? Math.floor(Date.now() / 1000);
  const start = end - q.duration;
  const queries = metricsQueries(filter, q);
  const matrices = await Promise.all(queries.map((m) => prom.queryRange(m.promql, start, end, q.step)));
  const out: MetricsResponse = {};
  queries.forEach((m, i) => {
    const list = out[m.name] ?? [];
    out[m.name] = list;
    list.push(...seriesFromMatrix(matrices[i], q.byLabels, m.stat));
  });
  return out;
}

/** Kiali's workload metrics: inbound selects the workload as destination, outbound as source. */
export function workloadMetrics(prom: PrometheusApi, q: MetricsQuery & { namespace: string; workload: string }): Promise<MetricsResponse> {
  const side = q.direction === 'inbound' ? 'destination' : 'source';
  return run(prom, { reporter: q.reporter, [`${side}_workload_namespace`]: q.namespace, [`${side}_workload`]: q.workload }, q);
}

/** Kiali's service metrics: requests to the service (inbound only). */
export function serviceMetrics(prom: PrometheusApi, q: Omit<MetricsQuery, 'direction'> & { namespace: string; service: string }): Promise<MetricsResponse> {
  return run(prom, { reporter: q.reporter, destination_service_namespace: q.namespace, destination_service_name: q.service }, { ...q, direction: 'inbound' });
}
