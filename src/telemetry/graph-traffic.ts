// The graph's input: Istio's standard metrics per workload pair, fetched with one
// query per metric, and the choice of which sidecar's report counts for each pair.
//
// Every request between two meshed workloads is reported twice, by the source's sidecar
// (reporter="source") and by the destination's (reporter="destination"). The rule, per
// pair of source and destination workload:
//   - the destination's report counts whenever a destination sidecar reported the pair:
//     it saw what arrived, with the mTLS it arrived with;
//   - the source's report counts for pairs no destination sidecar reported: destination
//     workload "unknown" (PassthroughCluster, BlackHoleCluster), destinations without a
//     sidecar, and destinations outside the namespaces asked for (not fetched);
//   - plus, from the source's report, requests that never reached the destination
//     (flags UH, UF, UO, NR, FI: no endpoint, connect failure, overflow, no route,
//     aborted by fault injection), which the destination cannot have counted.
// TCP follows the same rule, with one more step: plaintext TCP carries no peer
// metadata, so a destination sidecar reports every TCP client as source "unknown".
// Bytes a destination saw from "unknown" are therefore reduced by what meshed sources
// reported sending to that same workload; only the remainder is drawn from "unknown".

import { isKnown, nsRegex } from './health.js';
import { type PromSample, prometheusDuration } from './prometheus-client.js';

/** The labels every graph query groups by: the two workloads and the service between them. */
export const PAIR_LABELS = [
  'reporter',
  'source_workload_namespace',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_app',
  'source_version',
  'destination_workload_namespace',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
] as const;

/** Prometheus answers (instant vectors at the graph's time), one per metric, each holding both reporters' series. */
export interface GraphSamples {
  /** istio_requests_total rates, also by request_protocol, response_code, response_flags, connection_security_policy. */
  requests: PromSample[];
  /** istio_request_duration_milliseconds_bucket rates, also by le. */
  durationBuckets?: PromSample[];
  /** istio_request_bytes_sum rates. */
  requestBytes?: PromSample[];
  /** istio_response_bytes_sum rates. */
  responseBytes?: PromSample[];
  /** istio_tcp_sent_bytes_total rates, also by connection_security_policy. */
  tcpSent?: PromSample[];
  /** istio_tcp_received_bytes_total rates, also by connection_security_policy. */
  tcpReceived?: PromSample[];
}

/**
 * The PromQL of each GraphSamples member: the destination sidecars' reports of traffic
 * into the namespaces, or the source sidecars' reports of traffic out of them.
 */
export function graphQueries(namespaces: string[], durationSeconds: number): Record<keyof GraphSamples, string> {
  const ns = nsRegex(namespaces);
  const d = prometheusDuration(durationSeconds);
  const q = (metric: string, extra: string[]) => {
    const by = [...PAIR_LABELS, ...extra].join(',');
    return (
      `sum(rate(${metric}{reporter="destination",destination_service_namespace=~"${ns}"}[${d}])) by (${by})` +
      ` or sum(rate(${metric}{reporter="source",source_workload_namespace=~"${ns}"}[${d}])) by (${by})`
    );
  };
  return {
    requests: q('istio_requests_total', ['request_protocol', 'response_code', 'response_flags', 'connection_security_policy']),
    durationBuckets: q('istio_request_duration_milliseconds_bucket', ['le']),
    requestBytes: q('istio_request_bytes_sum', []),
    responseBytes: q('istio_response_bytes_sum', []),
    tcpSent: q('istio_tcp_sent_bytes_total', ['connection_security_policy']),
    tcpReceived: q('istio_tcp_received_bytes_total', ['connection_security_policy']),
  };
}

/** One series that counts for the graph. */
export interface Flow {
  labels: Record<string, string>;
  protocol: 'http' | 'tcp';
  /** requests: req/s by code and flags; tcp: bytes/s; bucket: cumulative bucket rate at `le`; bytes: HTTP request or response bytes/s. */
  kind: 'requests' | 'tcp' | 'bucket' | 'bytes';
  value: number;
  le?: number;
}

const NEVER_REACHED = new Set(['UH', 'UF', 'UO', 'NR', 'FI']);
const neverReached = (flags: string | undefined) => (flags ?? '-').split(',').some((f) => NEVER_REACHED.has(f));

const pairKey = (m: Record<string, string>) =>
  `${m.source_workload_namespace}/${m.source_workload}>${m.destination_workload_namespace}/${m.destination_workload}`;
