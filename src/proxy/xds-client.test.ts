import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { DiscoveryRequest, DiscoveryResponse } from '../pilot/protocol.js';
import { TypeUrl } from './config.js';
import { startSidecar } from './index.js';
import { createLogger } from './runtime.js';
import { CIRROS, Cleanup, echoApp, eventually, get, nodeOf, outboundConfig, SERVICE_ROUTE, serviceRoute } from './test-helpers.js';
import { SUBSCRIPTION_ORDER, XdsClient } from './xds-client.js';

/** A control plane that records every request and pushes what the test tells it to. */
class FakeControlPlane {
  server: Server | undefined;
  port = 0;
  readonly sockets = new Set<Socket>();
  readonly requests: DiscoveryRequest[] = [];
  #read = 0;
  #waiters: Array<() => void> = [];

  async start(port = 0): Promise<void> {
    this.server = createServer((s) => {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => this.sockets.delete(s));
      let partial = '';
      s.on('data', (d: Buffer) => {
        partial += d.toString();
        let nl = partial.indexOf('\n');
        while (nl !== -1) {
          this.requests.push(JSON.parse(partial.slice(0, nl)) as DiscoveryRequest);
          partial = partial.slice(nl + 1);
          nl = partial.indexOf('\n');
        }
        for (const w of this.#waiters.splice(0)) w();
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** The next request not yet taken by the test. */
  async next(): Promise<DiscoveryRequest> {
    while (this.#read >= this.requests.length) await new Promise<void>((r) => this.#waiters.push(r));
    return this.requests[this.#read++];
  }

  push(typeUrl: TypeUrl, versionInfo: string, nonce: string, resources: unknown[]): void {
    const res: DiscoveryResponse = { typeUrl, versionInfo, nonce, resources };
    for (const s of this.sockets) s.write(JSON.stringify(res) + '\n');
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

describe('discovery client', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  async function setup() {
    const cp = new FakeControlPlane();
    await cp.start();
    cleanup.add(() => cp.stop());
    const app = await echoApp(cleanup);
    const sidecar = await startSidecar({
      node: nodeOf(CIRROS),
      xds: { host: '127.0.0.1', port: cp.port },
      ports: { outbound: 0, inbound: 0, admin: 0, agent: 0, health: 0, prometheus: 0 },
      bindAddress: '127.0.0.1',
      originalDst: () => ({ address: '10.96.0.10', port: 8080 }),
      log: () => {},
      xdsBackoff: { initialMs: 5, maxMs: 20 },
    });
    cleanup.add(() => sidecar.close());
    const cfg = outboundConfig([{ address: '127.0.0.1', port: app.port }]);
    /** Pushes the whole walkthrough config at `version`, checking each ACK. */
    const pushAll = async (version: string) => {
      const parts: Array<[TypeUrl, unknown[]]> = [
        [TypeUrl.cluster, cfg.clusters],
        [TypeUrl.endpoint, cfg.endpoints],
        [TypeUrl.listener, cfg.listeners],
        [TypeUrl.route, cfg.routes],
        [TypeUrl.extension, []],
      ];
      for (const [type, resources] of parts) {
        cp.push(type, version, `${version}-${type}`, resources);
        assert.deepEqual(await cp.next(), { typeUrl: type, versionInfo: version, responseNonce: `${version}-${type}` }, `ACK of ${type}`);
      }
    };
    return { cp, sidecar, cfg, pushAll };
  }

  it('subscribes to all five types (the first request names the node), ACKs pushes, and turns ready after clusters and listeners', async () => {
    const { cp, sidecar, pushAll } = await setup();
    const subscriptions = [await cp.next(), await cp.next(), await cp.next(), await cp.next(), await cp.next()];
    assert.deepEqual(
      subscriptions.map((r) => r.typeUrl),
      SUBSCRIPTION_ORDER,
    );
    assert.equal(subscriptions[0].node?.id, nodeOf(CIRROS).id);
    assert.ok(subscriptions.slice(1).every((r) => r.node === undefined));
    assert.ok(subscriptions.every((r) => r.versionInfo === '' && r.responseNonce === ''));
    assert.equal(sidecar.ready(), false);
    assert.equal((await get(sidecar.ports.health, '/healthz/ready')).status, 503);
    await pushAll('v1');
    assert.equal(sidecar.ready(), true);
    assert.equal((await get(sidecar.ports.health, '/healthz/ready')).status, 200);
    assert.equal((await get(sidecar.ports.outbound, '/')).status, 200);
    assert.equal(sidecar.xds()?.acks, 5);
  });

  it('NACKs a route regex JavaScript cannot compile (nonce, previous version, code 3) and keeps serving the old routes', async () => {
    const { cp, sidecar, pushAll } = await setup();
    for (let i = 0; i < 5; i++) await cp.next();
    await pushAll('v1');
    const bad = serviceRoute([{ name: 'bad', match: { safeRegex: '/api/(unclosed' }, route: { cluster: 'x' } }]);
    cp.push(TypeUrl.route, 'v2', 'n-bad', [bad]);
    const nack = await cp.next();
    assert.equal(nack.typeUrl, TypeUrl.route);
    assert.equal(nack.versionInfo, 'v1');
    assert.equal(nack.responseNonce, 'n-bad');
    assert.equal(nack.errorDetail?.code, 3);
    assert.match(nack.errorDetail?.message ?? '', /invalid regex "\/api\/\(unclosed"/);
    assert.equal(sidecar.config().routes[0].virtualHosts[0].routes[0].name, 'default', 'the old routes stay');
    assert.equal((await get(sidecar.ports.outbound, '/')).status, 200);
    assert.equal(sidecar.xds()?.lastNack?.nonce, 'n-bad');
  });

  it('NACKs duplicate names, bad ports and extensions it does not have; ACKs an empty extension push', async () => {
    const { cp, cfg, pushAll } = await setup();
    for (let i = 0; i < 5; i++) await cp.next();
    await pushAll('v1');
    cp.push(TypeUrl.cluster, 'v2', 'dup', [cfg.clusters[0], cfg.clusters[0]]);
    assert.match((await cp.next()).errorDetail?.message ?? '', /duplicate cluster name/);
    cp.push(TypeUrl.listener, 'v2', 'port', [{ ...cfg.listeners[1], port: 70000 }]);
    const portNack = await cp.next();
    assert.equal(portNack.versionInfo, 'v1');
    assert.match(portNack.errorDetail?.message ?? '', /invalid port 70000/);
    cp.push(TypeUrl.endpoint, 'v2', 'ep', [{ clusterName: 'c', endpoints: [{ address: '127.0.0.1', port: 0, healthStatus: 'HEALTHY' }] }]);
    assert.match((await cp.next()).errorDetail?.message ?? '', /invalid port 0/);
    cp.push(TypeUrl.extension, 'v2', 'ext', [{ name: 'wasm' }]);
    assert.equal((await cp.next()).errorDetail?.code, 3);
    cp.push(TypeUrl.extension, 'v3', 'ext-empty', []);
    assert.deepEqual(await cp.next(), { typeUrl: TypeUrl.extension, versionInfo: 'v3', responseNonce: 'ext-empty' });
  });

  it('accepts a listener whose route config has not come yet (404 NR until it does)', async () => {
    const { cp, sidecar, cfg } = await setup();
    for (let i = 0; i < 5; i++) await cp.next();
    cp.push(TypeUrl.cluster, 'v1', 'c', cfg.clusters);
    await cp.next();
    cp.push(TypeUrl.endpoint, 'v1', 'e', cfg.endpoints);
    await cp.next();
    cp.push(TypeUrl.listener, 'v1', 'l', cfg.listeners);
    assert.equal((await cp.next()).errorDetail, undefined);
    assert.equal((await get(sidecar.ports.outbound, '/')).status, 404);
    cp.push(TypeUrl.route, 'v1', 'r', [serviceRoute()]);
    await cp.next();
    assert.equal((await get(sidecar.ports.outbound, '/')).status, 200);
    assert.equal(sidecar.config().routes[0].name, SERVICE_ROUTE);
  });

  it('keeps serving while the control plane is away, reconnects, and re-sends the versions it runs', async () => {
    const { cp, sidecar, pushAll } = await setup();
    for (let i = 0; i < 5; i++) await cp.next();
    await pushAll('v1');
    const port = cp.port;
    await cp.stop();
    await eventually(() => sidecar.xds()?.connected === false, 'the disconnect');
    for (let i = 0; i < 3; i++) assert.equal((await get(sidecar.ports.outbound, '/')).status, 200, 'the last config keeps serving');
    await cp.start(port);
    const again = [await cp.next(), await cp.next(), await cp.next(), await cp.next(), await cp.next()];
    assert.equal(again[0].node?.id, nodeOf(CIRROS).id, 'a new stream names the node again');
    assert.deepEqual(
      again.map((r) => [r.typeUrl, r.versionInfo, r.responseNonce]),
      SUBSCRIPTION_ORDER.map((t) => [t, 'v1', '']),
    );
    await pushAll('v2');
    assert.ok((sidecar.xds()?.connects ?? 0) >= 2);
    assert.equal(sidecar.ready(), true);
  });

  it('waits longer after each failed attempt, with jitter, up to the cap', () => {
    const client = new XdsClient({
      host: '127.0.0.1',
      port: 1,
      node: nodeOf(CIRROS),
      apply: () => undefined,
      versionOf: () => '',
      log: createLogger(() => {}),
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    for (let n = 0; n < 8; n++) {
      const ceiling = Math.min(1000, 100 * 2 ** n);
      for (let i = 0; i < 50; i++) {
        const w = client.backoffMs(n);
        assert.ok(w >= ceiling / 2 && w <= ceiling, `attempt ${n}: ${w} outside [${ceiling / 2}, ${ceiling}]`);
      }
    }
    const draws = new Set(Array.from({ length: 20 }, () => client.backoffMs(3)));
    assert.ok(draws.size > 1, 'jittered');
  });
});
