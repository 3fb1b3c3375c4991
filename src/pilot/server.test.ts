import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { eventually } from '../../test/helpers/eventually.js';
import { type RouteConfiguration, TypeUrl } from '../proxy/config.js';
import { parseConfigDump } from './config-dump.js';
import { startDebugServer } from './debug.js';
import type { VirtualService } from './model.js';
import { sidecarNode } from './proxy-node.js';
import { type MeshSnapshot, PushContext } from './push-context.js';
import { DiscoveryServer, type ProxySyncStatus } from './server.js';
import { SimulatedProxy, type SimulatedProxyOptions } from './simulated-proxy.js';
import { endpointSlice, istioObject, WALKTHROUGH as W, walkthroughSnapshot } from './testing.js';

const ORDER = [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route, TypeUrl.extension];

// Everything a test opens is closed after it, passed or failed.
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startXds(snapshot: MeshSnapshot, opts: { maxLineBytes?: number } = {}) {
  const logs: string[] = [];
  const server = new DiscoveryServer({ host: '127.0.0.1', port: 0, name: 'istiod-test', log: (l) => logs.push(l), maxLineBytes: opts.maxLineBytes });
  let seq = 0;
  const context = (s: MeshSnapshot) => new PushContext(s, { version: `v${++seq}`, clusterId: 'Kubernetes' });
  const port = await server.listen(context(snapshot));
  cleanups.push(() => server.close());
  const proxies: SimulatedProxy[] = [];
  return {
    server,
    port,
    logs,
    push: (s: MeshSnapshot, reasons: string[] = ['test']) => server.push(context(s), reasons),
    async connect(podName: string, ip: string, extra: Partial<SimulatedProxyOptions> = {}) {
      const p = await SimulatedProxy.connect({ host: '127.0.0.1', port, node: sidecarNode({ podName, namespace: 'default', ip }), ...extra });
      proxies.push(p);
      cleanups.push(() => p.close());
      return p;
    },
    status(name: string): ProxySyncStatus | undefined {
      return server.syncStatus().find((s) => s.proxy === name);
    },
  };
}

const allSynced = (s: ProxySyncStatus | undefined) => s !== undefined && Object.values(s.types).every((t) => t.status === 'SYNCED');
const cirrosName = `${W.cirrosPod}.default`;
const badRegexVs = istioObject<VirtualService>('VirtualService', 'bad', {
  hosts: ['istio-vmi-svc'],
  http: [{ match: [{ uri: { regex: '/(?P<name>x)' } }], route: [{ destination: { host: 'istio-vmi-svc' } }] }],
});
/** What a proxy compiling regexes with JavaScript's RegExp does with one it cannot compile. */
const rejectUncompilableRegex = (res: { typeUrl: string; resources: unknown[] }) => {
  if (res.typeUrl !== TypeUrl.route) return undefined;
  for (const rc of res.resources as RouteConfiguration[]) {
    for (const vh of rc.virtualHosts) {
      for (const r of vh.routes) {
        try {
          if (r.match.safeRegex !== undefined) new RegExp(r.match.safeRegex);
        } catch (e) {
          return `route ${rc.name}: ${(e as Error).message}`;
        }
      }
    }
  }
  return undefined;
};