const workloadKey = (ns: string | undefined, name: string | undefined) => `${ns}/${name}`;

/** The samples with a finite value above zero (or zero too, with `keepZeros`). */
function values(samples: PromSample[] | undefined, keepZeros = false): Array<{ metric: Record<string, string>; v: number }> {
  const out: Array<{ metric: Record<string, string>; v: number }> = [];
  for (const s of samples ?? []) {
    const v = Number(s.value[1]);
    if (Number.isFinite(v) && (v > 0 || (keepZeros && v === 0))) out.push({ metric: s.metric, v });
  }
  return out;
}

/** The series that count, by the rule at the top of this file. */
export function selectFlows(samples: GraphSamples): Flow[] {
  const flows: Flow[] = [];
  const requests = values(samples.requests);
  const httpAtDestination = new Set(requests.filter((s) => s.metric.reporter === 'destination').map((s) => pairKey(s.metric)));
  const keepHttp = (m: Record<string, string>, withFlags: boolean) =>
    m.reporter === 'destination' || !httpAtDestination.has(pairKey(m)) || (withFlags && neverReached(m.response_flags));

  for (const { metric, v } of requests) {
    if (keepHttp(metric, true)) flows.push({ labels: metric, protocol: 'http', kind: 'requests', value: v });
  }
  // A histogram's empty low buckets bound the quantile's interpolation, so zeros stay, but only in histograms that saw requests.
  const buckets = values(samples.durationBuckets, true).map((b) => ({ ...b, histogram: PAIR_LABELS.map((l) => b.metric[l]).join('\n') }));
  const observed = new Set(buckets.filter((b) => b.v > 0).map((b) => b.histogram));
  for (const { metric, v } of buckets.filter((b) => observed.has(b.histogram))) {
    const le = metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(metric.le);
    if (!Number.isNaN(le) && keepHttp(metric, false)) flows.push({ labels: metric, protocol: 'http', kind: 'bucket', value: v, le });
  }
  for (const { metric, v } of [...values(samples.requestBytes), ...values(samples.responseBytes)]) {
    if (keepHttp(metric, false)) flows.push({ labels: metric, protocol: 'http', kind: 'bytes', value: v });
  }

  const tcp = [...values(samples.tcpSent), ...values(samples.tcpReceived)];
  const tcpAtDestination = new Set(tcp.filter((s) => s.metric.reporter === 'destination').map((s) => pairKey(s.metric)));
  const tcpKept = tcp.filter((s) => s.metric.reporter === 'destination' || !tcpAtDestination.has(pairKey(s.metric)));
  // Bytes per destination workload: from "unknown" as its sidecar saw them, and from meshed sources as theirs did.
  const fromUnknown = new Map<string, number>();
  const fromMeshed = new Map<string, number>();
  for (const { metric, v } of tcpKept) {
    if (!isKnown(metric.destination_workload)) continue;
    const key = workloadKey(metric.destination_workload_namespace, metric.destination_workload);
    if (metric.reporter === 'destination' && !isKnown(metric.source_workload)) fromUnknown.set(key, (fromUnknown.get(key) ?? 0) + v);
    else if (metric.reporter === 'source') fromMeshed.set(key, (fromMeshed.get(key) ?? 0) + v);
  }
  for (const { metric, v } of tcpKept) {
    let value = v;
    if (metric.reporter === 'destination' && !isKnown(metric.source_workload)) {
      const key = workloadKey(metric.destination_workload_namespace, metric.destination_workload);
      const unknown = fromUnknown.get(key) ?? 0;
      const rest = unknown - (fromMeshed.get(key) ?? 0);
      // Two sidecars' counters scraped at different moments never agree exactly (a rate window holds a
      // scrape more of one than of the other): a remainder within 20% is the same bytes.
      if (rest <= Math.max(1, 0.2 * unknown)) continue;
      value = (v * rest) / unknown;
    }
    flows.push({ labels: metric, protocol: 'tcp', kind: 'tcp', value });
  }
  return flows;
}

/** Only the flows into or out of one workload (a workload's node graph). */
export function flowsOfWorkload(flows: Flow[], namespace: string, workload: string): Flow[] {
  return flows.filter(
    (f) =>
      (f.labels.source_workload_namespace === namespace && f.labels.source_workload === workload) ||
      (f.labels.destination_workload_namespace === namespace && f.labels.destination_workload === workload),
  );
}
