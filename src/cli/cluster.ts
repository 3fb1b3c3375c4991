// `virtmesh cluster up | down | status`: the embedded cluster as a background daemon
// whose whole footprint is its state directory and its processes.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { startApiServer } from '../apiserver/index.js';
import { createError } from '../errors/index.js';
import { cleanUpNode, parseStandInNames, parseUplink, resolveUplinkInterface, uplinkText } from '../node/index.js';
import { installPrometheus, prometheusBinary, prometheusPaths } from '../telemetry/index.js';
import { writeAtomically } from '../util/fs.js';
import { killLeftoverProcess } from '../util/supervisor.js';
import { parseAccelSetting, resolveAccelerator } from '../vm/index.js';
import type { CliConfig } from './config.js';
import { lateLogSource, type StandInInfo, startClusterComponents, type UplinkInfo } from './daemon.js';
import { buildGuestImages } from './images.js';
import { step } from './progress.js';

const paths = (cfg: CliConfig) => ({
  pid: join(cfg.stateDir, 'run', 'cluster.pid'),
  runInfo: join(cfg.stateDir, 'run', 'cluster.json'),
  log: join(cfg.stateDir, 'logs', 'cluster.log'),
  kubeconfig: join(cfg.stateDir, 'kubeconfig'),
  ca: join(cfg.stateDir, 'pki', 'ca.crt'),
});

export interface RunInfo {
  pid: number;
  url: string;
  port: number;
  startedAt: string;
  /** The web console (Kiali's role) on loopback. */
  consoleUrl?: string;
  /** The cluster's Prometheus on loopback; absent when it is not installed. */
  prometheusUrl?: string;
  /** The external stand-in (VIRTMESH_EXTERNAL_STAND_IN), when the cluster runs one. */
  standIn?: StandInInfo;
  /** The pod network's uplink (VIRTMESH_NODE_UPLINK), when the cluster has one. */
  uplink?: UplinkInfo;
  /** The VMs' accelerator and why (VIRTMESH_VM_ACCEL and the KVM probe). */
  accelerator?: string;
}

const uplinkLine = (u: UplinkInfo) => `${u.podCIDR} -> ${u.interface}, masqueraded (VIRTMESH_NODE_UPLINK=${u.setting})`;
const standInLine = (info: RunInfo) => (info.standIn ? `${info.standIn.names.join(', ')} -> http://${info.standIn.address} (stand-in, outside the mesh)` : '');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True only for a live process that is a virtmesh cluster daemon: a reused PID is never signalled. */
function isDaemon(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('cluster') && argv.includes('up') && argv.includes('--foreground');
  } catch {
    return false;
  }
}

function readRunInfo(cfg: CliConfig): RunInfo | undefined {
  try {
    return JSON.parse(readFileSync(paths(cfg).runInfo, 'utf8')) as RunInfo;
  } catch {
    return undefined; // missing, or cut short by a crash: no daemon to speak of
  }
}

/** A daemon that holds the lock but does not serve yet (still starting): it must be stopped, not cleaned up after. */
function startingDaemon(cfg: CliConfig): { pid: number } | undefined {
  try {
    const pid = Number(readFileSync(join(cfg.stateDir, 'run', 'cluster.lock'), 'utf8'));
    return pid && isDaemon(pid) ? { pid } : undefined;
  } catch {
    return undefined;
  }
}

export function runningCluster(cfg: CliConfig): RunInfo | undefined {
  const info = readRunInfo(cfg);
  return info && isDaemon(info.pid) ? info : undefined;
}

/**
 * One daemon per state directory: it holds `run/cluster.lock` (created exclusively)
 * while it runs. A lock left by a dead daemon is taken over.
 */