describe('discovery server', () => {
  it('answers a new proxy with every type in push order, and reports it SYNCED once it ACKs', async () => {
    const x = await startXds(walkthroughSnapshot());
    const p = await x.connect(W.cirrosPod, W.cirrosIP, { keepResources: true });
    await p.waitFor('five responses', () => p.responses.length === 5);
    assert.deepEqual(
      p.responses.map((r) => r.typeUrl),
      ORDER,
    );
    assert.deepEqual(new Set(p.responses.map((r) => r.versionInfo)), new Set(['v1']));
    assert.equal(new Set(p.responses.map((r) => r.nonce)).size, 5);
    assert.deepEqual(p.resources(TypeUrl.extension), []);
    assert.ok(p.resources<{ name: string }>(TypeUrl.cluster).some((c) => c.name === `outbound|8080||${W.host}`));
    const status = await eventually('SYNCED in syncz', async () => allSynced(x.status(cirrosName)) && x.status(cirrosName));
    assert.equal(status.nodeId, `sidecar~${W.cirrosIP}~${W.cirrosPod}.default~default.svc.cluster.local`);
    assert.deepEqual([status.clusterId, status.istiod, status.istioVersion], ['Kubernetes', 'istiod-test', '1.10.0']);
    assert.equal(status.types.EDS.ackedVersion, 'v1');
  });

  it('keeps a rejected type NACKED with the reason while the proxy keeps its config, until a later push is accepted', async () => {
    const x = await startXds(walkthroughSnapshot());
    const p = await x.connect(W.cirrosPod, W.cirrosIP, { reject: rejectUncompilableRegex });
    await eventually('first push synced', async () => allSynced(x.status(cirrosName)));

    await x.push(walkthroughSnapshot({ virtualServices: [badRegexVs] }), ['VirtualService']);
    const nacked = await eventually('RDS NACKED', async () => x.status(cirrosName)?.types.RDS.status === 'NACKED' && x.status(cirrosName));
    assert.match(nacked.types.RDS.error ?? '', /Invalid regular expression/);
    assert.deepEqual([nacked.types.RDS.sentVersion, nacked.types.RDS.ackedVersion], ['v2', 'v1']);
    assert.equal(p.version(TypeUrl.route), 'v1');
    // Only routes changed: the other types were not sent again and stay SYNCED.
    assert.deepEqual(
      [nacked.types.CDS, nacked.types.EDS, nacked.types.LDS].map((t) => [t.status, t.sentVersion]),
      [
        ['SYNCED', 'v1'],
        ['SYNCED', 'v1'],
        ['SYNCED', 'v1'],
      ],
    );

    // An unrelated change goes out as usual; routes stay NACKED (their content did not change).
    await x.push(walkthroughSnapshot({ virtualServices: [badRegexVs], endpointSlices: [endpointSlice(W.service, [{ ip: '10.244.0.9' }])] }), ['EndpointSlice']);
    await p.waitFor('EDS v3', () => p.version(TypeUrl.endpoint) === 'v3');
    await eventually('EDS v3 acked', async () => x.status(cirrosName)?.types.EDS.ackedVersion === 'v3');
    assert.equal(x.status(cirrosName)?.types.RDS.status, 'NACKED');

    // The fix reaches the proxy and clears the NACK.
    await x.push(walkthroughSnapshot(), ['VirtualService']);
    await p.waitFor('RDS v4', () => p.version(TypeUrl.route) === 'v4');
    await eventually('all SYNCED again', async () => allSynced(x.status(cirrosName)));
    assert.ok(x.logs.some((l) => l.includes('rejected RDS version v2')));
  });

  it('sends everything again to a proxy that reconnects, changed or not', async () => {
    const x = await startXds(walkthroughSnapshot());
    const first = await x.connect(W.cirrosPod, W.cirrosIP);
    await first.waitFor('five responses', () => first.responses.length === 5);
    await first.close();
    const again = await x.connect(W.cirrosPod, W.cirrosIP);
    await again.waitFor('five responses', () => again.responses.length === 5);
    assert.deepEqual(
      again.responses.map((r) => [r.typeUrl, r.versionInfo]),
      ORDER.map((t) => [t, 'v1']),
    );
    await eventually('reconnected proxy SYNCED', async () => allSynced(x.status(cirrosName)));
  });

  it('sends a changed endpoint to every connected proxy as one new EDS version, and nothing else', async () => {
    const x = await startXds(walkthroughSnapshot());
    const proxies = await Promise.all(Array.from({ length: 5 }, (_, i) => x.connect(`virt-launcher-vm${i}-aaaaa`, `10.244.0.${20 + i}`)));
    for (const p of proxies) await p.waitFor('five responses', () => p.responses.length === 5);

    await x.push(walkthroughSnapshot({ endpointSlices: [endpointSlice(W.service, [{ ip: W.istioIP, pod: W.istioPod, ready: false }])] }), ['EndpointSlice']);
    for (const p of proxies) {
      await p.waitFor('EDS v2', () => p.version(TypeUrl.endpoint) === 'v2');
      assert.deepEqual(
        p.responses.slice(5).map((r) => [r.typeUrl, r.versionInfo]),
        [[TypeUrl.endpoint, 'v2']],
      );
    }
    assert.deepEqual(x.server.lastPush?.sent, { CDS: 0, EDS: 5, LDS: 0, RDS: 0, ECDS: 0 });
  });

  it('sends nothing for a push that changes nothing for a proxy', async () => {
    const x = await startXds(walkthroughSnapshot());
    const p = await x.connect(W.cirrosPod, W.cirrosIP);
    await p.waitFor('five responses', () => p.responses.length === 5);
    await x.push(walkthroughSnapshot(), ['Namespace']);
    await x.push(walkthroughSnapshot({ endpointSlices: [] }), ['EndpointSlice']);
    // TCP keeps order: had v2 sent anything, it would arrive before v3's EDS.
    await p.waitFor('EDS v3', () => p.version(TypeUrl.endpoint) === 'v3');
    assert.deepEqual(
      p.responses.slice(5).map((r) => [r.typeUrl, r.versionInfo]),
      [[TypeUrl.endpoint, 'v3']],
    );
  });

  it('closes connections that send garbage, with a log line, and keeps serving', async () => {
    const x = await startXds(walkthroughSnapshot(), { maxLineBytes: 4096 });
    const closedAfter = (data: string | Buffer) =>
      new Promise<void>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: x.port }, () => s.write(data));
        s.on('error', () => {});
        s.on('data', () => {});
        s.on('close', () => resolve());
        cleanups.push(() => void s.destroy());
        s.setTimeout(10_000, () => reject(new Error(`the server kept a connection that sent ${String(data).slice(0, 40)}`)));
      });
    await closedAfter('this is not json\n');
    await closedAfter('[1,2,3]\n');
    await closedAfter(`${JSON.stringify({ typeUrl: TypeUrl.cluster, versionInfo: '', responseNonce: '' })}\n`);
    await closedAfter(`${JSON.stringify({ node: { id: 'nonsense' }, typeUrl: TypeUrl.cluster, versionInfo: '', responseNonce: '' })}\n`);
    await closedAfter(Buffer.alloc(8192, 'a'));
    await closedAfter(`{"node": ${'['.repeat(5000)}\n`);
    assert.ok(x.logs.some((l) => l.includes('bad JSON')));
    assert.ok(x.logs.some((l) => l.includes('not a JSON object')));
    assert.ok(x.logs.some((l) => l.includes('the first request has no node')));
    assert.ok(x.logs.some((l) => l.includes('"nonsense"')));
    assert.ok(x.logs.some((l) => l.includes('longer than 4096 bytes')));
    const p = await x.connect(W.cirrosPod, W.cirrosIP);
    await p.waitFor('five responses', () => p.responses.length === 5);
  });

  it('ignores unknown types and answers to old nonces', async () => {
    const x = await startXds(walkthroughSnapshot());
    const p = await x.connect(W.cirrosPod, W.cirrosIP);
    await eventually('SYNCED', async () => allSynced(x.status(cirrosName)));
    p.send({ typeUrl: 'type.googleapis.com/unknown' as TypeUrl, versionInfo: '', responseNonce: '' });
    p.send({ typeUrl: TypeUrl.cluster, versionInfo: 'v0', responseNonce: 'not-a-nonce-we-sent', errorDetail: { code: 3, message: 'late' } });
    await x.push(walkthroughSnapshot({ endpointSlices: [] }), ['EndpointSlice']);
    await p.waitFor('EDS v2', () => p.version(TypeUrl.endpoint) === 'v2');
    await eventually('still SYNCED', async () => allSynced(x.status(cirrosName)));
    assert.ok(x.logs.some((l) => l.includes('unknown type')));
  });

  it('gets a proxy that stops reading to the newest config once it reads again', async () => {
    const big = (n: number, tag: number) =>
      walkthroughSnapshot({
        endpointSlices: [
          endpointSlice(
            W.service,
            Array.from({ length: n }, (_, i) => ({ ip: `10.${tag}.${i >> 8}.${i & 255}` })),
          ),
        ],
      });
    const x = await startXds(big(2000, 1));
    const p = await x.connect(W.cirrosPod, W.cirrosIP, { keepResources: false });
    await p.waitFor('five responses', () => p.responses.length === 5);
    p.pause();
    for (let v = 2; v <= 30; v++) await x.push(big(2000, v), ['EndpointSlice']);
    p.resume();
    await p.waitFor('the newest EDS (v30)', () => p.version(TypeUrl.endpoint) === 'v30');
    await eventually('v30 acked', async () => x.status(cirrosName)?.types.EDS.ackedVersion === 'v30');
    // Pushes it could not take were folded into the newest one, not queued (1 initial + 29 pushes otherwise).
    assert.ok(p.responsesOf(TypeUrl.endpoint).length < 30);
  });
});

