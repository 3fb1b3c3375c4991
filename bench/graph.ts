// Console benchmark: what the console's graph and metrics API costs on top of the
// PromQL it sends, against the real Prometheus, for meshes of 10, 50 and 200 workloads.
//
// A synthetic mesh per size (namespace mesh-<n>): VM workloads in pairs of versions
// (app-<k>-v1, app-<k>-v2) behind a Service app-<k>, calling each other in a fan-out
// tree with a few cross links, over HTTP with some 404s, 503s and requests that never
// reached their destination (UH); an ingress without a sidecar calling app-0; TCP from
// every tenth workload to a database workload (db); a few calls out through
// PassthroughCluster. Every sidecar's metrics are counted and rendered by virtmesh's
// own proxy code (IstioMetrics), served over HTTP from a child process (so that the
// scrapes do not run on the event loop being measured), and scraped every second by
// the real Prometheus. Once Prometheus holds a full rate window of every sidecar,
// scraping stops and every query is evaluated at that moment, so that the two cores
// measure queries rather than ingestion. The API server holds the meshes' pods and
// Services, as the cluster's would, and the console server reads it on every graph request.
//
// Per size, interleaved, after a warm-up, bounded in count and time:
//   graph:   the graph builder's PromQL (graphQueries) POSTed concurrently to
//            /api/v1/query (the baseline); buildGraph end to end; the console's
//            GET /api/namespaces/graph; graphFromSamples alone on recorded samples;
//   metrics: one workload's inbound metrics as the web console asks for them
//            (10 minutes, every 6 s, p50/p95/p99): the range queries alone (the
//            baseline); workloadMetrics; the console's GET .../workloads/<w>/metrics.
// Everything listens on 127.0.0.1 and is stopped and removed at the end, also on
// failure and on SIGINT.
// Run: npm run bench:console

import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../src/apiserver/index.js';
import { ApiClient, resourcePath } from '../src/client/index.js';
import { startConsoleServer } from '../src/console/index.js';
import { launcherPod, service } from '../src/pilot/testing.js';
import type { WorkloadMeta } from '../src/proxy/config.js';
import { Flag, IstioMetrics, type ServiceLabels, type TcpSeries } from '../src/proxy/metrics.js';
import type { GraphResponse, MetricsResponse } from '../src/telemetry/api.js';
import { buildGraph, type GraphSamples, graphFromSamples, graphQueries } from '../src/telemetry/graph.js';
import { type MetricsQuery, metricsQueries, workloadMetrics } from '../src/telemetry/metrics.js';
import { PROMETHEUS_BINARY, serveSidecarMetrics, startTestPrometheus, type TestPrometheus, workloadMeta } from '../src/telemetry/testing.js';

const SIZES = [10, 50, 200];
/** The graph's rate window, in seconds. */
const WINDOW = 30;
const WARMUP = 3;
const ITERATIONS = 30;
/** Per size: the graph's and the metrics' iterations stop early past these. */
const GRAPH_BUDGET_MS = 120_000;
const METRICS_BUDGET_MS = 45_000;
/** The biggest graph's queries one at a time. */
const BREAKDOWN_ITERATIONS = 10;
const BREAKDOWN_BUDGET_MS = 45_000;
/** Until Prometheus holds a full rate window of every sidecar's scrapes. */
const DATA_TIMEOUT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 30_000;
const TICK_MS = 100;
/** The web console's metrics page: 10 minutes, a point every max(5, duration/100) s, these quantiles. */
const METRICS: Omit<MetricsQuery, 'direction' | 'reporter' | 'queryTime'> = {
  duration: 600,
  step: 6,
  rateInterval: '1m',
  quantiles: ['0.5', '0.95', '0.99'],
  byLabels: [],
};

// ---------------------------------------------------------------- the synthetic mesh

interface Topology {
  namespace: string;
  /** Workloads serving HTTP, two versions per app. */
  workloads: Array<{ name: string; app: string; version: string }>;
  /** app-<k> selects both versions of app k. */
  apps: string[];
  /** App k calls the Service of app c (both of k's versions, reaching both of c's). */
  calls: Array<[number, number]>;
  /** Workload indexes that open TCP to db. */
  tcpClients: number[];
  /** Workload indexes that call out through PassthroughCluster. */
  passthrough: number[];
}

