// Istio's fault injection (an HTTPFaultInjection of a VirtualService): a request is
// delayed and/or answered with an error status, each for a percentage of requests,
// before it goes anywhere.

import type { Route } from '../config.js';

export interface FaultDecision {
  delayMs: number;
  abortStatus: number;
}

const NONE: FaultDecision = { delayMs: 0, abortStatus: 0 };

const hits = (percentage: number) => percentage >= 100 || Math.random() * 100 < percentage;

/** What the route's fault does to this request (delay first, then abort, as Envoy applies them). */
export function decideFault(route: Route): FaultDecision {
  const f = route.fault;
  if (!f) return NONE;
  const delayMs = f.delay && hits(f.delay.percentage) ? f.delay.fixedDelayMs : 0;
  const abortStatus = f.abort && hits(f.abort.percentage) ? f.abort.httpStatus : 0;
  return delayMs === 0 && abortStatus === 0 ? NONE : { delayMs, abortStatus };
}

/** The body Envoy's fault filter answers with. */
export const FAULT_ABORT_BODY = 'fault filter abort';
