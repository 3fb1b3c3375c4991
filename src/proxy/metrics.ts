// Istio's standard metrics and a few of Envoy's own, counted where traffic passes
// and rendered in Prometheus text format when scraped. A request builds no label
// string: the label set of its (reporter, peers, service) is built once and cached
// by those objects, and its series is found by that prefix and a number made of the
// response code and flags.

import type { WorkloadMeta } from './config.js';

/** Envoy's response flags, in the order Envoy prints them. */
export const Flag = {
  UH: 1,
  UT: 2,
  UF: 4,
  UC: 8,
  UO: 16,
  NR: 32,
  DI: 64,
  FI: 128,
  DC: 256,
  URX: 512,
  SI: 1024,
  NC: 2048,
} as const;
const FLAG_NAMES = Object.keys(Flag) as Array<keyof typeof Flag>;
const flagText: string[] = [];

/** "-" for none, else comma-separated as Envoy's %RESPONSE_FLAGS%. */
export function flagsString(bits: number): string {
  let s = flagText[bits];
  if (s === undefined) {
    s = FLAG_NAMES.filter((n) => bits & Flag[n]).join(',') || '-';
    flagText[bits] = s;
  }
  return s;
}

/** A bound on series per metric: labels such as destination_service can come from Host headers the mesh does not control. */
const MAX_SERIES = 50_000;

const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

