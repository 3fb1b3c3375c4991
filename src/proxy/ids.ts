// Random identifiers for requests and spans, drawn from a pooled random buffer so
// that a request does not cost a system call.

import { randomFillSync, randomUUID } from 'node:crypto';

const pool = Buffer.allocUnsafe(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const s = pool.toString('hex', used, used + bytes);
  used += bytes;
  return s;
}

export const newRequestId = (): string => randomUUID();
/** 16 bytes, as W3C trace context and 128-bit B3 trace ids are. */
export const newTraceId = (): string => randomHex(16);
/** 8 bytes. */
export const newSpanId = (): string => randomHex(8);
