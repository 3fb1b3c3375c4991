import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, describe, it } from 'node:test';
import { isLoopback } from './admin.js';
import { TypeUrl } from './config.js';
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
  SERVICE_CLUSTER,
  SERVICE_HOST,
  samples,
  sidecar,
} from './test-helpers.js';

const post = (port: number, path: string) => get(port, path, { method: 'POST', host: 'localhost' });
const local = (port: number, path: string) => get(port, path, { host: 'localhost' });

describe('admin, agent and health endpoints', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  async function running() {
    const { port } = await echoApp(cleanup);
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port, workload: ISTIO_VMI }]));
    await get(out.ports.outbound, '/');
    return { out, appPort: port };
  }

  it('/config_dump is shaped like Envoy’s, each resource with its version and update time', async () => {
    const { out } = await running();
    const dump = JSON.parse((await local(out.ports.admin, '/config_dump')).body) as { configs: Array<Record<string, unknown>> };
    assert.deepEqual(
      dump.configs.map((c) => c['@type']),
      [
        'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
        'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
      ],
    );
    const clusters = dump.configs[1].dynamic_active_clusters as Array<{ version_info: string; last_updated: string; cluster: Record<string, unknown> }>;
    assert.equal(clusters[0].version_info, 'static');
    assert.match(clusters[0].last_updated, /^\d{4}-\d\d-\d\dT/);
    assert.equal(clusters[0].cluster['@type'], TypeUrl.cluster);
    assert.equal(clusters[0].cluster.name, SERVICE_CLUSTER);
    const listeners = dump.configs[2].dynamic_listeners as Array<{ name: string; active_state: { listener: { name: string } } }>;
    assert.deepEqual(
      listeners.map((l) => l.active_state.listener.name),
      ['virtualOutbound', '10.96.0.10_8080'],
    );
    assert.ok(Array.isArray(dump.configs[3].dynamic_route_configs));
    const eps = dump.configs[4].dynamic_endpoint_configs as Array<{ endpoint_config: { clusterName: string } }>;
    assert.equal(eps[0].endpoint_config.clusterName, SERVICE_CLUSTER);
    const bootstrap = dump.configs[0].bootstrap as { node: { id: string } };
    assert.equal(bootstrap.node.id, out.node.id);
  });

  it('/clusters and /listeners, as text and JSON', async () => {
    const { out, appPort } = await running();
    const text = (await local(out.ports.admin, '/clusters')).body;
    assert.ok(text.includes(`${SERVICE_CLUSTER}::127.0.0.1:${appPort}::health_flags::healthy\n`), text);
    assert.ok(text.includes(`${SERVICE_CLUSTER}::127.0.0.1:${appPort}::cx_active::1\n`), 'the kept-alive connection');
    const json = JSON.parse((await local(out.ports.admin, '/clusters?format=json')).body) as {
      cluster_statuses: Array<{ name: string; host_statuses: unknown[] }>;
    };
    assert.equal(json.cluster_statuses.find((c) => c.name === SERVICE_CLUSTER)?.host_statuses.length, 1);
    assert.equal((await local(out.ports.admin, '/listeners')).body, 'virtualOutbound::0.0.0.0:15001\n10.96.0.10_8080::10.96.0.10:8080\n');
  });

  it('/stats, /stats/prometheus (15000 and 15090) and the merged metrics on 15020', async () => {
    const { out } = await running();
    const stats = (await local(out.ports.admin, '/stats?filter=upstream_rq_total')).body;
    assert.ok(stats.includes(`cluster.${SERVICE_CLUSTER}.upstream_rq_total: 1\n`), stats);
    assert.ok(!stats.includes('server.live'), 'filtered');
    for (const port of [out.ports.admin, out.ports.prometheus, out.ports.agent]) {
      const text = (await local(port, '/stats/prometheus')).body;
      assert.equal(samples(text, 'istio_requests_total', { response_code: '200' })[0]?.value, 1, `port ${port}`);
      assert.equal(samples(text, 'envoy_server_live')[0]?.value, 1);
    }
    const merged = (await local(out.ports.agent, '/stats/prometheus')).body;
    assert.ok(samples(merged, 'istio_agent_process_resident_memory_bytes')[0]?.value > 0);
    // Every family's samples sit together under one TYPE line, as Prometheus requires.
    const types = merged.split('\n').filter((l) => l.startsWith('# TYPE '));
    assert.equal(new Set(types).size, types.length);
  });

  it('/server_info, /ready, /logging and POST-only endpoints', async () => {
    const { out } = await running();
    const info = JSON.parse((await local(out.ports.admin, '/server_info')).body) as {
      state: string;
      version: string;
      node: { id: string };
      uptime_current_epoch: string;
    };
    assert.equal(info.state, 'LIVE');
    assert.equal(info.version, 'test');
    assert.equal(info.node.id, out.node.id);
    assert.match(info.uptime_current_epoch, /^\d+s$/);
    assert.deepEqual(await local(out.ports.admin, '/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
    assert.equal((await local(out.ports.admin, '/logging?level=debug')).status, 405);
    assert.equal((await post(out.ports.admin, '/logging?level=debug')).body, 'active loggers:\n  virtmesh: debug\n');
    assert.equal((await post(out.ports.admin, '/logging?level=loud')).status, 400);
    assert.equal((await local(out.ports.admin, '/nope')).status, 404);
  });

  it('readiness: 503 before any config, 200 once configured, 503 while draining', async () => {
    const bare = await sidecar(cleanup, CIRROS, undefined);
    assert.equal((await local(bare.ports.health, '/healthz/ready')).status, 503);
    assert.equal((await local(bare.ports.agent, '/healthz/ready')).status, 503);
    assert.equal((await local(bare.ports.admin, '/ready')).body, 'PRE_INITIALIZING\n');
    bare.applyConfig(outboundConfig([]));
    assert.equal((await local(bare.ports.health, '/healthz/ready')).status, 200);
    assert.equal((await post(bare.ports.admin, '/drain_listeners?graceful')).status, 200);
    assert.equal((await local(bare.ports.health, '/healthz/ready')).status, 503);
    assert.equal(bare.state(), 'DRAINING');
  });

  it('runs the application probes of ISTIO_KUBE_APP_PROBERS against the workload on loopback', async () => {
    const guest = await rawServer(cleanup, (s) => {
      s.write('HTTP/1.1 200 OK\n\nHello\n');
      s.end();
    });
    const failing = await echoApp(cleanup, (_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const gone = await closedPort();
    const out = await sidecar(cleanup, ISTIO_VMI, outboundConfig([]), {
      appProbers: JSON.stringify({
        '/app-health/compute/readyz': { httpGet: { path: '/', port: guest.port, scheme: 'HTTP' }, timeoutSeconds: 5 },
        '/app-health/compute/livez': { tcpSocket: { port: gone }, timeoutSeconds: 1 },
        '/app-health/other/readyz': { httpGet: { path: '/x', port: failing.port, httpHeaders: [{ name: 'x-probe', value: '1' }] } },
      }),
    });
    assert.equal((await local(out.ports.agent, '/app-health/compute/readyz')).status, 200, 'a bare-LF answer from the guest passes');
    const tcp = await local(out.ports.agent, '/app-health/compute/livez');
    assert.equal(tcp.status, 503);
    assert.match(tcp.body, new RegExp(`dial tcp 127.0.0.1:${gone}: connect: connection refused`));
    const http = await local(out.ports.agent, '/app-health/other/readyz');
    assert.deepEqual([http.status, http.body], [503, 'HTTP probe failed with statuscode: 500\n']);
    assert.equal((await local(out.ports.agent, '/app-health/compute/startupz')).status, 404);
  });

  it('drain: each connection closes after its next response, and drain ends when none is left', async () => {
    const release: Array<() => void> = [];
    const { port } = await echoApp(cleanup, (req, res) => {
      if (req.url === '/quick') res.end('quick');
      else release.push(() => res.end('late'));
    });
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port }]));
    const idle = await rawClient(out.ports.outbound, cleanup);
    const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${SERVICE_HOST}\r\n\r\n`;
    idle.socket.write(request('/quick'));
    await idle.until((t) => t.includes('quick'), 'the quick response (the connection is now idle)');
    const busy = await rawClient(out.ports.outbound, cleanup);
    busy.socket.write(request('/slow'));
    await eventually(() => release.length === 1, 'the request at the app');
    let drainedAt = '';
    const drained = out.drain(10_000).then(() => {
      drainedAt = 'drained';
    });
    release[0]();
    const slow = await busy.until((t) => t.includes('late'), 'the late response');
    assert.match(slow, /connection: close\r\n/);
    await busy.closed;
    assert.equal(drainedAt, '', 'the idle connection is still open');
    idle.socket.write(request('/quick'));
    await idle.closed;
    assert.match(idle.received().slice(idle.received().lastIndexOf('HTTP/1.1')), /connection: close\r\n/);
    await drained;
    assert.equal(out.activeConnections(), 0);
  });

  it('takes /quitquitquit from the loopback only (the agent port is open to the pod network)', () => {
    for (const a of ['127.0.0.1', '127.0.0.6', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
    for (const a of ['10.244.0.3', '::ffff:10.244.0.3', '0.0.0.0', undefined]) assert.equal(isLoopback(a), false, String(a));
  });

  it('POST /quitquitquit on 15000 and 15020 asks the process to quit', async () => {
    let quits = 0;
    const out = await sidecar(cleanup, CIRROS, outboundConfig([]), { onQuit: () => quits++ });
    assert.equal((await local(out.ports.agent, '/quitquitquit')).status, 405);
    assert.equal((await post(out.ports.agent, '/quitquitquit')).body, 'OK\n');
    assert.equal((await post(out.ports.admin, '/quitquitquit')).body, 'OK\n');
    await eventually(() => quits === 2, 'both quits');
  });

  it('a keep-alive agent sees `connection: close` while draining', async () => {
    const { port } = await echoApp(cleanup);
    const out = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port }]));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.add(() => agent.destroy());
    assert.equal((await get(out.ports.outbound, '/', { agent })).headers.connection, undefined, 'HTTP/1.1 keeps the connection by default');
    void out.drain(1000);
    assert.equal((await get(out.ports.outbound, '/', { agent })).headers.connection, 'close');
  });
});