function topology(n: number): Topology {
  const apps = Array.from({ length: Math.ceil(n / 2) }, (_, k) => `app-${k}`);
  const workloads = Array.from({ length: n }, (_, i) => ({ name: `app-${i >> 1}-v${(i & 1) + 1}`, app: `app-${i >> 1}`, version: `v${(i & 1) + 1}` }));
  const calls: Array<[number, number]> = [];
  for (let k = 0; k < apps.length; k++) {
    for (let c = 3 * k + 1; c <= 3 * k + 3 && c < apps.length; c++) calls.push([k, c]);
    const cross = (k * 7 + 3) % apps.length;
    if (k % 4 === 2 && cross !== k) calls.push([k, cross]);
  }
  const indexes = workloads.map((_, i) => i);
  return {
    namespace: `mesh-${n}`,
    workloads,
    apps,
    calls,
    tcpClients: indexes.filter((i) => i % 10 === 0),
    passthrough: indexes.filter((i) => i % 20 === 3),
  };
}

/** The child process: every mesh's sidecars, counting requests every TICK_MS and serving their metrics. */
async function meshProcess(): Promise<void> {
  const sidecars = new Map<string, IstioMetrics>();
  const recorders: Array<(tick: number) => void> = [];
  const tcpFlows: Array<{ out: TcpSeries; db: TcpSeries; rate: number }> = [];
  const dbTotals: Array<{ series: TcpSeries; flows: typeof tcpFlows }> = [];
  for (const n of SIZES) {
    const t = topology(n);
    const ns = t.namespace;
    const metas = t.workloads.map((w, i) => workloadMeta(w.name, { namespace: ns, app: w.app, version: w.version, ip: `10.244.${n}.${i + 1}` }));
    const at = metas.map((m) => {
      const metrics = new IstioMetrics();
      sidecars.set(`${ns}.${m.workload}`, metrics);
      return metrics;
    });
    const svc = t.apps.map((a): ServiceLabels => ({ host: `${a}.${ns}.svc.cluster.local`, name: a, namespace: ns }));
    const versionsOf = (k: number) => [2 * k, 2 * k + 1].filter((i) => i < metas.length);
    /** One flow: one request per tick, reported by the source's and the destination's sidecar (when there is one). */
    const http = (src: number | undefined, dst: number, c: number, f: number) => {
      const srcMeta: WorkloadMeta | undefined = src === undefined ? undefined : metas[src];
      const out = src === undefined ? undefined : at[src].labelPrefix('source', 'http', srcMeta, metas[dst], svc[c]);
      const inb = at[dst].labelPrefix('destination', 'http', srcMeta, metas[dst], svc[c]);
      const record = (code: number, flags: number, ms: number, reached = true) => {
        const resBytes = 1000 + (f % 5) * 500;
        if (out !== undefined && src !== undefined) at[src].recordRequest(out, 'source', code, flags, ms + 1, 200, resBytes);
        if (reached) at[dst].recordRequest(inb, 'destination', code, flags, ms, 200, resBytes);
      };
      recorders.push((tick) => {
        // Every outcome at tick 0, so that every series exists from the first scrape.
        record(200, 0, 2 + ((tick * 7 + f * 13) % 97));
        if (c % 11 === 4 && tick % 10 === 0) record(404, 0, 1);
        if (c % 7 === 3 && tick % 20 === 0) record(503, 0, 3);
        if (c % 13 === 5 && src !== undefined && tick % 25 === 0) record(503, Flag.UH, 0, false);
      });
    };
    let f = 0;
    for (const [k, c] of t.calls) for (const src of versionsOf(k)) for (const dst of versionsOf(c)) http(src, dst, c, f++);
    // An ingress without a sidecar: only app-0's sidecars report it, with an unknown source.
    for (const dst of versionsOf(0)) http(undefined, dst, 0, f++);
    // Passthrough: no destination sidecar, so only the source reports it.
    const passthrough = (i: number): ServiceLabels => ({ host: `api-${i}.example.com`, name: 'PassthroughCluster', namespace: 'unknown' });
    for (const i of t.passthrough) {
      const prefix = at[i].labelPrefix('source', 'http', metas[i], undefined, passthrough(i));
      recorders.push((tick) => {
        if (tick % 5 === 0) at[i].recordRequest(prefix, 'source', 200, 0, 40, 100, 3000);
      });
    }
    // TCP to db: plaintext, so db's sidecar reports every client as unknown (one series).
    const db = workloadMeta('db', { namespace: ns, app: 'db', version: 'v1', ip: `10.244.${n}.250` });
    const dbService: ServiceLabels = { host: `db.${ns}.svc.cluster.local`, name: 'db', namespace: ns };
    const atDb = new IstioMetrics();
    sidecars.set(`${ns}.db`, atDb);
    const inbound = atDb.tcpSeries(atDb.labelPrefix('destination', 'tcp', undefined, db, dbService), 'destination', 0);
    inbound.opened = t.tcpClients.length;
    const flows: typeof tcpFlows = [];
    t.tcpClients.forEach((i, j) => {
      const out = at[i].tcpSeries(at[i].labelPrefix('source', 'tcp', metas[i], db, dbService), 'source', 0);
      out.opened = 1;
      flows.push({ out, db: inbound, rate: 1 + (j % 3) });
    });
    tcpFlows.push(...flows);
    dbTotals.push({ series: inbound, flows });
  }
  let tick = 0;
  const step = () => {
    for (const r of recorders) r(tick);
    tick++;
  };
  step();
  const ticker = setInterval(step, TICK_MS);
  const started = Date.now();
  // TCP bytes grow with time, as one long connection's do; db's counters are the sum of its clients'.
  const tcpBytes = () => {
    const ms = Date.now() - started;
    for (const t of tcpFlows) {
      t.out.sent = ms * t.rate * 10;
      t.out.received = ms * t.rate * 40;
    }
    for (const d of dbTotals) {
      d.series.received = d.flows.reduce((s, t) => s + t.out.sent, 0);
      d.series.sent = d.flows.reduce((s, t) => s + t.out.received, 0);
    }
  };
  const server = await serveSidecarMetrics(sidecars, tcpBytes);
  const stop = () => {
    clearInterval(ticker);
    void server.close().then(() => process.exit(0));
  };
  // Frozen: no more requests or scrapes (Prometheus keeps what it has), so that only the queries use the CPU.
  process.on('message', (m: { freeze?: boolean }) => {
    if (!m.freeze) return;
    clearInterval(ticker);
    void server.close().then(() => process.send?.({ frozen: true }));
  });
  // The benchmark going away, however it goes, ends this process.
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', () => {});
  process.send?.({ target: server.target, sidecars: [...sidecars.keys()] });
}

