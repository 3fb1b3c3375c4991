// Control-plane push benchmark: how long an endpoint change written through the API
// server takes to reach, and be ACKed by, every connected proxy, for 1 (the baseline,
// measured in the same run), 100, 1000 and 2000 simulated proxies; and what the
// control plane's process holds in memory meanwhile.
//
// The API server and the control plane run in this process; the simulated proxies run
// in a child process (as real proxies are other processes), which reports when each
// proxy ACKed the new EDS version. Both read the same clock (performance.timeOrigin +
// performance.now()). Everything is on loopback, bounded in count and time, and
// removed at the end. The time includes the API write, the watch event and pilot's
// 100 ms debounce, as a real change would.
// Run: node --import tsx bench/pilot-push.ts

import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../src/apiserver/index.js';
import { ApiClient, resourcePath } from '../src/client/index.js';
import { type RunningPilot, SimulatedProxy, sidecarNode, startPilot } from '../src/pilot/index.js';
import { TypeUrl } from '../src/proxy/config.js';

const SIZES = [1, 100, 1000, 2000];
const ROUNDS = 5;
const FULL_ROUNDS = 3;
const ROUND_TIMEOUT_MS = 60_000;
const DEBOUNCE_MS = 100;
const ENDPOINTS = 20;
const now = () => performance.timeOrigin + performance.now();
/** The benchmark Service's ports: the walkthrough's 8080 (auto-detected) and an HTTP port whose number the full-push rounds change. */
const servicePorts = (extra: number) => [
  { name: 'web', port: 8080, targetPort: 8080, protocol: 'TCP' },
  { name: 'http-extra', port: extra, targetPort: 9000, protocol: 'TCP' },
];

type ToChild = { connect: number; port: number } | { arm: TypeUrl } | { close: true };
type FromChild = { connected: number; ms: number } | { armed: true } | { acked: number[]; versions: string[] } | { closed: true } | { error: string };

/** The child: holds the simulated proxies. */
async function proxiesProcess(): Promise<void> {
  let proxies: SimulatedProxy[] = [];
  let armed: string[] | undefined;
  let watched: TypeUrl = TypeUrl.endpoint;
  let acked: number[] = [];
  let versions: string[] = [];
  let pending = 0;
  const reply = (m: FromChild) => process.send?.(m);
  process.on('message', async (m: ToChild) => {
    try {
      if ('connect' in m) {
        const started = now();
        proxies = [];
        // In batches: thousands of simultaneous connects would only measure the accept queue.
        for (let i = 0; i < m.connect; i += 100) {
          const batch = Array.from({ length: Math.min(100, m.connect - i) }, (_, j) => {
            const n = i + j;
            return SimulatedProxy.connect({
              host: '127.0.0.1',
              port: m.port,
              node: sidecarNode({ podName: `bench-proxy-${n}`, namespace: 'default', ip: `10.250.${n >> 8}.${n & 255}`, podPorts: [8080] }),
              keepResources: false,
              onResponse: (res, accepted) => {
                if (!armed || !accepted || res.typeUrl !== watched || res.versionInfo === armed[n] || acked[n] !== undefined) return;
                acked[n] = now();
                versions[n] = res.versionInfo;
                if (--pending === 0) reply({ acked, versions });
              },
            });
          });
          proxies.push(...(await Promise.all(batch)));
        }
        await Promise.all(proxies.map((p) => p.waitFor('the first push', () => p.responses.length >= 5, ROUND_TIMEOUT_MS)));
        reply({ connected: proxies.length, ms: now() - started });
      } else if ('arm' in m) {
        watched = m.arm;
        armed = proxies.map((p) => p.version(watched));
        acked = new Array(proxies.length);
        versions = new Array(proxies.length);
        pending = proxies.length;
        // Responses are not kept: thousands of proxies times rounds would only measure this process.
        for (const p of proxies) p.responses.length = 0;
        reply({ armed: true });
      } else if ('close' in m) {
        await Promise.all(proxies.map((p) => p.close()));
        proxies = [];
        armed = undefined;
        reply({ closed: true });
      }
    } catch (e) {
      reply({ error: `${(e as Error).message}${(e as NodeJS.ErrnoException).code === 'EMFILE' ? ' (too many open files: raise `ulimit -n`)' : ''}` });
    }
  });
}

