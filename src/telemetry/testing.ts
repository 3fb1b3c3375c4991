// Shared by the telemetry tests, the end-to-end tests and the console benchmark:
// sidecars' Istio metrics as virtmesh's proxy counts and renders them (IstioMetrics),
// served over HTTP as Prometheus scrapes them, and the real Prometheus (Debian's
// package) scraping them, or whatever a given configuration names, from a temporary
// directory. Everything listens on 127.0.0.1 only and is removed by its close().

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { WorkloadMeta } from '../proxy/config.js';
import type { IstioMetrics } from '../proxy/metrics.js';
import { freeLoopbackPort } from '../util/ports.js';
import { PrometheusClient } from './prometheus-client.js';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

/** A VM workload's identity as its sidecar reports it (a virt-launcher pod's VMI). */
export function workloadMeta(workload: string, opts: { namespace?: string; app?: string; version?: string; ip?: string } = {}): WorkloadMeta {
  const namespace = opts.namespace ?? 'default';
  return {
    workload,
    namespace,
    canonicalService: opts.app ?? workload,
    canonicalRevision: opts.version || 'latest',
    app: opts.app ?? workload,
    version: opts.version ?? '',
    serviceAccount: 'default',
    principal: `spiffe://cluster.local/ns/${namespace}/sa/default`,
    cluster: 'Kubernetes',
    podName: `virt-launcher-${workload}-abcde`,
    ip: opts.ip ?? '10.244.0.5',
  };
}

export interface SidecarMetricsServer {
  /** host:port, as a scrape target. */
  target: string;
  close(): Promise<void>;
}

/**
 * Serves each sidecar's metrics at /<name>, rendered at every scrape as the proxy's
 * :15020/stats/prometheus renders them. `beforeScrape` runs first (for counters that
 * grow with time, such as TCP bytes).
 */
export async function serveSidecarMetrics(sidecars: ReadonlyMap<string, IstioMetrics>, beforeScrape?: (name: string) => void): Promise<SidecarMetricsServer> {
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    const metrics = sidecars.get(name);
    if (!metrics) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`no sidecar ${name}\n`);
      return;
    }
    beforeScrape?.(name);
    const out: string[] = [];
    metrics.render(out);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${out.join('\n')}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TestPrometheus {
  url: string;
  /** The running process's pid (a new one after start()). */
  readonly pid: number | undefined;
  client: PrometheusClient;
  /** The end of Prometheus's own log (for failure messages). */
  log(): string;
  /** Kills Prometheus at once, as a crash would; its data stays for start(). */
  kill(): Promise<void>;
  /** Starts it again, on the same port and data; resolves once /-/ready answers. */
  start(): Promise<void>;
  /** Stops Prometheus (TERM, then KILL after 5 s) and removes its directory; safe to call twice. */
  close(): Promise<void>;
}

/**
 * The real Prometheus on a free loopback port, its data in a temporary directory.
 * Scrapes either as `config` says (a prometheus.yml), or with one job per sidecar (job
 * name = the sidecar's name, metrics path /<name> on `target`) every `scrapeIntervalSeconds`.
 * Resolves once /-/ready answers (within `readyTimeoutMs`).
 */
export async function startTestPrometheus(
  opts: ({ config: string } | { target: string; sidecars: Iterable<string>; scrapeIntervalSeconds?: number }) & { readyTimeoutMs?: number },
): Promise<TestPrometheus> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  if ('config' in opts) writeFileSync(config, opts.config);
  else {
    const interval = opts.scrapeIntervalSeconds ?? 1;
    writeFileSync(
      config,
      stringify({
        global: { scrape_interval: `${interval * 1000}ms`, scrape_timeout: `${Math.round(interval * 900)}ms` },
        scrape_configs: [...opts.sidecars].map((name) => ({ job_name: name, metrics_path: `/${name}`, static_configs: [{ targets: [opts.target] }] })),
      }),
    );
  }
  const port = await freeLoopbackPort(0);
  const args = [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`];
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  let proc: ChildProcess | undefined;
  let exited = Promise.resolve();
  let failed: Error | undefined;
  const running = () => proc !== undefined && !failed && proc.exitCode === null && proc.signalCode === null;
  const stop = async (signal: 'SIGTERM' | 'SIGKILL') => {
    if (!running()) return;
    proc?.kill(signal);
    const killer = setTimeout(() => proc?.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
  const start = async () => {
    // setpriv --pdeathsig: Prometheus ends with this process however it ends.
    const p: ChildProcess = existsSync('/usr/bin/setpriv')
      ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'TERM', PROMETHEUS_BINARY, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(PROMETHEUS_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = p;
    failed = undefined;
    p.stderr?.on('data', (d) => {
      log = (log + d).slice(-4000);
    });
    exited = new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.once('error', (e) => {
        failed = e;
        resolve();
      });
    });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return;
      if (failed) throw new Error(`Prometheus did not start: ${(failed as Error).message}`);
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`Prometheus exited before it was ready: ${log}`);
      if (Date.now() > deadline) throw new Error(`Prometheus was not ready within ${readyTimeoutMs / 1000} s: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    })();
    return closing;
  };
  try {
    await start();
  } catch (e) {
    await close();
    throw e;
  }
  return {
    url,
    get pid() {
      return proc?.pid;
    },
    client: new PrometheusClient(url),
    log: () => log,
    kill: () => stop('SIGKILL'),
    start,
    close,
  };
}
