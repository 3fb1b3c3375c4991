// Sidecar data-path benchmark: what a pair of proxies adds to one HTTP/1.1 request
// (1 KiB response, keep-alive), next to what nginx and HAProxy pairs configured as
// equivalent reverse proxies add, all measured in the same run with wrk:
//   direct:  wrk -> upstream (nginx serving the body)
//   nginx:   wrk -> nginx -> nginx -> upstream        (keep-alive upstreams)
//   haproxy: wrk -> haproxy -> haproxy -> upstream
//   virtmesh: wrk -> sidecar (outbound listener) -> sidecar (inbound listener) -> upstream
// Latency with one connection (p50/p90/p99), throughput with 16 connections, and the
// sidecars' RSS and CPU per 1000 requests per second. Every process listens on
// loopback only and is stopped at the end; runs are bounded in time.
// Run: npm run bench:proxy

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../src/util/ports.js';

const SECONDS = Number(process.env.VIRTMESH_BENCH_SECONDS ?? 8);
const dir = mkdtempSync(join(tmpdir(), 'virtmesh-bench-proxy-'));
const children: ChildProcess[] = [];

/** Waits until something accepts connections on the port (bounded). */
async function listening(port: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // Its own process group, so stopping it stops its workers too (nginx's outlive a killed master).
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env }, detached: true });
  children.push(child);
  return child;
}

function nginx(name: string, server: string): ChildProcess {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `daemon off; worker_processes 1; pid ${join(dir, `${name}.pid`)}; error_log stderr error;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  keepalive_requests 1000000;
  ${server} }
`,
  );
  return start('nginx', ['-c', conf, '-p', dir]);
}

const proxyServer = (listen: number, upstream: number) => `
  upstream next { server 127.0.0.1:${upstream}; keepalive 32; }
  server { listen 127.0.0.1:${listen}; location / { proxy_pass http://next; proxy_http_version 1.1; proxy_set_header Connection ""; } }`;

function haproxy(name: string, listen: number, upstream: number): ChildProcess {
  const conf = join(dir, `${name}.cfg`);
  writeFileSync(
    conf,
    `global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend in
  bind 127.0.0.1:${listen}
  default_backend next
backend next
  server up 127.0.0.1:${upstream}
`,
  );
  return start('haproxy', ['-db', '-f', conf]);
}

interface WrkResult {
  p50: number;
  p90: number;
  p99: number;
  rps: number;
}

/** Microseconds from wrk's "50.000%  1.23ms" style lines. */
function micros(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1_000_000);
}

function wrk(port: number, connections: number, seconds = SECONDS): WrkResult {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`], {
    encoding: 'utf8',
    timeout: (seconds + 30) * 1000,
  });
  const pct = (p: string) => micros(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors) throw new Error(`wrk saw errors through 127.0.0.1:${port}: ${errors[0]}`);
  return { p50: pct('50'), p90: pct('90'), p99: pct('99'), rps };
}

/** CPU seconds (user + system) and RSS (KiB) of a process, from /proc. */
function usage(pid: number): { cpu: number; rssKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpu: ticks / 100, rssKiB: rss };
}

interface PathResult {
  name: string;
  latency: WrkResult;
  throughput: WrkResult;
  proxies?: Array<{ rssKiB: number; cpuPer1000Rps: number }>;
}

async function measure(name: string, port: number, proxyPids: number[] = []): Promise<PathResult> {
  // Every path gets the same warm-up first (JIT compilation, connection pools), so no row pays for a cold start.
  process.stdout.write(`• ${name}: warming up (2 s)…\n`);
  wrk(port, 4, 2);
  process.stdout.write(`• ${name}: latency (1 connection, ${SECONDS} s)…\n`);
  const latency = wrk(port, 1);
  process.stdout.write(`• ${name}: throughput (16 connections, ${SECONDS} s)…\n`);
  const before = proxyPids.map(usage);
  const throughput = wrk(port, 16);
  const after = proxyPids.map(usage);
  const proxies = proxyPids.map((_, i) => ({
    rssKiB: after[i].rssKiB,
    // CPU seconds per second of load, per 1000 requests per second.
    cpuPer1000Rps: (after[i].cpu - before[i].cpu) / SECONDS / (throughput.rps / 1000),
  }));
  return { name, latency, throughput, ...(proxyPids.length ? { proxies } : {}) };
}

async function sidecarPair(upstream: number): Promise<{ port: number; pids: number[] }> {
  const [outboundPort, inboundPort] = [await freeLoopbackPort(0), await freeLoopbackPort(0)];
  const script = join(import.meta.dirname, 'sidecar-process.ts');
  const common = { VIRTMESH_BENCH_UPSTREAM: String(upstream), VIRTMESH_BENCH_OUTBOUND: String(outboundPort), VIRTMESH_BENCH_INBOUND: String(inboundPort) };
  const dest = start(process.execPath, ['--import', 'tsx', script, 'inbound'], common);
  const source = start(process.execPath, ['--import', 'tsx', script, 'outbound'], common);
  await listening(inboundPort, 'the inbound sidecar');
  await listening(outboundPort, 'the outbound sidecar');
  return { port: outboundPort, pids: [source.pid ?? 0, dest.pid ?? 0] };
}

const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${Math.round(v)} us`);