function takeLock(cfg: CliConfig): () => void {
  const lock = join(cfg.stateDir, 'run', 'cluster.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(lock, 'utf8'));
      if (holder && isDaemon(holder)) throw createError('VM_ERR_CLUSTER_ALREADY_RUNNING', [cfg.stateDir, holder]);
      rmSync(lock, { force: true });
    }
  }
  throw createError('VM_ERR_CLUSTER_ALREADY_RUNNING', [cfg.stateDir, 'unknown']);
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
  if (running) {
    // A daemon is there: wait for it rather than start a second one beside it.
    await step(out, `Waiting for the running cluster (pid ${running.pid}) to answer`, () =>
      waitFor('the running API server to answer /readyz', 60_000, () => ready(running.url, readFileSync(p.ca, 'utf8'))),
    );
    out.write(`virtmesh cluster is already running at ${running.url} (pid ${running.pid})\n`);
    const wanted = parseStandInNames(cfg.externalStandIn).sort().join(', ');
    if (wanted !== [...(running.standIn?.names ?? [])].sort().join(', ')) {
      out.write(
        `note: it runs ${running.standIn ? `a stand-in for ${running.standIn.names.join(', ')}` : 'no external stand-in'}; VIRTMESH_EXTERNAL_STAND_IN=${wanted} takes effect at the next \`virtmesh cluster up\` after \`virtmesh cluster down\`\n`,
      );
    }
    const wantedUplink = uplinkText(parseUplink(cfg.nodeUplink));
    if (wantedUplink !== (running.uplink?.setting ?? 'none')) {
      out.write(
        `note: it runs ${running.uplink ? `the uplink ${running.uplink.setting}` : 'no uplink'}; VIRTMESH_NODE_UPLINK=${wantedUplink} takes effect at the next \`virtmesh cluster up\` after \`virtmesh cluster down\`\n`,
      );
    }
    return;
  }
  parseStandInNames(cfg.externalStandIn); // bad settings stop here, before anything is made
  const uplink = parseUplink(cfg.nodeUplink);
  if (uplink.mode === 'nat') await resolveUplinkInterface(uplink);
  const accelSetting = parseAccelSetting(cfg.vmAccel);
  await buildGuestImages(cfg, out);
  // Decided by booting a guest, never by /dev/kvm existing; cached for this boot, so the daemon finds it at once.
  const accelerator = await step(out, 'Choosing the accelerator for VMs', () =>
    resolveAccelerator({ setting: accelSetting, imageCacheDir: cfg.imageCacheDir }),
  );
  out.write(`• VMs run with ${accelerator.summary}\n`);
  if (!prometheusBinary()) {
    out.write('• Installing Prometheus (Debian package prometheus)\n');
    installPrometheus();
  }
  mkdirSync(join(cfg.stateDir, 'logs'), { recursive: true, mode: 0o700 });
  mkdirSync(join(cfg.stateDir, 'run'), { recursive: true, mode: 0o700 });
  for (const f of [p.pid, p.runInfo]) rmSync(f, { force: true }); // left by a daemon that is gone
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
  out.write(`\nvirtmesh cluster is up: API server at ${info.url}\n`);
  if (info.consoleUrl) out.write(`console at ${info.consoleUrl} (virtmesh dashboard)${info.prometheusUrl ? `, Prometheus at ${info.prometheusUrl}` : ''}\n`);
  if (info.standIn) out.write(`external sites: ${standInLine(info)}\n`);
  if (info.uplink) out.write(`pod uplink: ${uplinkLine(info.uplink)}\n`);
  out.write(`\n  export KUBECONFIG=$(virtmesh kubeconfig)\n  kubectl get namespaces\n`);
}