class Histogram {
  /** Per-bucket counts, not cumulative (summed when rendered); values past the last bound count only in +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]) {
        this.counts[i]++;
        return;
      }
    }
  }
  render(name: string, labels: string, out: string[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i];
      out.push(`${name}_bucket{${labels},le="${this.bounds[i]}"} ${cumulative}`);
    }
    out.push(`${name}_bucket{${labels},le="+Inf"} ${this.count}`, `${name}_sum{${labels}} ${this.sum}`, `${name}_count{${labels}} ${this.count}`);
  }
}

class RequestSeries {
  count = 0;
  readonly duration = new Histogram(DURATION_BUCKETS);
  readonly requestBytes = new Histogram(SIZE_BUCKETS);
  readonly responseBytes = new Histogram(SIZE_BUCKETS);
}

export class TcpSeries {
  opened = 0;
  closed = 0;
  sent = 0;
  received = 0;
}

/** The destination_service* labels. */
export interface ServiceLabels {
  host: string;
  name: string;
  namespace: string;
}

export type Reporter = 'source' | 'destination';

const escapeLabel = (v: string) => (/[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);
const orUnknown = (v: string | undefined) => (v ? escapeLabel(v) : 'unknown');

function workloadLabels(side: 'source' | 'destination', m: WorkloadMeta | undefined): string[] {
  return [
    `${side}_workload="${orUnknown(m?.workload)}"`,
    `${side}_workload_namespace="${orUnknown(m?.namespace)}"`,
    // Principals come from mTLS peer certificates; the data path is plaintext, so Istio reports them unknown.
    `${side}_principal="unknown"`,
    `${side}_app="${orUnknown(m?.app)}"`,
    `${side}_version="${orUnknown(m?.version)}"`,
    `${side}_cluster="${orUnknown(m?.cluster)}"`,
  ];
}

/** Stands for an absent workload in the prefix cache (WeakMap keys must be objects). */
const NO_WORKLOAD = {};

type PrefixCache = WeakMap<object, WeakMap<object, WeakMap<ServiceLabels, string>>>;

export class IstioMetrics {
  /** Every series by its full label set, in creation order (what render walks). */
  readonly #requests = new Map<string, RequestSeries>();
  /** The same series by prefix, then by response code, flags and reporter: no label string is built per request. */
  readonly #requestsByPrefix = new Map<string, Map<number, RequestSeries>>();
  readonly #tcp = new Map<string, TcpSeries>();
  /**
   * Prefixes by reporter and protocol, then by the source, destination and service objects themselves:
   * a lookup hashes no string, and prefixes of objects no longer in use go with them.
   */
  readonly #prefixes: PrefixCache[] = [new WeakMap(), new WeakMap(), new WeakMap(), new WeakMap()];

  /**
   * The labels from reporter through destination_canonical_revision, plus
   * request_protocol, for these two workloads and this service (cached: the objects
   * passed are the long-lived ones from config and from the peer-metadata cache).
   */
  labelPrefix(
    reporter: Reporter,
    protocol: 'http' | 'tcp',
    source: WorkloadMeta | undefined,
    destination: WorkloadMeta | undefined,
    service: ServiceLabels,
  ): string {
    const bySource = this.#prefixes[(reporter === 'source' ? 0 : 2) + (protocol === 'http' ? 0 : 1)];
    let byDestination = bySource.get(source ?? NO_WORKLOAD);
    if (!byDestination) {
      byDestination = new WeakMap();
      bySource.set(source ?? NO_WORKLOAD, byDestination);
    }
    let byService = byDestination.get(destination ?? NO_WORKLOAD);
    if (!byService) {
      byService = new WeakMap();
      byDestination.set(destination ?? NO_WORKLOAD, byService);
    }
    let prefix = byService.get(service);
    if (prefix === undefined) {
      prefix = [
        `reporter="${reporter}"`,
        ...workloadLabels('source', source),
        `source_canonical_service="${orUnknown(source?.canonicalService)}"`,
        `source_canonical_revision="${orUnknown(source?.canonicalRevision)}"`,
        ...workloadLabels('destination', destination).slice(0, 5),
        `destination_service="${orUnknown(service.host)}"`,
        `destination_service_name="${orUnknown(service.name)}"`,
        `destination_service_namespace="${orUnknown(service.namespace)}"`,
        `destination_cluster="${orUnknown(destination?.cluster)}"`,
        `destination_canonical_service="${orUnknown(destination?.canonicalService)}"`,
        `destination_canonical_revision="${orUnknown(destination?.canonicalRevision)}"`,
        `request_protocol="${protocol}"`,
      ].join(',');
      byService.set(service, prefix);
    }
    return prefix;
  }

  recordRequest(prefix: string, reporter: Reporter, code: number, flags: number, durationMs: number, requestBytes: number, responseBytes: number): void {
    // The prefix is the cached string, so its hash is computed once; the rest of the key is a number.
    let byOutcome = this.#requestsByPrefix.get(prefix);
    const outcome = (code * 4096 + flags) * 2 + (reporter === 'source' ? 1 : 0);
    let s = byOutcome?.get(outcome);
    if (!s) {
      const key = `${prefix},response_code="${code}",grpc_response_status="",response_flags="${flagsString(flags)}",connection_security_policy="${reporter === 'source' ? 'unknown' : 'none'}"`;
      s = this.#requests.get(key);
      if (!s) {
        if (this.#requests.size >= MAX_SERIES) return;
        s = new RequestSeries();
        this.#requests.set(key, s);
      }
      if (!byOutcome) {
        byOutcome = new Map();
        this.#requestsByPrefix.set(prefix, byOutcome);
      }
      byOutcome.set(outcome, s);
    }
    s.count++;
    s.duration.observe(durationMs);
    s.requestBytes.observe(requestBytes);
    s.responseBytes.observe(responseBytes);
  }

  /** The counters one TCP connection adds to (kept by the connection, so bytes are added without a lookup). */
  tcpSeries(prefix: string, reporter: Reporter, flags: number): TcpSeries {
    const key = `${prefix},response_flags="${flagsString(flags)}",connection_security_policy="${reporter === 'source' ? 'unknown' : 'none'}"`;
    let s = this.#tcp.get(key);
    if (!s) {
      s = new TcpSeries();
      // Past the bound, the connection is still counted, just not exported.
      if (this.#tcp.size < MAX_SERIES) this.#tcp.set(key, s);
    }
    return s;
  }

  render(out: string[]): void {
    if (this.#requests.size > 0) {
      out.push('# TYPE istio_requests_total counter');
      for (const [labels, s] of this.#requests) out.push(`istio_requests_total{${labels}} ${s.count}`);
      const histograms = [
        ['istio_request_duration_milliseconds', 'duration'],
        ['istio_request_bytes', 'requestBytes'],
        ['istio_response_bytes', 'responseBytes'],
      ] as const;
      for (const [name, field] of histograms) {
        out.push(`# TYPE ${name} histogram`);
        for (const [labels, s] of this.#requests) s[field].render(name, labels, out);
      }
    }
    if (this.#tcp.size > 0) {
      const counters = [
        ['istio_tcp_sent_bytes_total', 'sent'],
        ['istio_tcp_received_bytes_total', 'received'],
        ['istio_tcp_connections_opened_total', 'opened'],
        ['istio_tcp_connections_closed_total', 'closed'],
      ] as const;
      for (const [name, field] of counters) {
        out.push(`# TYPE ${name} counter`);
        for (const [labels, s] of this.#tcp) out.push(`${name}{${labels}} ${s[field]}`);
      }
    }
  }
}

/** Envoy's per-cluster upstream counters (the subset /stats and /clusters show). */
export class ClusterStats {
  upstream_cx_total = 0;
  upstream_cx_active = 0;
  upstream_cx_connect_fail = 0;
  upstream_cx_connect_timeout = 0;
  upstream_rq_total = 0;
  upstream_rq_active = 0;
  upstream_rq_retry = 0;
  upstream_rq_timeout = 0;
  upstream_rq_pending_overflow = 0;
  upstream_cx_overflow = 0;
  /** Completed requests by status class: index 1 is 1xx ... 5 is 5xx. */
  readonly byClass = [0, 0, 0, 0, 0, 0];
}

export { escapeLabel as escapeLabelValue };
