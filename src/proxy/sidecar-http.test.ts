import assert from 'node:assert/strict';
import { Agent, type RequestListener } from 'node:http';
import { after, describe, it } from 'node:test';
import type { Route } from './config.js';
import {
  CIRROS,
  Cleanup,
  echoApp,
  get,
  ISTIO_VMI,
  outboundConfig,
  rawClient,
  rawExchange,
  rawServer,
  SERVICE_HOST,
  samples,
  serviceRoute,
  sidecar,
  sidecarPair,
} from './test-helpers.js';

/** Echoes the request as JSON; /status/<code> answers that code. */
const app: RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const status = /^\/status\/(\d{3})/.exec(req.url ?? '');
    if (status) {
      res.writeHead(Number(status[1]), { 'x-status': status[1] });
      res.end(Number(status[1]) === 204 || Number(status[1]) === 304 ? undefined : `status ${status[1]}`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-envoy-internal-thing': 'leak' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
  });
};

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function labels(reporter: 'source' | 'destination', code: string, flags = '-'): Record<string, string> {
  return {
    reporter,
    source_workload: 'cirros-vmi',
    source_workload_namespace: 'default',
    source_principal: 'unknown',
    source_app: 'cirros-vmi',
    source_version: 'unknown',
    source_cluster: 'Kubernetes',
    source_canonical_service: 'cirros-vmi',
    source_canonical_revision: 'latest',
    destination_workload: 'istio-vmi',
    destination_workload_namespace: 'default',
    destination_principal: 'unknown',
    destination_app: 'istio-vmi',
    destination_version: 'unknown',
    destination_service: SERVICE_HOST,
    destination_service_name: 'istio-vmi-svc',
    destination_service_namespace: 'default',
    destination_cluster: 'Kubernetes',
    destination_canonical_service: 'istio-vmi',
    destination_canonical_revision: 'latest',
    request_protocol: 'http',
    response_code: code,
    grpc_response_status: '',
    response_flags: flags,
    connection_security_policy: reporter === 'source' ? 'unknown' : 'none',
  };
}