/** The daemon itself: serves until SIGTERM/SIGINT, then stops cleanly. */
export async function runForeground(cfg: CliConfig): Promise<void> {
  const p = paths(cfg);
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  mkdirSync(join(cfg.stateDir, 'run'), { recursive: true, mode: 0o700 });
  const unlock = takeLock(cfg);
  // A signal during start (the node may already be starting VMs) waits for the start to finish, then stops everything.
  let stop: ((signal: string) => Promise<void>) | undefined;
  let stopRequested: string | undefined;
  const onSignal = (signal: string) => {
    if (stop) void stop(signal);
    else stopRequested = signal;
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  let api: Awaited<ReturnType<typeof startApiServer>>;
  const logs = lateLogSource();
  try {
    api = await startApiServer({ stateDir: cfg.stateDir, port: cfg.apiserverPort, serviceCIDR: cfg.serviceCIDR, containerLogs: logs, log });
  } catch (e) {
    unlock();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw createError('VM_ERR_CLUSTER_PORT_IN_USE', [cfg.apiserverPort], e);
    throw e;
  }
  let components: Awaited<ReturnType<typeof startClusterComponents>>;
  try {
    components = await startClusterComponents(api, cfg, logs, log);
  } catch (e) {
    await api.close();
    unlock();
    throw e;
  }
  const info: RunInfo = {
    pid: process.pid,
    url: api.url,
    port: api.port,
    startedAt: new Date().toISOString(),
    consoleUrl: components.consoleUrl,
    prometheusUrl: components.prometheusUrl || undefined,
    standIn: components.standIn,
    uplink: components.uplink,
    accelerator: components.accelerator.summary,
  };
  writeAtomically(p.pid, String(process.pid));
  writeAtomically(p.runInfo, JSON.stringify(info, null, 2));
  log(`API server listening at ${api.url}`);
  let stopping = false;
  stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    await components.stop().catch((e) => log(`stopping the node: ${(e as Error).stack}`));
    await api.close();
    for (const f of [p.pid, p.runInfo]) rmSync(f, { force: true });
    unlock();
    process.exit(0);
  };
  if (stopRequested) void stop(stopRequested);
}

export async function clusterDown(cfg: CliConfig, keepState: boolean, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const p = paths(cfg);
  const info = runningCluster(cfg) ?? startingDaemon(cfg);
  if (info) {
    await step(out, `Stopping the cluster daemon (pid ${info.pid})`, async () => {
      process.kill(info.pid, 'SIGTERM');
      try {
        await waitFor('the cluster daemon to stop its VMs and exit', 60_000, () => !alive(info.pid));
      } catch {
        process.kill(info.pid, 'SIGKILL');
        await waitFor('the cluster daemon to exit after SIGKILL', 5_000, () => !alive(info.pid));
      }
    });
  } else out.write('No cluster daemon is running.\n');
  for (const f of [p.pid, p.runInfo]) if (existsSync(f)) unlinkSync(f);
  // A daemon that crashed or was killed leaves its VMs, sidecars, control plane, namespaces and rules: remove them here.
  await killLeftoverProcess(join(cfg.stateDir, 'run', 'pilot.pid'), cfg.stateDir);
  await killLeftoverProcess(prometheusPaths(cfg.stateDir).pid, cfg.stateDir);
  await cleanUpNode(cfg.stateDir, cfg.podCIDR, cfg.serviceCIDR, (line) => out.write(`${line}\n`));
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
  if (info.consoleUrl) out.write(`  console     ${info.consoleUrl}\n`);
  if (info.prometheusUrl) out.write(`  Prometheus  ${info.prometheusUrl}\n`);
  if (info.standIn) out.write(`  stand-in    ${standInLine(info)}\n`);
  if (info.uplink) out.write(`  uplink      ${uplinkLine(info.uplink)}\n`);
  if (info.accelerator) out.write(`  VMs         ${info.accelerator}\n`);
  out.write(`  kubeconfig  ${paths(cfg).kubeconfig}\n`);
  out.write(`  state       ${cfg.stateDir}\n`);
  return ok;
}

export function kubeconfigPath(cfg: CliConfig): string {
  const p = paths(cfg).kubeconfig;
  if (!existsSync(p)) throw createError('VM_ERR_CLUSTER_NOT_RUNNING', [cfg.stateDir]);
  return p;
}
