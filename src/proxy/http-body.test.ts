import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedScanner } from './http-body.js';

/** Feeds `text` to a scanner in pieces of `step` bytes; returns the end offset in the whole text and the payload. */
function scanInPieces(text: string, step: number): { end: number; payload: string; error?: string } {
  const s = new ChunkedScanner();
  const buf = Buffer.from(text, 'latin1');
  const payload: Buffer[] = [];
  for (let at = 0; at < buf.length; at += step) {
    const piece = buf.subarray(at, Math.min(buf.length, at + step));
    const end = s.scan(piece, 0, (p) => payload.push(Buffer.from(p)));
    if (s.error) return { end: -1, payload: '', error: s.error };
    if (end !== -1) return { end: at + end, payload: Buffer.concat(payload).toString('latin1') };
  }
  return { end: -1, payload: Buffer.concat(payload).toString('latin1') };
}

describe('chunked bodies', { timeout: 30_000 }, () => {
  const body = '5\r\nHello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n';

  it('finds the end and the payload however the bytes are split', () => {
    for (const step of [1, 2, 3, 7, body.length]) {
      const r = scanInPieces(body + 'NEXT', step);
      assert.equal(r.end, body.length, `step ${step}`);
      assert.equal(r.payload, 'Hello, world', `step ${step}`);
    }
  });

  it('accepts bare LF line ends and upper-case hex', () => {
    const r = scanInPieces('A\nabcdefghij\n0\n\n', 4);
    assert.equal(r.payload, 'abcdefghij');
    assert.equal(r.end, 16);
  });

  it('waits for more when the body has not ended', () => {
    assert.equal(scanInPieces('5\r\nHel', 100).end, -1);
    assert.equal(scanInPieces('5\r\nHello\r\n0\r\n', 100).end, -1);
  });

  it('refuses what is not a chunked body', () => {
    assert.match(scanInPieces('zz\r\n', 1).error ?? '', /bad chunk size/);
    assert.match(scanInPieces('5\r\nHelloX\r\n', 100).error ?? '', /CRLF/);
    assert.match(scanInPieces('1234567890abcdef0\r\n', 100).error ?? '', /too large/);
  });
});
