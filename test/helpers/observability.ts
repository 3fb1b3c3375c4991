// What the observability tests drive beside a cluster: a second real Prometheus
// (scraping the same sidecars through the cluster's service discovery), a console
// served by `virtmesh dashboard --prometheus`, and Debian's Chromium through
// playwright-core. Each start has a stop that leaves nothing behind.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { prometheusConfig } from '../../src/telemetry/index.js';
import { startTestPrometheus, type TestPrometheus } from '../../src/telemetry/testing.js';
import { bin, clusterEnv } from './daemon.js';
import { eventually } from './eventually.js';

/** Where screenshots go (kept by CI as test artifacts). */
export const artifactsDir = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console');

export async function getJson<T = any>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** A real Prometheus of the test's own, on a free loopback port, with virtmesh's scrape configuration. */
export function startSecondPrometheus(targetsUrl: string): Promise<TestPrometheus> {
  return startTestPrometheus({ config: prometheusConfig(targetsUrl), readyTimeoutMs: 30_000 });
}

export interface StandaloneConsole {
  url: string;
  stop(): Promise<void>;
}

/** `virtmesh dashboard --prometheus <url>`: the console served from the CLI against another Prometheus. */
export async function startStandaloneConsole(stateDir: string, prometheusUrl: string, extraArgs: string[] = []): Promise<StandaloneConsole> {
  const child = spawn(process.execPath, [bin, 'dashboard', '--prometheus', prometheusUrl, '--no-browser', ...extraArgs], {
    env: clusterEnv(stateDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await eventually('virtmesh dashboard --prometheus to print its address', async () => /^http:\/\/\S+/m.test(out) || child.exitCode !== null, 20_000, 100);
  } catch (e) {
    await stop();
    throw e;
  }
  const url = out.match(/^(http:\/\/\S+)/m)?.[1];
  if (!url) throw new Error(`virtmesh dashboard --prometheus exited (${child.exitCode}): ${out}`);
  return { url, stop };
}

/** Debian's Chromium, headless. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(artifactsDir, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'], timeout: 60_000 });
}

/** A page that fails the test on uncaught errors in the console's code. */
export async function consolePage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors };
}

/** The walkthrough's loop over a window, from Prometheus. */
export interface SteadyState {
  /** istio-vmi's inbound requests as its sidecar (reporter destination) counted them. */
  requests: number;
  /** Of those, the ones not answered 2xx, by "code flags" (e.g. "503 UF"). */
  failed: Record<string, number>;
  failedShare: number;
  /** cirros-vmi's requests to istio-vmi per second, as cirros-vmi's sidecar (reporter source) counted them. */
  rate: number;
}

/** The walkthrough's steady state in the `seconds` before `end` (unix seconds), from the cluster's Prometheus. */
export async function walkthroughSteadyState(prometheusUrl: string, end: number, seconds: number): Promise<SteadyState> {
  const query = async (q: string) => {
    const r = await getJson(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}&time=${end}`);
    return r.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
  };
  const byCode = await query(
    `sum by (response_code, response_flags) (increase(istio_requests_total{reporter="destination",destination_workload="istio-vmi"}[${seconds}s]))`,
  );
  const rate = await query(`sum(rate(istio_requests_total{reporter="source",source_workload="cirros-vmi",destination_workload="istio-vmi"}[${seconds}s]))`);
  const failed: Record<string, number> = {};
  let requests = 0;
  for (const s of byCode) {
    const n = Number(s.value[1]);
    requests += n;
    if (!s.metric.response_code?.startsWith('2') && n > 0) failed[`${s.metric.response_code} ${s.metric.response_flags}`] = n;
  }
  const failedCount = Object.values(failed).reduce((a, b) => a + b, 0);
  return { requests, failed, failedShare: requests > 0 ? failedCount / requests : 0, rate: Number(rate[0]?.value[1] ?? 0) };
}
