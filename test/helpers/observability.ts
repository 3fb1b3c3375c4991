// What the observability tests drive beside a cluster: a second real Prometheus
// (scraping the same sidecars through the cluster's service discovery), a console
// served by `virtmesh dashboard --prometheus`, and Debian's Chromium through
// playwright-core. Each start has a stop that leaves nothing behind.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { prometheusConfig } from '../../src/telemetry/index.js';
import { freeLoopbackPort } from '../../src/util/ports.js';
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

export interface TestPrometheus {
  url: string;
  /** Kills the process (the data directory stays, as after a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

/** A real Prometheus of the test's own, on a free loopback port, with virtmesh's scrape configuration. */
export async function startTestPrometheus(targetsUrl: string): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), prometheusConfig(targetsUrl));
  const port = await freeLoopbackPort(0);
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  const start = async () => {
    // setpriv --pdeathsig: it ends with the test process however that ends.
    const args = [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`];
    child = spawn('setpriv', ['--pdeathsig', 'KILL', 'prometheus', ...args], { stdio: 'ignore' });
    await eventually(
      `the test's Prometheus on ${url} to be ready`,
      async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true,
      30_000,
      200,
    );
  };
  try {
    await start();
  } catch (e) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StandaloneConsole {
  url: string;
  stop(): Promise<void>;
}

/** `virtmesh dashboard --prometheus <url>`: the console served from the CLI against another Prometheus. */
export async function startStandaloneConsole(stateDir: string, prometheusUrl: string): Promise<StandaloneConsole> {
  const child = spawn(process.execPath, [bin, 'dashboard', '--prometheus', prometheusUrl, '--no-browser'], {
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
