// API server benchmark: what one request, one durable write, one list and one change
// fanned out to many watchers cost, each next to a floor measured in the same run:
//   - request floor: a bare Node HTTPS server answering a fixed JSON body, same TLS, same client;
//   - write floor: one SQLite insert with synchronous=FULL (what a durable write cannot beat).
// Loops are bounded in count; everything runs on loopback and is removed at the end.
// Run: npm run bench

import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startApiServer } from '../src/apiserver/index.js';

const dir = mkdtempSync(join(tmpdir(), 'virtmesh-bench-'));
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

interface Call {
  url: string;
  ca: string;
  token: string;
}
/** One request; fails unless the answer is 2xx, so no row ever times errors. */
function call(c: Call, method: string, path: string, body?: unknown): Promise<number> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  const type = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(
      `${c.url}${path}`,
      {
        method,
        agent,
        ca: c.ca,
        headers: { Authorization: `Bearer ${c.token}`, 'Content-Type': type, ...(data ? { 'Content-Length': Buffer.byteLength(data) } : {}) },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(code);
          else reject(new Error(`${method} ${path}: HTTP ${code}`));
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}
const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} us` : `${ms.toFixed(2)} ms`);
const rows: string[][] = [];
function report(what: string, xs: number[], floor?: number[]) {
  const p50 = percentile(xs, 50);
  const ratio = floor ? `${(p50 / percentile(floor, 50)).toFixed(1)}x` : '';
  rows.push([what, fmt(p50), fmt(percentile(xs, 99)), ratio]);
  process.stderr.write(`  measured: ${what}\n`);
}

async function main() {
  const api = await startApiServer({ stateDir: join(dir, 'state'), port: 0 });
  const c: Call = { url: api.url, ca: api.caCert, token: api.adminToken };

  // Floors.
  const bare = createServer(
    {
      cert: (await import('node:fs')).readFileSync(join(dir, 'state', 'pki', 'apiserver.crt')),
      key: (await import('node:fs')).readFileSync(join(dir, 'state', 'pki', 'apiserver.key')),
    },
    (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"kind":"Status","status":"Success"}');
    },
  );
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const bareCall: Call = { url: `https://127.0.0.1:${(bare.address() as AddressInfo).port}`, ca: api.caCert, token: '' };
  const requestFloor = await timeEach(1000, () => call(bareCall, 'GET', '/'));
  const db = new Database(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
  const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { k: 'v' } });
  const writeFloor = await timeEach(500, async (i) => insert.run(`k${i}`, body));
  db.close();
  report('floor: bare HTTPS request (Node, same TLS)', requestFloor);
  report('floor: durable SQLite insert (FULL sync)', writeFloor);

  // The API server.
  const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { bench: 'yes' } }, data: { k: 'v' } });
  report('create ConfigMap', await timeEach(500, (i) => call(c, 'POST', '/api/v1/namespaces/default/configmaps', cm(`cm-${i}`))), requestFloor);
  const vmi = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    spec: {
      domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] }, resources: { requests: { memory: '128M' } } },
      networks: [{ name: 'default', pod: {} }],
    },
  };
  report(
    'create VirtualMachineInstance',
    await timeEach(200, (i) => call(c, 'POST', '/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances', { ...vmi, metadata: { name: `vmi-${i}` } })),
    requestFloor,
  );
  report('get ConfigMap', await timeEach(1000, (i) => call(c, 'GET', `/api/v1/namespaces/default/configmaps/cm-${i % 500}`)), requestFloor);
  report('list 500 ConfigMaps', await timeEach(50, () => call(c, 'GET', '/api/v1/namespaces/default/configmaps')), requestFloor);
  report(
    'list with label selector (500 match)',
    await timeEach(50, () => call(c, 'GET', '/api/v1/namespaces/default/configmaps?labelSelector=bench%3Dyes')),
    requestFloor,
  );
  report(
    'merge patch ConfigMap',
    await timeEach(300, (i) => call(c, 'PATCH', `/api/v1/namespaces/default/configmaps/cm-${i}`, { data: { k: String(i) } })),
    requestFloor,
  );

  // Fan-out: one change reaching W watchers, timed until the last watcher has it.
  for (const watchers of [10, 100]) {
    const streams: Array<{ got: number; close(): void }> = [];
    await Promise.all(
      Array.from(
        { length: watchers },
        () =>
          new Promise<void>((resolve) => {
            const s = { got: 0, close: () => {} };
            const req = request(
              `${c.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${api.store.resourceVersion}`,
              { ca: c.ca, headers: { Authorization: `Bearer ${c.token}` } },
              (res) => {
                res.on('data', (d: Buffer) => (s.got += d.toString().split('\n').length - 1));
                resolve();
              },
            );
            s.close = () => req.destroy();
            req.end();
            streams.push(s);
          }),
      ),
    );
    const fanout = await timeEach(30, async (i) => {
      const before = streams.map((s) => s.got);
      await call(c, 'PATCH', `/api/v1/namespaces/default/configmaps/cm-${i}`, { data: { fan: `${watchers}-${i}` } });
      const deadline = Date.now() + 10_000;
      while (streams.some((s, j) => s.got === before[j])) {
        if (Date.now() > deadline) throw new Error(`a change did not reach all ${watchers} watchers within 10 s`);
        await new Promise((r) => setImmediate(r));
      }
    });
    report(`one change -> ${watchers} watchers (write + delivery)`, fanout, requestFloor);
    for (const s of streams) s.close();
  }

  await api.close();
  await new Promise<void>((r) => bare.close(() => r()));
  agent.destroy();

  const widths = [0, 1, 2, 3].map((i) => Math.max(...[['operation', 'p50', 'p99', 'p50 vs floor'], ...rows].map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  console.log(`virtmesh API server benchmark (${process.version}, ${(await import('node:os')).cpus().length} cores)\n`);
  console.log(line(['operation', 'p50', 'p99', 'p50 vs floor']));
  for (const r of rows) console.log(line(r));
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