describe('debug endpoints', () => {
  const get = (port: number, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('serves syncz, config_dump, push_status and ready', async () => {
    const x = await startXds(walkthroughSnapshot());
    const debug = await startDebugServer({
      host: '127.0.0.1',
      port: 0,
      xds: x.server,
      pushStatus: () => ({ pendingChanges: 0 }),
      ready: () => true,
      log: () => {},
    });
    cleanups.push(() => debug.close());
    const p = await x.connect(W.cirrosPod, W.cirrosIP);
    await eventually('SYNCED', async () => allSynced(x.status(cirrosName)));

    const syncz = await get(debug.port, '/debug/syncz');
    assert.equal(syncz.status, 200);
    const [entry] = JSON.parse(syncz.body) as ProxySyncStatus[];
    assert.equal(entry.proxy, cirrosName);
    assert.equal(entry.cluster_acked, entry.cluster_sent);
    assert.deepEqual(
      Object.values(entry.types).map((t) => t.status),
      ['SYNCED', 'SYNCED', 'SYNCED', 'SYNCED', 'SYNCED'],
    );

    const dump = await get(debug.port, `/debug/config_dump?proxyID=${cirrosName}`);
    assert.equal(dump.status, 200);
    const parsed = parseConfigDump(JSON.parse(dump.body));
    assert.deepEqual(
      parsed.clusters.map((c) => c.cluster.name),
      p.resources<{ name: string }>(TypeUrl.cluster).map((c) => c.name),
    );
    assert.deepEqual(new Set(parsed.listeners.map((l) => l.version)), new Set(['v1']));

    await x.push(walkthroughSnapshot({ endpointSlices: [] }), ['EndpointSlice']);
    const ps = JSON.parse((await get(debug.port, '/debug/push_status')).body);
    assert.equal(ps.version, 'v2');
    assert.deepEqual(ps.lastPush.reasons, ['EndpointSlice']);
    assert.equal(ps.connectedProxies, 1);

    assert.equal((await get(debug.port, '/ready')).status, 200);
    assert.equal((await get(debug.port, '/debug/config_dump?proxyID=nobody.default')).status, 404);
    assert.equal((await get(debug.port, '/debug/config_dump')).status, 400);
    assert.equal((await get(debug.port, '/nothing')).status, 404);
  });
});
