// A small client for Prometheus's HTTP API (/api/v1/query and /api/v1/query_range):
// what the graph, the metrics charts and the health columns read. Every failure says
// which Prometheus failed and how, with a kind the console server maps to a status.

/** One series of an instant vector, as Prometheus returns it: [unix seconds, "value"]. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One series of a range query's matrix. */
export interface PromSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** The body of /api/v1/query and /api/v1/query_range. */
export interface PromResponse {
  status: 'success' | 'error';
  data?: { resultType: 'vector' | 'matrix' | 'scalar' | 'string'; result: unknown };
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/** unreachable: no answer (503); bad_query: Prometheus rejected the PromQL (400); server: it failed otherwise (503). */
export type PrometheusErrorKind = 'unreachable' | 'bad_query' | 'server';

const CODES = {
  unreachable: 'VM_ERR_TELEMETRY_PROMETHEUS_UNREACHABLE',
  bad_query: 'VM_ERR_TELEMETRY_PROMETHEUS_BAD_QUERY',
  server: 'VM_ERR_TELEMETRY_PROMETHEUS_FAILED',
} as const;

export class PrometheusError extends Error {
  readonly kind: PrometheusErrorKind;
  readonly code: (typeof CODES)[PrometheusErrorKind];
  /** The status the console answers with. */
  readonly status: number;
  /** The PromQL that failed, when one did. */
  readonly query?: string;
  constructor(kind: PrometheusErrorKind, message: string, opts: { query?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PrometheusError';
    this.kind = kind;
    this.code = CODES[kind];
    this.status = kind === 'bad_query' ? 400 : 503;
    this.query = opts.query;
  }
}

/** What the graph, metrics and health functions need of Prometheus (a PrometheusClient, or a stand-in in tests). */
export interface PrometheusApi {
  /** An instant query at `time` (unix seconds; Prometheus's now when left out). */
  query(promql: string, time?: number): Promise<PromSample[]>;
  /** A range query from start to end (unix seconds) every `step` seconds. */
  queryRange(promql: string, start: number, end: number, step: number): Promise<PromSeries[]>;
}

export interface PrometheusClientOptions {
  /** Per request (10 s). */
  timeoutMs?: number;
  /** For tests. */
  fetch?: typeof fetch;
}

/** "connect ECONNREFUSED 127.0.0.1:9090" out of undici's "fetch failed" and its cause chain. */
function networkReason(err: unknown): string {
  let e = err as { message?: string; cause?: unknown; code?: string; errors?: unknown[] } | undefined;
  let best = e?.message ?? String(err);
  for (let depth = 0; e && depth < 5; depth++) {
    if (e.message && e.message !== 'fetch failed') best = e.message;
    // Happy Eyeballs reports an AggregateError with an empty message; its parts say what failed.
    if (!e.message && Array.isArray(e.errors) && e.errors.length > 0) best = (e.errors[0] as Error).message ?? best;
    e = e.cause as typeof e;
  }
  return best;
}

export class PrometheusClient implements PrometheusApi {
  /** The base URL without a trailing slash, e.g. http://127.0.0.1:9090 or http://host/prometheus. */
  readonly url: string;
  readonly timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(url: string, opts: PrometheusClientOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.#fetch = opts.fetch ?? fetch;
  }

  async query(promql: string, time?: number): Promise<PromSample[]> {
    const params: Record<string, string> = { query: promql };
    if (time !== undefined) params.time = String(time);
    const { data } = await this.#call('/api/v1/query', params, promql);
    if (data.resultType === 'vector') return data.result as PromSample[];
    if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
    throw new PrometheusError('bad_query', `Prometheus at ${this.url}: the query gives a ${data.resultType}, not an instant vector: ${promql}`, {
      query: promql,
    });
  }

  async queryRange(promql: string, start: number, end: number, step: number): Promise<PromSeries[]> {
    const params = { query: promql, start: String(start), end: String(end), step: String(step) };
    const { data } = await this.#call('/api/v1/query_range', params, promql);
    if (data.resultType !== 'matrix') {
      throw new PrometheusError('server', `Prometheus at ${this.url}: a range query gave a ${data.resultType}, not a matrix`, { query: promql });
    }
    return data.result as PromSeries[];
  }

  async #call(path: string, params: Record<string, string>, promql: string): Promise<PromResponse & { data: NonNullable<PromResponse['data']> }> {
    const base = this.url;
    let res: Response;
    try {
      // POST with a form body: long PromQL (many by-labels, namespace lists) stays clear of URL length limits.
      res = await this.#fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const name = (e as Error | undefined)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new PrometheusError('unreachable', `Prometheus at ${base} did not answer within ${this.timeoutMs / 1000} s`, { query: promql, cause: e });
      }
      throw new PrometheusError('unreachable', `Prometheus at ${base} is unreachable: ${networkReason(e)}`, { query: promql, cause: e });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      const timedOut = (e as Error | undefined)?.name === 'TimeoutError';
      const why = timedOut ? `did not finish its answer within ${this.timeoutMs / 1000} s` : `broke off its answer: ${networkReason(e)}`;
      throw new PrometheusError('unreachable', `Prometheus at ${base} ${why}`, { query: promql, cause: e });
    }
    let body: PromResponse | undefined;
    try {
      body = JSON.parse(text) as PromResponse;
    } catch {
      body = undefined;
    }
    if (body?.status === 'error') {
      // bad_data is Prometheus's word for a query it cannot parse or evaluate as asked.
      const kind: PrometheusErrorKind = body.errorType === 'bad_data' ? 'bad_query' : 'server';
      throw new PrometheusError(kind, `Prometheus at ${base} rejected the query (${body.errorType ?? `HTTP ${res.status}`}): ${body.error ?? ''}`.trimEnd(), {
        query: promql,
      });
    }
    if (!res.ok) {
      const snippet = text.trim().slice(0, 200);
      throw new PrometheusError('server', `Prometheus at ${base} answered HTTP ${res.status} ${res.statusText} for ${path}${snippet ? `: ${snippet}` : ''}`, {
        query: promql,
      });
    }
    if (body?.status !== 'success' || !body.data) {
      throw new PrometheusError('server', `Prometheus at ${base} answered ${path} with something other than a Prometheus API response`, { query: promql });
    }
    return body as PromResponse & { data: NonNullable<PromResponse['data']> };
  }
}

export const createPrometheusClient = (url: string, opts?: PrometheusClientOptions) => new PrometheusClient(url, opts);

/** A sample's value as a number ("NaN", "+Inf" included). */
export const sampleValue = (s: PromSample): number => Number(s.value[1]);

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Seconds as a range-selector duration: whole seconds, at least one ("60s"). */
export const prometheusDuration = (seconds: number) => `${Math.max(1, Math.round(seconds))}s`;

/** A Prometheus duration ("30s", "1m", "1h30m", "600" as plain seconds) in seconds; undefined when unreadable or not positive. */
export function parsePrometheusDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) > 0 ? Number(t) : undefined;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    end = re.lastIndex;
  }
  return end === t.length && total > 0 ? total : undefined;
}
