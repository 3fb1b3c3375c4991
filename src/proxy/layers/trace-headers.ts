// Request identity and trace context, carried from hop to hop as Envoy does: the
// x-request-id stays (or is made), the trace id stays (or is made), every hop gets
// a new span id whose parent is the caller's span. Both W3C trace context
// (traceparent) and B3 (x-b3-*) are written so either kind of app can join.

import type { HttpHead } from '../http-head.js';
import { newRequestId, newSpanId, newTraceId } from '../ids.js';

/** Request headers this layer replaces; the forwarded request carries this hop's values instead. */
export const TRACE_HEADERS = new Set(['x-request-id', 'traceparent', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled']);

export interface HopTrace {
  requestId: string;
  /** 32 hex digits. */
  traceId: string;
  /** The trace id as B3 carried it (16 or 32 hex digits), kept as the caller sent it. */
  b3TraceId: string;
  spanId: string;
  /** "" for a trace this hop starts. */
  parentSpanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/** This hop's ids from the incoming request's headers; `samplePercent` decides for traces started here. */
export function traceHop(head: HttpHead, samplePercent: number): HopTrace {
  const requestId = head.get('x-request-id') || newRequestId();
  const spanId = newSpanId();
  const tp = TRACEPARENT.exec(head.get('traceparent') ?? '');
  if (tp && tp[1] !== ZERO32 && tp[2] !== ZERO16) {
    const b3 = head.get('x-b3-traceid');
    return {
      requestId,
      traceId: tp[1],
      b3TraceId: b3 && (HEX16.test(b3) || HEX32.test(b3)) ? b3 : tp[1],
      spanId,
      parentSpanId: tp[2],
      sampled: (Number.parseInt(tp[3], 16) & 1) === 1,
    };
  }
  const b3 = (head.get('x-b3-traceid') ?? '').toLowerCase();
  if (HEX16.test(b3) || HEX32.test(b3)) {
    const s = head.get('x-b3-sampled');
    const parent = (head.get('x-b3-spanid') ?? '').toLowerCase();
    return {
      requestId,
      traceId: b3.padStart(32, '0'),
      b3TraceId: b3,
      spanId,
      parentSpanId: HEX16.test(parent) ? parent : '',
      sampled: s === undefined ? Math.random() * 100 < samplePercent : s === '1' || s === 'true' || s === 'd',
    };
  }
  const traceId = newTraceId();
  return { requestId, traceId, b3TraceId: traceId, spanId, parentSpanId: '', sampled: Math.random() * 100 < samplePercent };
}

/** The header lines (CRLF-terminated) the forwarded request carries for this hop. */
export function traceHeaderLines(t: HopTrace): string {
  const sampled = t.sampled ? '1' : '0';
  let s =
    'x-request-id: ' +
    t.requestId +
    '\r\ntraceparent: 00-' +
    t.traceId +
    '-' +
    t.spanId +
    (t.sampled ? '-01' : '-00') +
    '\r\nx-b3-traceid: ' +
    t.b3TraceId +
    '\r\nx-b3-spanid: ' +
    t.spanId +
    '\r\nx-b3-sampled: ' +
    sampled +
    '\r\n';
  if (t.parentSpanId) s += 'x-b3-parentspanid: ' + t.parentSpanId + '\r\n';
  return s;
}
