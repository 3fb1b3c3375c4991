import assert from 'node:assert/strict';
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
  rawClient,
  rawServer,
  SERVICE_HOST,
  samples,
  sidecar,
  sidecarPair,
} from './test-helpers.js';

/** A TCP server that answers every chunk with "echo:" + chunk, and closes its side when the client does. */
async function tcpEcho(cleanup: Cleanup) {
  return rawServer(cleanup, (s) => {
    s.on('data', (d: Buffer) => s.write(`echo:${d.toString()}`));
    s.on('end', () => s.end());
  });
}

describe('TCP and passthrough', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it('PassthroughCluster (TCP): an unknown destination is reached directly, and counted with Istio TCP metrics', async () => {
    const echo = await tcpEcho(cleanup);
    const out = await sidecar(cleanup, CIRROS, outboundConfig([]));
    out.dst = { address: '127.0.0.1', port: echo.port };
    const c = await rawClient(out.ports.outbound, cleanup);
    c.socket.write('\x00\x01binary');
    await c.until((t) => t === 'echo:\x00\x01binary', 'the echo');
    c.socket.end();
    await c.closed;
    const where = { destination_service: `127.0.0.1:${echo.port}`, destination_service_name: 'PassthroughCluster' };
    const closed = await eventually(() => samples(out.metrics(), 'istio_tcp_connections_closed_total', where)[0], 'the closed connection');
    assert.deepEqual(closed.labels, {
      reporter: 'source',
      source_workload: 'cirros-vmi',
      source_workload_namespace: 'default',
      source_principal: 'unknown',
      source_app: 'cirros-vmi',
      source_version: 'unknown',
      source_cluster: 'Kubernetes',
      source_canonical_service: 'cirros-vmi',
      source_canonical_revision: 'latest',
      destination_workload: 'unknown',
      destination_workload_namespace: 'unknown',
      destination_principal: 'unknown',
      destination_app: 'unknown',
      destination_version: 'unknown',
      destination_service: `127.0.0.1:${echo.port}`,
      destination_service_name: 'PassthroughCluster',
      destination_service_namespace: 'unknown',
      destination_cluster: 'unknown',
      destination_canonical_service: 'unknown',
      destination_canonical_revision: 'unknown',
      request_protocol: 'tcp',
      response_flags: '-',
      connection_security_policy: 'unknown',
    });
    assert.equal(samples(out.metrics(), 'istio_tcp_connections_opened_total', where)[0]?.value, 1);
    assert.equal(samples(out.metrics(), 'istio_tcp_received_bytes_total', where)[0]?.value, 8);
    assert.equal(samples(out.metrics(), 'istio_tcp_sent_bytes_total', where)[0]?.value, 13);
  });

  it('PassthroughCluster (HTTP): destination_service is the Host header', async () => {
    const { port } = await echoApp(cleanup);
    const cfg = outboundConfig([]);
    cfg.listeners.push({
      name: `0.0.0.0_${port}`,
      address: '0.0.0.0',
      port,
      trafficDirection: 'OUTBOUND',
      protocol: 'http',
      filterChains: [{ filter: { type: 'http', routeConfigName: String(port) } }],
    });
    cfg.routes.push({
      name: String(port),
      virtualHosts: [{ name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: 'PassthroughCluster' } }] }],
    });
    const out = await sidecar(cleanup, CIRROS, cfg);
    out.dst = { address: '127.0.0.1', port };
    const r = await get(out.ports.outbound, '/', { host: 'kubevirt.io' });
    assert.equal(r.status, 200);
    const s = samples(out.metrics(), 'istio_requests_total')[0];
    assert.equal(s.labels.destination_service, 'kubevirt.io');
    assert.equal(s.labels.destination_service_name, 'PassthroughCluster');
    assert.equal(s.labels.destination_workload, 'unknown');
  });

  it("PassthroughCluster through virtualOutbound's own HTTP chain: sniffed HTTP to a port no listener knows counts as requests", async () => {
    const { port } = await echoApp(cleanup);
    const cfg = outboundConfig([]);
    cfg.listeners[0].protocol = 'auto';
    cfg.listeners[0].filterChains = [{ filter: { type: 'http', routeConfigName: 'allow_any' } }];
    cfg.routes.push({
      name: 'allow_any',
      virtualHosts: [{ name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: 'PassthroughCluster' } }] }],
    });
    const out = await sidecar(cleanup, CIRROS, cfg);
    out.dst = { address: '127.0.0.1', port };
    const r = await get(out.ports.outbound, '/', { host: 'kubevirt.io' });
    assert.equal(r.status, 200);
    const s = samples(out.metrics(), 'istio_requests_total')[0];
    assert.equal(s?.labels.destination_service, 'kubevirt.io');
    assert.equal(s?.labels.destination_service_name, 'PassthroughCluster');
    // Bytes that are not HTTP still pass through, as TCP.
    const c = await rawClient(out.ports.outbound, cleanup);
    c.socket.write('\x16\x03\x01 not http');
    await eventually(() => samples(out.metrics(), 'istio_tcp_connections_opened_total').length > 0, 'TCP passthrough counted');
  });

  it('BlackHoleCluster: the connection is closed, nothing sent', async () => {
    const cfg = outboundConfig([]);
    cfg.listeners[0].defaultFilterChain = { filter: { type: 'tcp', cluster: 'BlackHoleCluster' } };
    const out = await sidecar(cleanup, CIRROS, cfg);
    out.dst = { address: '203.0.113.9', port: 443 };
    const c = await rawClient(out.ports.outbound, cleanup);
    c.socket.write('hello');
    await c.closed;
    assert.equal(c.received(), '');
    const s = samples(out.metrics(), 'istio_tcp_connections_closed_total')[0];
    assert.equal(s.labels.destination_service_name, 'BlackHoleCluster');
    assert.equal(s.labels.response_flags, 'UH');
  });

  it('UF: a TCP destination that refuses closes the client connection', async () => {
    const out = await sidecar(cleanup, CIRROS, outboundConfig([]));
    out.dst = { address: '127.0.0.1', port: await closedPort() };
    const c = await rawClient(out.ports.outbound, cleanup);
    await c.closed;
    assert.equal(samples(out.metrics(), 'istio_tcp_connections_closed_total', { response_flags: 'UF' })[0]?.value, 1);
  });

  it('sniffs a port that may carry HTTP: other bytes go through the TCP chain, and the destination sees an unknown source', async () => {
    const echo = await tcpEcho(cleanup);
    const { outbound, inbound } = await sidecarPair(cleanup, echo.port);
    const c = await rawClient(outbound.ports.outbound, cleanup);
    c.socket.write('\x16\x03\x01 not http');
    await c.until((t) => t === 'echo:\x16\x03\x01 not http', 'the echo through both sidecars');
    c.socket.end();
    await c.closed;
    const dest = await eventually(() => samples(inbound.metrics(), 'istio_tcp_connections_closed_total')[0], 'the destination sample');
    assert.equal(dest.labels.reporter, 'destination');
    assert.equal(dest.labels.source_workload, 'unknown', 'plaintext TCP carries no peer metadata');
    assert.equal(dest.labels.destination_workload, 'istio-vmi');
    assert.equal(dest.labels.destination_service, SERVICE_HOST);
    assert.equal(dest.labels.connection_security_policy, 'none');
    assert.equal(samples(inbound.metrics(), 'istio_requests_total').length, 0, 'not counted as HTTP');
  });

  it('a server-first protocol works on a sniffed port: after the sniffing timeout the connection is TCP', async () => {
    const banner = await rawServer(cleanup, (s) => s.write('220 ready\r\n'));
    const cfg: ProxyConfigSet = outboundConfig([{ address: '127.0.0.1', port: banner.port, workload: ISTIO_VMI }]);
    const out = await sidecar(cleanup, CIRROS, cfg, { limits: { sniffMs: 20 } });
    const c = await rawClient(out.ports.outbound, cleanup);
    await c.until((t) => t === '220 ready\r\n', 'the banner');
    c.socket.destroy();
    const s = await eventually(() => samples(out.metrics(), 'istio_tcp_connections_opened_total')[0], 'the TCP sample');
    assert.equal(s.labels.destination_workload, 'istio-vmi', 'the endpoint names the destination workload');
  });

  it('passes half-closes on: a client that ends its side still gets the answer', async () => {
    const server = await rawServer(cleanup, (s) => {
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
      });
      s.on('end', () => s.end(`got ${got}`));
    });
    const out = await sidecar(cleanup, CIRROS, outboundConfig([]));
    out.dst = { address: '127.0.0.1', port: server.port };
    const c = await rawClient(out.ports.outbound, cleanup);
    c.socket.end('abc');
    await c.closed;
    assert.equal(c.received(), 'got abc');
  });
});