// ---------------------------------------------------------------- measuring

const now = () => performance.now();
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmtMs = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} us` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);
const fmtMiB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const fmtKiB = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const say = (s: string) => process.stderr.write(`  ${s}\n`);

/** POSTs a query as the console's Prometheus client does; the answer's body is read, not parsed. */
async function rawQuery(base: string, path: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Prometheus answered ${path} with HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

async function getJson<T>(url: string): Promise<{ body: T; bytes: number }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  if (!res.ok) throw new Error(`the console answered ${url} with HTTP ${res.status}: ${text.slice(0, 300)}`);
  return { body: JSON.parse(text) as T, bytes: Buffer.byteLength(text) };
}

/** Runs every variant once per iteration, in turn, so that they share the machine's moments alike. */
async function interleaved(variants: Array<() => unknown>, budgetMs: number, iterations = ITERATIONS): Promise<number[][]> {
  const deadline = Date.now() + budgetMs;
  const times = variants.map(() => [] as number[]);
  for (let i = 0; i < WARMUP + iterations; i++) {
    if (i > WARMUP && Date.now() > deadline) break;
    for (let v = 0; v < variants.length; v++) {
      const t0 = now();
      await variants[v]();
      if (i >= WARMUP) times[v].push(now() - t0);
    }
  }
  return times;
}

interface Row {
  size: string;
  what: string;
  times: number[];
  base?: number[];
  result: string;
}

/** Columns padded to their widest cell (`left` ones on the left); a blank line where column 0 changes, which is shown once. */
function printTable(table: string[][], left: Set<number>): void {
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  table.forEach((r, row) => {
    const group = row > 1 && r[0] !== table[row - 1][0];
    if (group && left.has(1)) console.log('');
    const cells = r.map((x, i) => (left.has(i) ? x.padEnd(widths[i]) : x.padStart(widths[i])));
    if (row > 1 && !group && left.has(1)) cells[0] = ''.padEnd(widths[0]);
    console.log(cells.join('  ').trimEnd());
  });
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const vmRssOf = (pid: number | undefined) => {
  if (!pid || !existsSync(`/proc/${pid}/status`)) return Number.NaN;
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
};

// ---------------------------------------------------------------- the run

const closers: Array<() => unknown> = [];
let closing: Promise<void> | undefined;
/** Stops and removes everything started, last first; once, however the run ends. */
function closeAll(): Promise<void> {
  closing ??= (async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (e) {
        process.stderr.write(`cleanup: ${(e as Error).message}\n`);
      }
    }
  })();
  return closing;
}

async function main(): Promise<void> {
  if (!existsSync(PROMETHEUS_BINARY)) throw new Error(`${PROMETHEUS_BINARY} is not installed (npm run setup installs it)`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping\n`);
      void closeAll().finally(() => process.exit(130));
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-bench-console-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));

  // The meshes' sidecars, in their own process.
  say('starting the synthetic meshes');
  const child: ChildProcess = fork(process.argv[1], ['--mesh'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(killer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  const mesh = await new Promise<{ target: string; sidecars: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the mesh process did not report its metrics server within 30 s')), 30_000);
    child.once('message', (m: { target: string; sidecars: string[] }) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`the mesh process exited (${code}) before serving`)));
  });

  say(`starting Prometheus: ${mesh.sidecars.length} sidecars, scraped every 1 s`);
  const prometheus: TestPrometheus = await startTestPrometheus({ target: mesh.target, sidecars: mesh.sidecars, readyTimeoutMs: 30_000 });
  closers.push(() => prometheus.close());
  const prom = prometheus.client;

  // The API server, holding the meshes' pods and Services, and the console reading it and Prometheus.
  const api = await startApiServer({ stateDir: join(dir, 'api'), port: 0, log: () => {} });
  closers.push(() => api.close());
  const client = new ApiClient({ url: api.url, token: api.adminToken, ca: api.caCert });
  closers.push(() => client.close());
  say('writing the meshes pods and Services to the API server');
  for (const n of SIZES) {
    const t = topology(n);
    const ns = t.namespace;
    await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    /** A launcher pod as the API server takes it (images are required). */
    const pod = (vmi: string, i: number, labels: Record<string, string>) => {
      const p = launcherPod(vmi, `virt-launcher-${vmi}-abcde`, `10.244.${n}.${i + 1}`, { namespace: ns, labels });
      const containers = (p.spec?.containers ?? []).map((c) => ({ ...c, image: `quay.io/kubevirt/${c.name === 'istio-proxy' ? 'proxyv2' : 'virt-launcher'}` }));
      return { ...p, spec: { ...p.spec, containers } };
    };
    const objects = [
      ...t.workloads.map((w, i) => ['pods', pod(w.name, i, { app: w.app, version: w.version })]),
      ['pods', pod('db', 249, { app: 'db', version: 'v1' })],
      ...[...t.apps, 'db'].map((a) => [
        'services',
        service(a, { selector: { app: a }, ports: [{ name: 'http', port: 8080, protocol: 'TCP', targetPort: 8080 }] }, ns),
      ]),
    ] as Array<[string, object]>;
    for (let i = 0; i < objects.length; i += 25) {
      await Promise.all(objects.slice(i, i + 25).map(([plural, o]) => client.create(resourcePath({ version: 'v1', plural, namespace: ns }), o)));
    }
  }
  const consoleServer = await startConsoleServer({
    host: '127.0.0.1',
    port: 0,
    client,
    kubeUrl: api.url,
    prometheusUrl: prometheus.url,
    controlPlaneUrl: () => undefined,
    staticDir: join(dir, 'web'),
    version: 'bench',
    log: (line) => say(line),
  });
  closers.push(() => consoleServer.close());

  const targets = mesh.sidecars.length;
  say(`waiting for Prometheus to hold ${WINDOW} s of scrapes of all ${targets} sidecars (at most ${DATA_TIMEOUT_MS / 1000} s)`);
  await waitFor(`${WINDOW} s of scrapes of all ${targets} sidecars`, DATA_TIMEOUT_MS, async () => {
    const up = await prom.query('count(up == 1)');
    const full = await prom.query(`min(count_over_time(up[${WINDOW}s]))`);
    return Number(up[0]?.value[1]) === targets && Number(full[0]?.value[1]) >= WINDOW - 1;
  });
  // Every query is evaluated at this moment, a full window of scrapes behind it; then scraping stops.
  const queryTime = Math.floor(Date.now() / 1000) - 1;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the mesh process did not stop serving within 10 s')), 10_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send({ freeze: true });
  });
  const headSeries = Number((await prom.query('count({__name__=~".+"})', queryTime))[0]?.value[1]);

  const rows: Row[] = [];
  const rssBefore = process.memoryUsage().rss;
  let biggest:
    | { n: number; builds: number; nodes: number; edges: number; build: number; base: number; http: number; assembly: number; rss: number }
    | undefined;
  /** The biggest graph's queries, one at a time: what each costs Prometheus. */
  const breakdown: string[][] = [['query', 'series', 'answer', 'p50', 'p95', 'n']];
  for (const n of SIZES) {
    const t = topology(n);
    const ns = t.namespace;
    const size = `${n} workloads`;

    // The graph.
    const queries = graphQueries([ns], WINDOW);
    const keys = Object.keys(queries) as Array<keyof GraphSamples>;
    const rawGraph = () => Promise.all(keys.map((k) => rawQuery(prometheus.url, '/api/v1/query', { query: queries[k], time: String(queryTime) })));
    const opts = { namespaces: [ns], graphType: 'workload' as const, duration: WINDOW, queryTime };
    const graphUrl = `${consoleServer.url}/api/namespaces/graph?namespaces=${ns}&graphType=workload&duration=${WINDOW}s&injectServiceNodes=true&includeIdle=false&queryTime=${queryTime}`;
    const answers = await rawGraph();
    const series = answers.reduce((s, a) => s + (JSON.parse(a) as { data: { result: unknown[] } }).data.result.length, 0);
    const samples = Object.fromEntries(await Promise.all(keys.map(async (k) => [k, await prom.query(queries[k], queryTime)]))) as unknown as GraphSamples;
    const built = await buildGraph(prom, opts);
    const served = await getJson<GraphResponse>(graphUrl);
    const nodes = built.elements.nodes.filter((x) => !x.data.isBox).length;
    const edges = built.elements.edges.length;
    if (served.body.elements.edges.length !== edges)
      throw new Error(`${ns}: the console's graph has ${served.body.elements.edges.length} edges, buildGraph's ${edges}`);
    const [tBase, tBuild, tHttp, tAssembly, tLists] = await interleaved(
      [
        rawGraph,
        () => buildGraph(prom, opts),
        () => getJson(graphUrl),
        () => graphFromSamples(samples, opts),
        () => Promise.all(['/api/v1/pods', '/apis/kubevirt.io/v1/virtualmachineinstances', '/api/v1/services', '/api/v1/endpoints'].map((p) => client.list(p))),
      ],
      GRAPH_BUDGET_MS,
    );
    const promBytes = answers.reduce((s, a) => s + Buffer.byteLength(a), 0);
    rows.push(
      {
        size,
        what: `graph: its ${keys.length} PromQL queries alone, concurrently`,
        times: tBase,
        base: tBase,
        result: `${series} series, ${fmtKiB(promBytes)}`,
      },
      { size, what: 'graph: buildGraph (queries + assembly)', times: tBuild, base: tBase, result: `${nodes} nodes, ${edges} edges` },
      { size, what: 'graph: console GET /api/namespaces/graph', times: tHttp, base: tBase, result: `${fmtKiB(served.bytes)} JSON` },
      { size, what: 'graph: graphFromSamples alone (assembly)', times: tAssembly, base: tBase, result: '' },
      { size, what: 'console: its 4 API server lists per graph', times: tLists, result: `${t.workloads.length + 1} of the mesh's pods` },
    );
    const rss = process.memoryUsage().rss;
    if (n === SIZES.at(-1)) {
      const alone = await interleaved(
        keys.map((k) => () => rawQuery(prometheus.url, '/api/v1/query', { query: queries[k], time: String(queryTime) })),
        BREAKDOWN_BUDGET_MS,
        BREAKDOWN_ITERATIONS,
      );
      keys.forEach((k, i) => {
        const times = alone[i];
        breakdown.push([
          k,
          String(samples[k]?.length ?? 0),
          fmtKiB(Buffer.byteLength(answers[i])),
          fmtMs(percentile(times, 50)),
          fmtMs(percentile(times, 95)),
          String(times.length),
        ]);
      });
      biggest = {
        n,
        builds: tBuild.length + WARMUP + 1,
        nodes,
        edges,
        build: percentile(tBuild, 50),
        base: percentile(tBase, 50),
        http: percentile(tHttp, 50),
        assembly: percentile(tAssembly, 50),
        rss,
      };
    }

    // One workload's inbound metrics: app-1-v1 (called by both versions of app-0, its own calls outbound).
    const workload = t.workloads[2].name;
    const mq: MetricsQuery = { ...METRICS, direction: 'inbound', reporter: 'destination', queryTime };
    const filter = { reporter: 'destination', destination_workload_namespace: ns, destination_workload: workload };
    const promqls = metricsQueries(filter, mq);
    const range = { start: String(queryTime - mq.duration), end: String(queryTime), step: String(mq.step) };
    const rawMetrics = () => Promise.all(promqls.map((m) => rawQuery(prometheus.url, '/api/v1/query_range', { query: m.promql, ...range })));
    const metricsUrl =
      `${consoleServer.url}/api/namespaces/${ns}/workloads/${workload}/metrics?direction=inbound&reporter=destination` +
      `&duration=${mq.duration}&step=${mq.step}&rateInterval=${mq.rateInterval}&quantiles=${mq.quantiles.join(',')}&queryTime=${queryTime}`;
    const m = await workloadMetrics(prom, { ...mq, namespace: ns, workload });
    const points = Object.values(m).reduce((s, list) => s + (list ?? []).reduce((x, ser) => x + ser.datapoints.length, 0), 0);
    const mServed = await getJson<MetricsResponse>(metricsUrl);
    const [mBase, mRun, mHttp] = await interleaved(
      [rawMetrics, () => workloadMetrics(prom, { ...mq, namespace: ns, workload }), () => getJson(metricsUrl)],
      METRICS_BUDGET_MS,
    );
    rows.push(
      { size, what: `metrics: its ${promqls.length} range queries alone, concurrently`, times: mBase, base: mBase, result: `${workload}, inbound` },
      { size, what: 'metrics: workloadMetrics', times: mRun, base: mBase, result: `${points} points` },
      { size, what: 'metrics: console GET .../workloads/<w>/metrics', times: mHttp, base: mBase, result: `${fmtKiB(mServed.bytes)} JSON` },
    );
    say(`measured: ${size} (${tBase.length} graph iterations, ${mBase.length} metrics iterations); RSS ${fmtMiB(rss)}`);
  }

  const table: string[][] = [
    ['mesh', 'request', 'p50', 'p95', 'p50 vs PromQL alone', 'n', 'result'],
    ...rows.map((r) => {
      const p50 = percentile(r.times, 50);
      return [
        r.size,
        r.what,
        fmtMs(p50),
        fmtMs(percentile(r.times, 95)),
        r.base ? `${(p50 / percentile(r.base, 50)).toFixed(2)}x` : '',
        String(r.times.length),
        r.result,
      ];
    }),
  ];
  console.log(`virtmesh console benchmark: graph and metrics API against the real Prometheus (${process.version}, ${cpus().length} cores)`);
  console.log(
    [
      `Meshes of ${SIZES.join(', ')} HTTP workloads (+ a TCP database each) in one Prometheus (${targets} sidecars scraped every 1 s, ${headSeries} series);`,
      `scraping stopped once Prometheus held a full ${WINDOW} s window, every query evaluated at its last second. Workload graph, ${WINDOW} s rate`,
      `window; metrics: ${METRICS.duration / 60} min every ${METRICS.step} s, rate over ${METRICS.rateInterval}, p${METRICS.quantiles.map((q) => Number(q) * 100).join('/p')}. ${ITERATIONS} iterations after ${WARMUP} warm-up, variants interleaved.`,
      "PromQL alone: the same queries POSTed to Prometheus's HTTP API concurrently, bodies read but not parsed. The console also",
      'lists pods, VMIs, Services and Endpoints from the API server (in this process) on every graph request.\n',
    ].join('\n'),
  );
  printTable(table, new Set([0, 1, 6]));
  console.log(`\nThe ${biggest?.n}-workload graph's queries one at a time:\n`);
  printTable(breakdown, new Set([0]));
  console.log(
    `\nRSS of this process (API server, console server and benchmark): ${fmtMiB(rssBefore)} before measuring, ${fmtMiB(biggest?.rss ?? Number.NaN)} after building the ${biggest?.n}-workload graph ${biggest?.builds} times; Prometheus: ${fmtMiB(vmRssOf(prometheus.pid))}.`,
  );
  if (biggest) {
    console.log(
      `summary: ${biggest.n} workloads -> ${biggest.nodes} nodes, ${biggest.edges} edges: buildGraph ${fmtMs(biggest.build)} p50 (${(biggest.build / biggest.base).toFixed(2)}x its PromQL alone, ${fmtMs(biggest.base)}; assembly ${fmtMs(biggest.assembly)}), console ${fmtMs(biggest.http)} (${(biggest.http / biggest.base).toFixed(2)}x)`,
    );
  }
}

if (process.argv.includes('--mesh')) {
  meshProcess().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main()
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    })
    .finally(() => closeAll());
}