function ask(child: ChildProcess, msg: ToChild, timeoutMs = ROUND_TIMEOUT_MS): Promise<FromChild> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the proxies process did not answer ${JSON.stringify(msg)} within ${timeoutMs / 1000} s`)), timeoutMs);
    child.once('message', (m: FromChild) => {
      clearTimeout(timer);
      if ('error' in m) reject(new Error(`proxies process: ${m.error}`));
      else resolve(m);
    });
    child.send(msg);
  });
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const median = (xs: number[]) => percentile(xs, 50);
const fmtMs = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const fmtMiB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-bench-pilot-'));
  const api = await startApiServer({ stateDir: join(dir, 'state'), port: 0 });
  const client = new ApiClient({ url: api.url, token: api.adminToken, ca: api.caCert });
  let pilot: RunningPilot | undefined;
  let child: ChildProcess | undefined;
  try {
    await client.create(resourcePath({ version: 'v1', plural: 'services', namespace: 'default' }), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istio-vmi-svc' },
      spec: { selector: { app: 'istio-vmi' }, ports: servicePorts(9000) },
    });
    const slicePath = resourcePath({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespace: 'default' });
    const endpoints = (round: number) =>
      Array.from({ length: ENDPOINTS }, (_, i) => ({
        addresses: [`10.244.${round % 200}.${i + 1}`],
        conditions: { ready: true, serving: true, terminating: false },
      }));
    await client.create(slicePath, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'istio-vmi-svc-bench', labels: { 'kubernetes.io/service-name': 'istio-vmi-svc' } },
      addressType: 'IPv4',
      endpoints: endpoints(0),
      ports: [
        { name: 'web', port: 8080, protocol: 'TCP' },
        { name: 'http-extra', port: 9000, protocol: 'TCP' },
      ],
    });
    pilot = await startPilot({
      client,
      xdsHost: '127.0.0.1',
      xdsPort: 0,
      debugHost: '127.0.0.1',
      debugPort: 0,
      debounceMs: DEBOUNCE_MS,
      name: 'istiod-bench',
      log: () => {},
    });
    const rssBefore = process.memoryUsage().rss;
    child = fork(process.argv[1], ['--proxies'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('exit', (code) => code && process.stderr.write(`proxies process exited with ${code}\n`));

    const servicePath = resourcePath({ version: 'v1', plural: 'services', namespace: 'default', name: 'istio-vmi-svc' });
    let round = 0;
    /** One change written through the API, timed until every proxy ACKed a new version of `typeUrl`. */
    const measure = async (n: number, typeUrl: TypeUrl, write: () => Promise<unknown>) => {
      if (!child) throw new Error('no proxies process');
      await ask(child, { arm: typeUrl });
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<FromChild>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${n} proxies: not all ACKed within ${ROUND_TIMEOUT_MS / 1000} s`)), ROUND_TIMEOUT_MS);
        child?.once('message', (m: FromChild) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
      const t0 = now();
      try {
        await write();
      } catch (e) {
        clearTimeout(timer);
        throw e;
      }
      const m = (await done) as { acked: number[]; versions: string[] };
      if (new Set(m.versions).size !== 1) throw new Error(`proxies ACKed different versions: ${[...new Set(m.versions)].join(', ')}`);
      return m.acked.map((t) => t - t0);
    };
    const lastPushMs = async () =>
      ((await fetch(`http://127.0.0.1:${pilot?.debugPort}/debug/push_status`).then((r) => r.json())) as { lastPush?: { durationMs: number } }).lastPush
        ?.durationMs ?? Number.NaN;

    const rows: Array<{ n: number; p50: number; max: number; total: number; edsLoop: number; full: number; fullLoop: number; connectMs: number; rss: number }> =
      [];
    for (const n of SIZES) {
      const c = (await ask(child, { connect: n, port: pilot.xdsPort }, 5 * ROUND_TIMEOUT_MS)) as { connected: number; ms: number };
      if (pilot.syncStatus().length !== n) throw new Error(`${n} proxies connected but the control plane sees ${pilot.syncStatus().length}`);
      const perProxy: number[] = [];
      const totals: number[] = [];
      const edsLoops: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const lat = await measure(n, TypeUrl.endpoint, () => client.patch(`${slicePath}/istio-vmi-svc-bench`, { endpoints: endpoints(++round) }));
        perProxy.push(...lat);
        totals.push(Math.max(...lat));
        edsLoops.push(await lastPushMs());
      }
      // A Service change regenerates everything: every type goes out, routes last.
      const fullTotals: number[] = [];
      const fullLoops: number[] = [];
      for (let r = 0; r < FULL_ROUNDS; r++) {
        const ports = servicePorts(9000 + (++round % 1000));
        fullTotals.push(Math.max(...(await measure(n, TypeUrl.route, () => client.patch(servicePath, { spec: { ports } })))));
        fullLoops.push(await lastPushMs());
      }
      rows.push({
        n,
        p50: median(perProxy),
        max: Math.max(...perProxy),
        total: median(totals),
        edsLoop: median(edsLoops),
        full: median(fullTotals),
        fullLoop: median(fullLoops),
        connectMs: c.ms,
        rss: process.memoryUsage().rss - rssBefore,
      });
      process.stderr.write(`  measured: ${n} proxies\n`);
      await ask(child, { close: true });
      // Disconnects reach the control plane asynchronously: wait until it has let go of them.
      for (let i = 0; i < 200 && pilot.syncStatus().length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    }

    const base = rows[0];
    const table = [
      [
        'proxies',
        'EDS: ACK p50',
        'ACK max',
        'all ACKed',
        'vs 1 proxy',
        'push loop',
        'full push: all ACKed',
        'vs 1 proxy',
        'push loop',
        'connect',
        'RSS growth',
      ],
      ...rows.map((r) => [
        String(r.n),
        fmtMs(r.p50),
        fmtMs(r.max),
        fmtMs(r.total),
        `${(r.total / base.total).toFixed(2)}x`,
        fmtMs(r.edsLoop),
        fmtMs(r.full),
        `${(r.full / base.full).toFixed(2)}x`,
        fmtMs(r.fullLoop),
        fmtMs(r.connectMs),
        fmtMiB(r.rss),
      ]),
    ];
    const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
    console.log(`virtmesh control-plane push benchmark (${process.version}, ${cpus().length} cores)`);
    console.log(
      [
        `EDS: an EndpointSlice change (${ENDPOINTS} endpoints), ${ROUNDS} rounds per size, timed from the API write until each proxy ACKed the new EDS version;`,
        `full push: a Service port change, ${FULL_ROUNDS} rounds, until every proxy ACKed the new RDS (sent last); medians of rounds. The ${DEBOUNCE_MS} ms debounce is included;`,
        'push loop: the control plane writing to every connection (from /debug/push_status); connect: connecting all proxies until each has its first push.\n',
      ].join('\n'),
    );
    for (const r of table) console.log(r.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  '));
    console.log(`\nRSS of the API server + control plane process: ${fmtMiB(process.memoryUsage().rss)} (growth: over its start, with the proxies connected)`);
  } finally {
    child?.kill();
    await pilot?.close();
    client.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--proxies')) void proxiesProcess();
else
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
