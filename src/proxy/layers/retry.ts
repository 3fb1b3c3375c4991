// When a failed try is tried again, as Envoy's router decides it: by the route's
// retry policy, or on outbound routes without one by Istio's default policy (two
// retries on connect failures and 503s). Waits follow Envoy's fully jittered
// exponential backoff from a 25 ms base.

import type { RouteAction } from '../config.js';

export interface RetryRules {
  numRetries: number;
  perTryTimeoutMs: number;
  connectFailure: boolean;
  /** A connection that closed or reset before the response head. */
  reset: boolean;
  all5xx: boolean;
  gatewayError: boolean;
  retriable4xx: boolean;
  statuses: Set<number>;
}

/** Failures a try can end in, before any of its response reached the client. */
export type TryFailure = 'connect-failure' | 'reset' | 'per-try-timeout';

export const BACKOFF_BASE_MS = 25;

function compile(retryOn: string, numRetries: number, perTryTimeoutMs = 0): RetryRules {
  const rules: RetryRules = {
    numRetries,
    perTryTimeoutMs,
    connectFailure: false,
    reset: false,
    all5xx: false,
    gatewayError: false,
    retriable4xx: false,
    statuses: new Set(),
  };
  for (const raw of retryOn.split(',')) {
    const token = raw.trim();
    if (token === 'connect-failure') rules.connectFailure = true;
    else if (token === 'reset') rules.reset = true;
    else if (token === '5xx') rules.all5xx = true;
    else if (token === 'gateway-error') rules.gatewayError = true;
    else if (token === 'retriable-4xx') rules.retriable4xx = true;
    else if (token === 'retriable-status-codes') rules.statuses.add(503);
    // Istio turns status codes listed in retryOn into retriable status codes.
    else if (/^\d{3}$/.test(token)) rules.statuses.add(Number(token));
    // refused-stream, unavailable, cancelled, ...: HTTP/2 and gRPC conditions that HTTP/1.1 never meets.
  }
  return rules;
}

/** Istio's default for outbound HTTP routes without a retry policy. */
export const ISTIO_DEFAULT_RETRY = compile('connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', 2);
export const NO_RETRY = compile('', 0);

const compiled = new WeakMap<object, RetryRules>();

/** The rules for a route action: its own policy, else the default given (Istio's outbound default or none). */
export function retryRulesFor(action: RouteAction, fallback: RetryRules): RetryRules {
  const p = action.retryPolicy;
  if (!p) return fallback;
  let r = compiled.get(p);
  if (!r) {
    r = compile(p.retryOn, p.numRetries, p.perTryTimeoutMs);
    compiled.set(p, r);
  }
  return r;
}

export function retriesStatus(r: RetryRules, status: number): boolean {
  if (r.statuses.has(status)) return true;
  if (status >= 500) return r.all5xx || (r.gatewayError && status >= 502 && status <= 504);
  return r.retriable4xx && status === 409;
}

export function retriesFailure(r: RetryRules, failure: TryFailure): boolean {
  if (failure === 'connect-failure') return r.connectFailure || r.all5xx || r.gatewayError;
  // A try that timed out or reset is a 5xx-class failure to Envoy.
  return r.reset || r.all5xx || r.gatewayError;
}

/** How long to wait before retry number `n` (1-based): random in [0, base * 2^(n-1)), at most ten times the base. */
export function backoffMs(n: number): number {
  const ceiling = Math.min(BACKOFF_BASE_MS * 2 ** (n - 1), BACKOFF_BASE_MS * 10);
  return Math.random() * ceiling;
}
