import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SidecarHandle } from './index.js';
import {
  CIRROS,
  Cleanup,
  echoApp,
  eventually,
  get,
  ISTIO_VMI,
  outboundConfig,
  rawClient,
  rawExchange,
  SERVICE_CLUSTER,
  SERVICE_HOST,
  samples,
  sidecar,
} from './test-helpers.js';

const HOST = `Host: ${SERVICE_HOST}\r\n`;

describe('bad input never takes the proxy down', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  let out: SidecarHandle;
  let appPort: number;
  after(() => cleanup.run());
  before(async () => {
    const app = await echoApp(cleanup);
    appPort = app.port;
    const cfg = outboundConfig([{ address: '127.0.0.1', port: app.port, workload: ISTIO_VMI }]);
    // An HTTP-only port: every connection is parsed as HTTP, so bad HTTP meets the codec rather than the TCP chain.
    cfg.listeners[1].protocol = 'http';
    out = await sidecar(cleanup, CIRROS, cfg, { limits: { requestHeadersMs: 50, idleMs: 200 } });
  });
  const stillServes = async () => assert.equal((await get(out.ports.outbound, '/after')).status, 200);

  it('garbage bytes: 400 and the connection closed', async () => {
    const text = await rawExchange(out.ports.outbound, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]));
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(text, /connection: close\r\n/);
    await stillServes();
  });

  it('a request followed by FIN (half-close) is still answered', async () => {
    const text = await rawExchange(out.ports.outbound, `GET /half HTTP/1.1\r\n${HOST}\r\n`, { end: true });
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /"url":"\/half"/);
  });

  it('a head over 60 KiB: 431', async () => {
    const text = await rawExchange(out.ports.outbound, `GET / HTTP/1.1\r\n${HOST}X-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    await stillServes();
  });

  it('a head that never ends (slowloris): 408 once the request-head timeout passes', async () => {
    const c = await rawClient(out.ports.outbound, cleanup);
    c.socket.write(`GET / HTTP/1.1\r\n${HOST}X-Slow: `);
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    await stillServes();
  });

  it('an idle keep-alive connection is closed after the idle timeout', async () => {
    const c = await rawClient(out.ports.outbound, cleanup);
    c.socket.write(`GET / HTTP/1.1\r\n${HOST}\r\n`);
    await c.until((t) => t.includes('"url":"/"'), 'the response');
    await c.closed;
  });

  it('bodies that lie: bad chunks and conflicting lengths are refused with 400', async () => {
    const bad = await rawExchange(out.ports.outbound, `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\nzz\r\n`);
    assert.match(bad, /HTTP\/1\.1 400 Bad Request/);
    const conflicting = await rawExchange(out.ports.outbound, `POST / HTTP/1.1\r\n${HOST}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`);
    assert.match(conflicting, /^HTTP\/1\.1 400 Bad Request/);
    const smuggle = await rawExchange(out.ports.outbound, `POST / HTTP/1.1\r\n${HOST}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    assert.match(smuggle, /^HTTP\/1\.1 400 Bad Request/);
    await stillServes();
  });

  it('an HTTP/1.1 request without Host: 400', async () => {
    assert.match(await rawExchange(out.ports.outbound, 'GET / HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400 /);
  });

  it('a client that never reads holds the upstream back instead of filling memory; leaving cuts the upstream (DC)', async () => {
    const total = 256 * 1024 * 1024;
    let blockedAt = -1;
    let upstreamGone!: () => void;
    const gone = new Promise<void>((r) => {
      upstreamGone = r;
    });
    const big = await echoApp(cleanup, (_req, res) => {
      res.writeHead(200, { 'content-length': total });
      res.on('close', upstreamGone);
      const chunk = Buffer.alloc(1024 * 1024, 97);
      let written = 0;
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            if (blockedAt < 0) blockedAt = written;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const bigOut = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port: big.port }]));
    const c = await rawClient(bigOut.ports.outbound, cleanup);
    c.socket.pause();
    c.socket.write(`GET /big HTTP/1.1\r\n${HOST}\r\n`);
    await eventually(() => blockedAt > 0, 'the app to feel backpressure');
    assert.ok(blockedAt < total / 4, `the app was held back after ${blockedAt} bytes`);
    c.socket.resetAndDestroy();
    await gone;
    const dc = await eventually(() => samples(bigOut.metrics(), 'istio_requests_total', { response_flags: 'DC' })[0], 'the DC sample');
    assert.equal(dc.labels.response_code, '200');
    await eventually(
      () => samples(bigOut.metrics(), 'envoy_cluster_upstream_cx_active', { cluster_name: SERVICE_CLUSTER })[0]?.value === 0,
      'the upstream connection closed',
    );
  });

  it('still serves after all of that', async () => {
    await stillServes();
    assert.ok(appPort > 0);
  });
});