describe('HTTP through a sidecar pair', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("reaches the app, and both reporters count the request with all of Istio's labels", async () => {
    const { port } = await echoApp(cleanup, app);
    const { outbound, inbound } = await sidecarPair(cleanup, port);
    const r = await get(outbound.ports.outbound, '/hello', { method: 'POST', body: 'abc' });
    assert.equal(r.status, 200);
    assert.deepEqual((JSON.parse(r.body) as Echo).body, 'abc');
    for (const [side, reporter] of [
      [outbound, 'source'],
      [inbound, 'destination'],
    ] as const) {
      const requests = samples(side.metrics(), 'istio_requests_total');
      assert.deepEqual(requests, [{ name: 'istio_requests_total', labels: labels(reporter, '200'), value: 1 }], `${reporter} reporter`);
      const duration = samples(side.metrics(), 'istio_request_duration_milliseconds_count', labels(reporter, '200'));
      assert.equal(duration[0]?.value, 1);
      const reqBytes = samples(side.metrics(), 'istio_request_bytes_sum', labels(reporter, '200'))[0]?.value ?? 0;
      assert.ok(reqBytes > 3, `request bytes count the head and the body (${reqBytes})`);
      const buckets = samples(side.metrics(), 'istio_request_duration_milliseconds_bucket', { reporter }).map((s) => s.labels.le);
      assert.deepEqual(buckets, [
        '0.5',
        '1',
        '5',
        '10',
        '25',
        '50',
        '100',
        '250',
        '500',
        '1000',
        '2500',
        '5000',
        '10000',
        '30000',
        '60000',
        '300000',
        '600000',
        '1800000',
        '3600000',
        '+Inf',
      ]);
      const sizeBuckets = samples(side.metrics(), 'istio_response_bytes_bucket', { reporter }).map((s) => s.labels.le);
      assert.deepEqual(sizeBuckets, ['1', '10', '100', '1000', '10000', '100000', '1000000', '10000000', '100000000', '1000000000', '+Inf']);
    }
  });

  it('keeps or makes the request id and trace ids, with a new span per hop', async () => {
    const { port } = await echoApp(cleanup, app);
    const { outbound } = await sidecarPair(cleanup, port);
    const fresh = JSON.parse((await get(outbound.ports.outbound, '/')).body) as Echo;
    assert.match(fresh.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(fresh.headers.traceparent) ?? [];
    assert.ok(traceId, fresh.headers.traceparent);
    assert.equal(fresh.headers['x-b3-traceid'], traceId);
    assert.equal(fresh.headers['x-b3-spanid'], spanId);
    assert.equal(fresh.headers['x-b3-sampled'], '1');
    assert.match(fresh.headers['x-b3-parentspanid'], /^[0-9a-f]{16}$/, 'the inbound hop is a child of the outbound hop');
    assert.equal(fresh.headers['x-forwarded-proto'], 'http');

    const callerTrace = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    const kept = JSON.parse(
      (await get(outbound.ports.outbound, '/', { headers: { 'x-request-id': 'req-1', traceparent: `00-${callerTrace}-${callerSpan}-01` } })).body,
    ) as Echo;
    assert.equal(kept.headers['x-request-id'], 'req-1');
    assert.ok(kept.headers.traceparent.startsWith(`00-${callerTrace}-`));
    assert.notEqual(kept.headers['x-b3-spanid'], callerSpan);
    assert.notEqual(kept.headers['x-b3-parentspanid'], callerSpan, 'two hops: the parent is the outbound hop, not the caller');

    const b3 = JSON.parse(
      (await get(outbound.ports.outbound, '/', { headers: { 'x-b3-traceid': '463ac35c9f6413ad', 'x-b3-spanid': 'a2fb4a1d1a96d312', 'x-b3-sampled': '0' } }))
        .body,
    ) as Echo;
    assert.equal(b3.headers['x-b3-traceid'], '463ac35c9f6413ad');
    assert.equal(b3.headers['x-b3-sampled'], '0');
    assert.match(b3.headers.traceparent, /^00-0000000000000000463ac35c9f6413ad-[0-9a-f]{16}-00$/);
  });

  it("one hop: the caller's span is the parent", async () => {
    const { port } = await echoApp(cleanup, app);
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port }]));
    const e = JSON.parse(
      (await get(out.ports.outbound, '/', { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } })).body,
    ) as Echo;
    assert.equal(e.headers['x-b3-parentspanid'], 'b7ad6b7169203331');
    assert.match(e.headers.traceparent, /^00-0af7651916cd43dd8448eb211c80319c-(?!b7ad6b7169203331)[0-9a-f]{16}-01$/);
  });

  it("exchanges workload metadata in headers that neither app sees, and keeps the mesh's internal headers from the app", async () => {
    const { port } = await echoApp(cleanup, app);
    const { outbound } = await sidecarPair(cleanup, port);
    const r = await get(outbound.ports.outbound, '/', { headers: { 'x-envoy-peer-metadata': 'forged', 'x-envoy-retry-on': '5xx' } });
    const e = JSON.parse(r.body) as Echo;
    assert.deepEqual(
      Object.keys(e.headers).filter((h) => h.startsWith('x-envoy-')),
      [],
    );
    assert.equal(r.headers['x-envoy-peer-metadata'], undefined);
    assert.equal(r.headers['x-envoy-peer-metadata-id'], undefined);
    assert.equal(r.headers['x-envoy-internal-thing'], undefined);
    assert.match(String(r.headers['x-envoy-upstream-service-time']), /^\d+$/);
    assert.equal(r.headers['x-app'], undefined, 'the test app does not set x-app; headers pass through untouched otherwise');
    assert.equal(r.headers['content-type'], 'application/json');
  });

  it('reuses connections on both sides (keep-alive)', async () => {
    const echo = await echoApp(cleanup, app);
    const { outbound, inbound } = await sidecarPair(cleanup, echo.port);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.add(() => agent.destroy());
    for (let i = 0; i < 5; i++) assert.equal((await get(outbound.ports.outbound, `/${i}`, { agent })).status, 200);
    assert.equal(echo.connections(), 1, 'one connection from the inbound sidecar to the app');
    const cx = (h: typeof outbound, port: number) =>
      samples(h.metrics(), 'envoy_listener_downstream_cx_total', { envoy_listener_address: `127.0.0.1_${port}` })[0]?.value;
    assert.equal(cx(outbound, outbound.ports.outbound), 1, 'one client connection');
    assert.equal(cx(inbound, inbound.ports.inbound), 1, 'one connection between the sidecars');
  });

  it('streams chunked request and response bodies', async () => {
    const { port } = await echoApp(cleanup, (req, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      req.on('data', (c: Buffer) => res.write(c.toString().toUpperCase()));
      req.on('end', () => res.end('!'));
    });
    const { outbound } = await sidecarPair(cleanup, port);
    const c = await rawClient(outbound.ports.outbound, cleanup);
    c.socket.write(`POST / HTTP/1.1\r\nHost: ${SERVICE_HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    await c.until((t) => t.includes('HELLO'), 'the first chunk back');
    c.socket.write('6\r\n world\r\n0\r\n\r\n');
    const text = await c.until((t) => t.endsWith('0\r\n\r\n'), 'the last chunk');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /transfer-encoding: chunked\r\n/);
    const body = text
      .slice(text.indexOf('\r\n\r\n') + 4)
      .split('\r\n')
      .filter((_l, i) => i % 2 === 1)
      .join('');
    assert.equal(body, 'HELLO WORLD!');
  });

  for (const ending of ['FIN', 'RST'] as const) {
    it(`answers 200 Hello from the walkthrough's nc server (bare LF, no length, ${ending} after the response)`, async () => {
      const nc = await rawServer(cleanup, (s) => {
        // Like `nc -lp 8080 -c "echo -e 'HTTP/1.1 200 OK\n\nHello'"`: answer at once without reading the request;
        // nc's close with the request unread resets the connection.
        s.write('HTTP/1.1 200 OK\n\nHello\n');
        if (ending === 'FIN') s.end();
        else s.once('data', () => s.resetAndDestroy());
      });
      const { outbound, inbound } = await sidecarPair(cleanup, nc.port);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      cleanup.add(() => agent.destroy());
      for (let i = 0; i < 3; i++) {
        const r = await get(outbound.ports.outbound, '/', { agent, headers: { 'user-agent': 'curl/7.36.0' } });
        assert.equal(r.status, 200);
        assert.equal(r.body, 'Hello\n');
      }
      assert.equal(samples(outbound.metrics(), 'istio_requests_total', { response_code: '200', response_flags: '-' })[0]?.value, 3);
      assert.equal(samples(inbound.metrics(), 'istio_requests_total', { response_code: '200', response_flags: '-' })[0]?.value, 3);
      // An HTTP/1.0 client gets the body delimited by close, as it came.
      const old = await rawExchange(outbound.ports.outbound, `GET / HTTP/1.0\r\nHost: ${SERVICE_HOST}\r\n\r\n`);
      assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(old.endsWith('\r\n\r\nHello\n'), JSON.stringify(old));
    });
  }

  it('sends no body for HEAD, 204 and 304, and answers pipelined requests in order', async () => {
    const { port } = await echoApp(cleanup, app);
    const { outbound } = await sidecarPair(cleanup, port);
    const h = `Host: ${SERVICE_HOST}\r\n`;
    const text = await rawExchange(
      outbound.ports.outbound,
      `GET /1 HTTP/1.1\r\n${h}\r\nHEAD /2 HTTP/1.1\r\n${h}\r\nGET /status/204 HTTP/1.1\r\n${h}\r\nGET /status/304 HTTP/1.1\r\n${h}\r\nGET /5 HTTP/1.1\r\n${h}Connection: close\r\n\r\n`,
    );
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '204', '304', '200']);
    assert.ok(text.indexOf('"url":"/1"') < text.indexOf('"url":"/5"'));
    assert.equal(text.includes('"url":"/2"'), false, 'HEAD has no body');
    assert.equal(text.match(/status 20|status 30/), null, '204 and 304 have no body');
  });

  it('answers Expect: 100-continue itself before the body comes', async () => {
    const { port } = await echoApp(cleanup, app);
    const { outbound } = await sidecarPair(cleanup, port);
    const c = await rawClient(outbound.ports.outbound, cleanup);
    c.socket.write(`POST /upload HTTP/1.1\r\nHost: ${SERVICE_HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    await c.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), '100 Continue');
    c.socket.write('hello');
    const text = await c.until((t) => t.includes('"body":"hello"'), 'the final response');
    assert.match(text, /HTTP\/1\.1 200 OK/);
    assert.doesNotMatch(text, /"expect"/, 'Expect is not passed on');
  });

  it('turns an upgraded connection (websocket) into a tunnel after 101', async () => {
    const echo = await echoApp(cleanup, app);
    echo.server.on('upgrade', (req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`);
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
      socket.on('end', () => socket.end());
    });
    const { outbound, inbound } = await sidecarPair(cleanup, echo.port);
    const c = await rawClient(outbound.ports.outbound, cleanup);
    c.socket.write(`GET /ws HTTP/1.1\r\nHost: ${SERVICE_HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    const head = await c.until((t) => t.includes('\r\n\r\n'), 'the 101');
    assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(head, /upgrade: websocket/i);
    c.socket.write('ping');
    await c.until((t) => t.endsWith('echo:ping'), 'the echo through the tunnel');
    c.socket.write('pong');
    await c.until((t) => t.endsWith('echo:pong'), 'a second echo');
    c.socket.end();
    await c.closed;
    const counted = () => samples(inbound.metrics(), 'istio_requests_total', { response_code: '101' })[0]?.value;
    const { eventually } = await import('./test-helpers.js');
    assert.equal(await eventually(counted, 'the upgraded request counted when the tunnel closed'), 1);
  });

  it('writes an access log line per request in the format Istio configures', async () => {
    const { port } = await echoApp(cleanup, app);
    const lines: string[] = [];
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port, workload: ISTIO_VMI }]), { accessLog: (l) => lines.push(l) });
    await get(out.ports.outbound, '/logged?x=1', { headers: { 'user-agent': 'curl/8', 'x-request-id': 'rid-7' } });
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      new RegExp(
        String.raw`^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /logged\?x=1 HTTP/1\.1" 200 - via_upstream - "-" 0 \d+ \d+ \d+ "-" "curl/8" "rid-7" "${SERVICE_HOST}:8080" "127\.0\.0\.1:${port}" outbound\|8080\|\|${SERVICE_HOST.replace(/\./g, '\\.')} 127\.0\.0\.1:\d+ 10\.96\.0\.10:8080 127\.0\.0\.1:\d+ - default$`,
      ),
    );
  });
});

