import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findHeadEnd, HeadError, HttpHead, parseRequestHead, parseResponseHead } from './http-head.js';

function request(text: string): HttpHead | HeadError {
  const buf = Buffer.from(text, 'latin1');
  const end = findHeadEnd(buf, 0);
  assert.notEqual(end, -1, 'head should be complete');
  return parseRequestHead(buf, 0, end);
}

function response(text: string): HttpHead | HeadError {
  const buf = Buffer.from(text, 'latin1');
  const end = findHeadEnd(buf, 0);
  assert.notEqual(end, -1, 'head should be complete');
  return parseResponseHead(buf, 0, end);
}

describe('HTTP/1.x heads', { timeout: 30_000 }, () => {
  it('finds the end of a head with CRLF or bare LF line ends, and waits for the rest otherwise', () => {
    assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\nbody'), 0), 27);
    assert.equal(findHeadEnd(Buffer.from('HTTP/1.1 200 OK\n\nHello\n'), 0), 17);
    assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'), 0), -1);
    assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r'), 0), -1);
  });

  it('reads a request: method, target, version, lowercased names, framing and connection fields', () => {
    const h = request(
      'POST /a?b=1 HTTP/1.1\r\nHost: svc:8080\r\nContent-Length: 5\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\nExpect: 100-continue\r\n\r\n',
    );
    assert.ok(h instanceof HttpHead);
    assert.equal(h.method, 'POST');
    assert.equal(h.target, '/a?b=1');
    assert.equal(h.minor, 1);
    assert.equal(h.host, 'svc:8080');
    assert.equal(h.contentLength, 5);
    assert.equal(h.expectContinue, true);
    assert.deepEqual(h.connectionTokens, ['x-foo']);
    assert.equal(h.get('x-foo'), '1');
    assert.equal(h.keepAlive, true);
  });

  it('keeps HTTP/1.0 connections only when asked to', () => {
    const h10 = request('GET / HTTP/1.0\r\n\r\n') as HttpHead;
    assert.equal(h10.keepAlive, false);
    const ka = request('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n') as HttpHead;
    assert.equal(ka.keepAlive, true);
  });

  it('refuses requests that could be read two ways, with the status Envoy answers', () => {
    const cases: Array<[string, number]> = [
      ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
      ['G(T / HTTP/1.1\r\n\r\n', 400],
      ['GET / HTTP/2.0\r\n\r\n', 505],
      ['GET /\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
      [`GET / HTTP/1.1\r\n${'X-A: b\r\n'.repeat(101)}\r\n`, 431],
    ];
    for (const [text, status] of cases) {
      const h = request(text);
      assert.ok(h instanceof HeadError, `${JSON.stringify(text.slice(0, 60))} should be refused`);
      assert.equal(h.status, status, JSON.stringify(text.slice(0, 60)));
    }
  });

  it('accepts equal repeated Content-Length values as one', () => {
    const h = request('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n') as HttpHead;
    assert.equal(h.contentLength, 3);
  });

  it('reads lenient responses: bare LF, no reason phrase, folded lines; chunked wins over Content-Length', () => {
    const bare = response('HTTP/1.1 200 OK\n\n') as HttpHead;
    assert.equal(bare.status, 200);
    assert.equal(bare.contentLength, -1);
    const noReason = response('HTTP/1.1 204\r\n\r\n') as HttpHead;
    assert.equal(noReason.status, 204);
    assert.equal(noReason.reason, '');
    const both = response('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\nX-A: a\r\n  b\r\n\r\n') as HttpHead;
    assert.equal(both.chunked, true);
    assert.equal(both.contentLength, -1);
    assert.equal(both.get('x-a'), 'a b');
    assert.ok(response('ICY 200 OK\r\n\r\n') instanceof HeadError);
  });
});
