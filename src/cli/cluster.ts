// `virtmesh cluster up | down | status`: the embedded cluster as a background daemon
// whose whole footprint is its state directory and its processes.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { startApiServer } from '../apiserver/index.js';
import { createError } from '../errors/index.js';
import type { CliConfig } from './config.js';
import { step } from './progress.js';

const paths = (cfg: CliConfig) => ({
  pid: join(cfg.stateDir, 'run', 'cluster.pid'),
  runInfo: join(cfg.stateDir, 'run', 'cluster.json'),
  log: join(cfg.stateDir, 'logs', 'cluster.log'),
  kubeconfig: join(cfg.stateDir, 'kubeconfig'),
  ca: join(cfg.stateDir, 'pki', 'ca.crt'),
});

interface RunInfo {
  pid: number;
  url: string;
  port: number;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function runningCluster(cfg: CliConfig): RunInfo | undefined {
  const p = paths(cfg);
  if (!existsSync(p.runInfo)) return undefined;
  const info = JSON.parse(readFileSync(p.runInfo, 'utf8')) as RunInfo;
  return alive(info.pid) ? info : undefined;
}

/** GET /readyz with the cluster's CA: true once the API server answers. */
function ready(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/readyz`, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Polls until `check` passes; the error names what was awaited. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw createError('VM_ERR_CLUSTER_START_TIMEOUT', [`${timeoutMs / 1000}s`, what]);
}

export async function clusterUp(cfg: CliConfig, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const p = paths(cfg);
  const running = runningCluster(cfg);
  if (running && (await ready(running.url, readFileSync(p.ca, 'utf8')))) {
    out.write(`virtmesh cluster is already running at ${running.url} (pid ${running.pid})\n`);
    return;
  }
  mkdirSync(join(cfg.stateDir, 'logs'), { recursive: true, mode: 0o700 });
  mkdirSync(join(cfg.stateDir, 'run'), { recursive: true, mode: 0o700 });
  for (const f of [p.pid, p.runInfo]) rmSync(f, { force: true });
  const logFd = openSync(p.log, 'a');
  const child = await step(out, 'Starting the cluster daemon', async () => {
    const c = spawn(process.execPath, [process.argv[1], 'cluster', 'up', '--foreground'], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, VIRTMESH_STATE_DIR: cfg.stateDir },
    });
    c.unref();
    closeSync(logFd);
    return c;
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const info = await step(out, 'Waiting for the API server to answer', async () => {
    await waitFor('the API server to answer /readyz', 60_000, async () => {
      if (exited) {
        const tail = existsSync(p.log) ? readFileSync(p.log, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
        throw new Error(`the cluster daemon exited during start; last lines of ${p.log}:\n${tail}`);
      }
      const i = runningCluster(cfg);
      return i !== undefined && (await ready(i.url, readFileSync(p.ca, 'utf8')));
    });
    return runningCluster(cfg) as RunInfo;
  });
  out.write(`\nvirtmesh cluster is up: API server at ${info.url}\n\n  export KUBECONFIG=$(virtmesh kubeconfig)\n  kubectl get namespaces\n`);
}

/** The daemon itself: serves until SIGTERM/SIGINT, then stops cleanly. */
export async function runForeground(cfg: CliConfig): Promise<void> {
  const p = paths(cfg);
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  let api: Awaited<ReturnType<typeof startApiServer>>;
  try {
    api = await startApiServer({ stateDir: cfg.stateDir, port: cfg.apiserverPort, serviceCIDR: cfg.serviceCIDR, log });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw createError('VM_ERR_CLUSTER_PORT_IN_USE', [cfg.apiserverPort], e);
    throw e;
  }
  mkdirSync(join(cfg.stateDir, 'run'), { recursive: true });
  const info: RunInfo = { pid: process.pid, url: api.url, port: api.port, startedAt: new Date().toISOString() };
  writeFileSync(p.pid, String(process.pid));
  writeFileSync(p.runInfo, JSON.stringify(info, null, 2));
  log(`API server listening at ${api.url}`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    await api.close();
    for (const f of [p.pid, p.runInfo]) rmSync(f, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

export async function clusterDown(cfg: CliConfig, keepState: boolean, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const p = paths(cfg);
  const info = existsSync(p.runInfo) ? (JSON.parse(readFileSync(p.runInfo, 'utf8')) as RunInfo) : undefined;
  if (info && alive(info.pid)) {
    await step(out, `Stopping the cluster daemon (pid ${info.pid})`, async () => {
      process.kill(info.pid, 'SIGTERM');
      try {
        await waitFor('the cluster daemon to exit', 15_000, () => !alive(info.pid));
      } catch {
        process.kill(info.pid, 'SIGKILL');
        await waitFor('the cluster daemon to exit after SIGKILL', 5_000, () => !alive(info.pid));
      }
    });
  } else out.write('No cluster daemon is running.\n');
  for (const f of [p.pid, p.runInfo]) if (existsSync(f)) unlinkSync(f);
  if (keepState) {
    out.write(`State kept in ${cfg.stateDir}\n`);
  } else if (existsSync(cfg.stateDir)) {
    await step(out, `Removing ${cfg.stateDir}`, async () => rmSync(cfg.stateDir, { recursive: true, force: true }));
  }
}

export async function clusterStatus(cfg: CliConfig, out: NodeJS.WritableStream = process.stdout): Promise<boolean> {
  const info = runningCluster(cfg);
  if (!info) {
    out.write(`virtmesh cluster: not running (state directory ${cfg.stateDir}${existsSync(cfg.stateDir) ? ', kept' : ''})\n`);
    return false;
  }
  const ok = await ready(info.url, readFileSync(paths(cfg).ca, 'utf8'));
  out.write(`virtmesh cluster: running since ${info.startedAt} (pid ${info.pid})\n`);
  out.write(`  API server  ${info.url}  ${ok ? 'ready' : 'NOT READY'}\n`);
  out.write(`  kubeconfig  ${paths(cfg).kubeconfig}\n`);
  out.write(`  state       ${cfg.stateDir}\n`);
  return ok;
}

export function kubeconfigPath(cfg: CliConfig): string {
  const p = paths(cfg).kubeconfig;
  if (!existsSync(p)) throw createError('VM_ERR_CLUSTER_NOT_RUNNING', [cfg.stateDir]);
  return p;
}