describe('routes', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  async function withRoutes(routes: Route[]) {
    const { port } = await echoApp(cleanup, app);
    const cfg = outboundConfig([{ address: '127.0.0.1', port, workload: ISTIO_VMI }]);
    cfg.clusters.push({ ...cfg.clusters[0], name: 'outbound|8080|v2|svc' });
    cfg.endpoints.push({ clusterName: 'outbound|8080|v2|svc', endpoints: [{ address: '127.0.0.1', port, healthStatus: 'HEALTHY' }] });
    cfg.routes = [serviceRoute(routes)];
    return sidecar(cleanup, CIRROS, cfg);
  }

  it('direct responses, header matches, rewrites, weighted clusters and added headers', async () => {
    const out = await withRoutes([
      { name: 'direct', match: { path: '/health' }, directResponse: { status: 200, body: 'fine' } },
      {
        name: 'v2',
        match: { prefix: '/', headers: [{ name: 'end-user', exact: 'jason' }] },
        route: { weightedClusters: [{ name: 'outbound|8080|v2|svc', weight: 100 }] },
      },
      {
        name: 'rewrite',
        match: { prefix: '/old/' },
        route: { cluster: `outbound|8080||${SERVICE_HOST}`, prefixRewrite: '/new/', hostRewrite: 'rewritten.example' },
        requestHeadersToAdd: [{ key: 'X-Added', value: 'req' }],
        responseHeadersToAdd: [{ key: 'X-Resp', value: 'resp' }],
      },
      { name: 'default', match: { prefix: '/' }, route: { cluster: `outbound|8080||${SERVICE_HOST}` } },
    ]);
    const direct = await get(out.ports.outbound, '/health');
    assert.equal(direct.status, 200);
    assert.equal(direct.body, 'fine');
    const rewritten = await get(out.ports.outbound, '/old/thing?q=1');
    const e = JSON.parse(rewritten.body) as Echo;
    assert.equal(e.url, '/new/thing?q=1');
    assert.equal(e.headers.host, 'rewritten.example');
    assert.equal(e.headers['x-added'], 'req');
    assert.equal(rewritten.headers['x-resp'], 'resp');
    await get(out.ports.outbound, '/', { headers: { 'end-user': 'jason' } });
    const v2 = samples(out.metrics(), 'envoy_cluster_upstream_rq_total', { cluster_name: 'outbound|8080|v2|svc' })[0]?.value;
    assert.equal(v2, 1, 'the header-matched request went to the v2 cluster');
  });

  it('injects aborts (FI) and delays (DI) as Istio fault injection', async () => {
    const out = await withRoutes([
      {
        name: 'abort',
        match: { prefix: '/abort' },
        route: { cluster: `outbound|8080||${SERVICE_HOST}` },
        fault: { abort: { httpStatus: 418, percentage: 100 } },
      },
      {
        name: 'delay',
        match: { prefix: '/delay' },
        route: { cluster: `outbound|8080||${SERVICE_HOST}` },
        fault: { delay: { fixedDelayMs: 5, percentage: 100 } },
      },
    ]);
    const aborted = await get(out.ports.outbound, '/abort');
    assert.equal(aborted.status, 418);
    assert.equal(aborted.body, 'fault filter abort');
    assert.equal((await get(out.ports.outbound, '/delay')).status, 200);
    assert.equal(samples(out.metrics(), 'istio_requests_total', { response_code: '418', response_flags: 'FI' })[0]?.value, 1);
    assert.equal(samples(out.metrics(), 'istio_requests_total', { response_code: '200', response_flags: 'DI' })[0]?.value, 1);
  });
});
