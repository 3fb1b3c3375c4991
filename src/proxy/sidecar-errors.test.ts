import assert from 'node:assert/strict';
import type { RequestListener } from 'node:http';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ProxyConfigSet } from './config.js';
import {
  CIRROS,
  Cleanup,
  closedPort,
  echoApp,
  eventually,
  get,
  ISTIO_VMI,
  outboundConfig,
  rawServer,
  SERVICE_CLUSTER,
  SERVICE_HOST,
  samples,
  serviceRoute,
  sidecar,
} from './test-helpers.js';

const ok: RequestListener = (req, res) => {
  req.resume();
  req.on('end', () => res.end('ok'));
};

describe('failures, as Envoy reports them', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());
  const flagsOf = (metrics: string, code: string) => samples(metrics, 'istio_requests_total', { response_code: code }).map((s) => s.labels.response_flags);

  it('UH: no healthy endpoint answers 503 "no healthy upstream"', async () => {
    const { port } = await echoApp(cleanup, ok);
    const cfg = outboundConfig([{ address: '127.0.0.1', port }]);
    cfg.endpoints[0].endpoints[0].healthStatus = 'UNHEALTHY';
    const out = await sidecar(cleanup, CIRROS, cfg);
    const r = await get(out.ports.outbound, '/');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'no healthy upstream');
    assert.deepEqual(flagsOf(out.metrics(), '503'), ['UH']);
  });

  it('UF: a refused connection is retried twice (Istio default), then answers 503 with the reset reason', async () => {
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port: await closedPort() }]));
    const r = await get(out.ports.outbound, '/');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    assert.deepEqual(flagsOf(out.metrics(), '503'), ['UF,URX']);
    assert.equal(samples(out.metrics(), 'envoy_cluster_upstream_rq_retry', { cluster_name: SERVICE_CLUSTER })[0]?.value, 2);
    assert.equal(samples(out.metrics(), 'envoy_cluster_upstream_cx_connect_fail', { cluster_name: SERVICE_CLUSTER })[0]?.value, 3);
  });

  it('retries a refused connection on another endpoint, so the client sees only successes', async () => {
    const { port } = await echoApp(cleanup, ok);
    const out = await sidecar(
      cleanup,
      CIRROS,
      outboundConfig([
        { address: '127.0.0.1', port: await closedPort() },
        { address: '127.0.0.1', port },
      ]),
    );
    for (let i = 0; i < 4; i++) assert.equal((await get(out.ports.outbound, '/')).status, 200);
    assert.ok((samples(out.metrics(), 'envoy_cluster_upstream_rq_retry', { cluster_name: SERVICE_CLUSTER })[0]?.value ?? 0) >= 1);
    assert.deepEqual(flagsOf(out.metrics(), '200'), ['-']);
  });

  it('retries a 503 when the body could be replayed, and not when it was too large to keep', async () => {
    const seen = new Map<string, number>();
    const { port } = await echoApp(cleanup, (req, res) => {
      req.resume();
      req.on('end', () => {
        const n = (seen.get(req.url!) ?? 0) + 1;
        seen.set(req.url!, n);
        res.writeHead(n === 1 ? 503 : 200);
        res.end(`try ${n}`);
      });
    });
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port }]));
    const small = await get(out.ports.outbound, '/small', { method: 'POST', body: 'x'.repeat(1000) });
    assert.equal(small.status, 200);
    assert.equal(small.body, 'try 2');
    const large = await get(out.ports.outbound, '/large', { method: 'POST', body: 'x'.repeat(100 * 1024) });
    assert.equal(large.status, 503, 'a 100 KiB body is not kept for a retry');
    assert.equal(seen.get('/large'), 1);
  });

  it('UC: a connection closed before any response answers 503 "connection termination"', async () => {
    // What QEMU's port forwarding does while the guest is not listening: accept, then close.
    const closer = await rawServer(cleanup, (s) => s.destroy());
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port: closer.port }]));
    const r = await get(out.ports.outbound, '/');
    assert.equal(r.status, 503);
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    assert.deepEqual(flagsOf(out.metrics(), '503'), ['UC']);
  });

  it('a kept-alive upstream connection that closes as it is reused is replaced by a fresh one, unseen by the client', async () => {
    const { port, connections } = await echoApp(cleanup, (req, res) => {
      const socket = req.socket as typeof req.socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      // The second request on a connection meets a server that has just closed it.
      if (socket.served === 2) socket.destroy();
      else res.end('ok');
    });
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port }]));
    assert.equal((await get(out.ports.outbound, '/1')).status, 200);
    assert.equal((await get(out.ports.outbound, '/2')).status, 200);
    assert.equal(connections(), 2);
    assert.equal(samples(out.metrics(), 'envoy_cluster_upstream_rq_retry', { cluster_name: SERVICE_CLUSTER })[0]?.value, 0);
  });

  it('NR: a host no virtual host answers gets 404', async () => {
    const { port } = await echoApp(cleanup, ok);
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port }]));
    const r = await get(out.ports.outbound, '/', { host: 'unknown.example' });
    assert.equal(r.status, 404);
    assert.equal(r.body, '');
    assert.deepEqual(flagsOf(out.metrics(), '404'), ['NR']);
  });

  it('UT: a route timeout answers 504 "upstream request timeout"', async () => {
    const { port } = await echoApp(cleanup, () => {
      // never answers
    });
    const cfg = outboundConfig([{ address: '127.0.0.1', port }]);
    cfg.routes = [serviceRoute([{ name: 'default', match: { prefix: '/' }, route: { cluster: SERVICE_CLUSTER, timeoutMs: 30 } }])];
    const out = await sidecar(cleanup, CIRROS, cfg);
    const r = await get(out.ports.outbound, '/');
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.deepEqual(flagsOf(out.metrics(), '504'), ['UT']);
  });

  it('DC: a client that leaves before the response is counted with code 0, and its upstream request is cut', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => {
      upstreamClosed = r;
    });
    const { port } = await echoApp(cleanup, (req) => req.socket.once('close', upstreamClosed));
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port, workload: ISTIO_VMI }]));
    const s = connect(out.ports.outbound, '127.0.0.1');
    s.on('error', () => {});
    s.write(`GET / HTTP/1.1\r\nHost: ${SERVICE_HOST}\r\n\r\n`);
    await eventually(
      () => samples(out.metrics(), 'envoy_cluster_upstream_rq_active', { cluster_name: SERVICE_CLUSTER })[0]?.value === 1,
      'the request upstream',
    );
    // A reset: a FIN alone would be a half-close, and a half-closed client is still answered.
    s.resetAndDestroy();
    await closed;
    const dc = await eventually(() => samples(out.metrics(), 'istio_requests_total', { response_flags: 'DC' })[0], 'the DC sample');
    assert.equal(dc.labels.response_code, '0');
    assert.equal(dc.labels.destination_workload, 'istio-vmi', 'without a response, the destination comes from the endpoint');
  });

  it('outlier detection ejects an endpoint after consecutive errors', async () => {
    let badHits = 0;
    const bad = await echoApp(cleanup, (req, res) => {
      badHits++;
      req.resume();
      res.writeHead(503);
      res.end();
    });
    const good = await echoApp(cleanup, ok);
    const cfg: ProxyConfigSet = outboundConfig(
      [
        { address: '127.0.0.1', port: bad.port },
        { address: '127.0.0.1', port: good.port },
      ],
      { consecutiveErrors: 1, baseEjectionTimeMs: 60_000 },
    );
    const out = await sidecar(cleanup, CIRROS, cfg);
    for (let i = 0; i < 6; i++) assert.equal((await get(out.ports.outbound, '/')).status, 200);
    assert.equal(badHits, 1, 'ejected after its first 503');
  });
});
