// Shared by the telemetry tests and the console benchmark: sidecars' Istio metrics as
// virtmesh's proxy counts and renders them (IstioMetrics), served over HTTP as
// Prometheus scrapes them, and the real Prometheus (Debian's package) scraping them
// every second from a temporary directory. Everything listens on 127.0.0.1 only and is
// removed by its close().

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
  pid: number | undefined;
  client: PrometheusClient;
  /** The end of Prometheus's own log (for failure messages). */
  log(): string;
  /** Stops Prometheus (TERM, then KILL after 5 s) and removes its directory; safe to call twice. */
  close(): Promise<void>;
}

/**
 * The real Prometheus on a free loopback port, with one job per sidecar (job name = the
 * sidecar's name, metrics path /<name> on `target`), scraping every `scrapeIntervalSeconds`,
 * its data in a temporary directory. Resolves once /-/ready answers (within `readyTimeoutMs`).
 */
export async function startTestPrometheus(opts: {
  target: string;
  sidecars: Iterable<string>;
  scrapeIntervalSeconds?: number;
  readyTimeoutMs?: number;
}): Promise<TestPrometheus> {
  const interval = opts.scrapeIntervalSeconds ?? 1;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: `${interval * 1000}ms`, scrape_timeout: `${Math.round(interval * 900)}ms` },
      scrape_configs: [...opts.sidecars].map((name) => ({ job_name: name, metrics_path: `/${name}`, static_configs: [{ targets: [opts.target] }] })),
    }),
  );
  const port = await freeLoopbackPort(0);
  const args = [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`];
  // setpriv --pdeathsig: Prometheus ends with this process however it ends.
  const proc: ChildProcess = existsSync('/usr/bin/setpriv')
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'TERM', PROMETHEUS_BINARY, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(PROMETHEUS_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr?.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  let failed: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', (e) => {
      failed = e;
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      if (!failed && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return closing;
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (failed) throw new Error(`Prometheus did not start: ${failed.message}`);
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`Prometheus exited before it was ready: ${log}`);
      if (Date.now() > deadline) throw new Error(`Prometheus was not ready within ${readyTimeoutMs / 1000} s: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { url, pid: proc.pid, client: new PrometheusClient(url), log: () => log, close };
}