function report(results: PathResult[]): void {
  const direct = results[0];
  const nginxPair = results.find((r) => r.name === 'nginx pair');
  const rows = results.map((r) => {
    const added = (k: 'p50' | 'p90' | 'p99') => r.latency[k] - direct.latency[k];
    const vsNginx = nginxPair && r !== direct ? `${(added('p50') / (nginxPair.latency.p50 - direct.latency.p50)).toFixed(1)}x` : '';
    const tputVsNginx = nginxPair && r !== direct ? `${(r.throughput.rps / nginxPair.throughput.rps).toFixed(2)}x` : '';
    return [
      r.name,
      us(r.latency.p50),
      us(r.latency.p90),
      us(r.latency.p99),
      r === direct ? '' : `${us(added('p50'))} / ${us(added('p90'))} / ${us(added('p99'))}`,
      vsNginx,
      String(Math.round(r.throughput.rps)),
      tputVsNginx,
    ];
  });
  const head = ['path', 'p50', 'p90', 'p99', 'added p50 / p90 / p99', 'added p50 vs nginx pair', 'rps (16 conns)', 'rps vs nginx pair'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(`\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
  for (const r of results) {
    for (const [i, p] of (r.proxies ?? []).entries()) {
      console.log(`${r.name} proxy ${i + 1}: RSS ${(p.rssKiB / 1024).toFixed(1)} MiB, ${p.cpuPer1000Rps.toFixed(3)} CPU-seconds per second per 1000 rps`);
    }
  }
}

async function main(): Promise<void> {
  const body = 'x'.repeat(1024);
  const up = await freeLoopbackPort(0);
  nginx('upstream', `server { listen 127.0.0.1:${up}; location / { return 200 '${body}'; } }`);
  await listening(up, 'the upstream');
  const results: PathResult[] = [await measure('direct', up)];

  const [n1, n2] = [await freeLoopbackPort(0), await freeLoopbackPort(0)];
  nginx('nginx-b', proxyServer(n2, up));
  nginx('nginx-a', proxyServer(n1, n2));
  await listening(n1, 'the nginx pair');
  results.push(await measure('nginx pair', n1));

  const [h1, h2] = [await freeLoopbackPort(0), await freeLoopbackPort(0)];
  haproxy('haproxy-b', h2, up);
  haproxy('haproxy-a', h1, h2);
  await listening(h1, 'the HAProxy pair');
  results.push(await measure('haproxy pair', h1));

  const pair = await sidecarPair(up);
  results.push(await measure('virtmesh sidecar pair', pair.port, pair.pids));
  report(results);
}

try {
  await main();
} finally {
  for (const c of children) {
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
