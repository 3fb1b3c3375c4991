// The istio-proxy container of an injected pod: virtmesh's sidecar (src/proxy) as
// its own process inside the pod's network namespace, as uid 1337 so the capture
// rules let its own connections through, with the container's environment
// resolved the way the kubelet resolves it (values and downward-API fieldRefs).

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../client/index.js';
import { readPidFile } from '../util/fs.js';
import { isProcessOf, killProcessOf } from '../util/process.js';

export const PROXY_UID = 1337;
/** Istio's default drain before the proxy is stopped (terminationDrainDuration). */
const DRAIN_SECONDS = 5;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface SidecarContainerSpec {
  name: string;
  env?: EnvVar[];
}

export interface RunningSidecar {
  pid: number;
  /** The exit code, or null when killed by a signal. */
  exited: Promise<number | null>;
  /** SIGTERM (the proxy drains), then SIGKILL after min(grace, Istio's drain) seconds. */
  stop(graceSeconds: number): Promise<void>;
}

/** The value of a downward-API field path for this pod, as the kubelet fills it in. */
function fieldValue(pod: KubeObject, podIP: string, hostIP: string, path: string): string {
  const spec = (pod.spec ?? {}) as { serviceAccountName?: string; nodeName?: string };
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (label) return pod.metadata[label[1] as 'labels' | 'annotations']?.[label[2]] ?? '';
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'status.podIP': podIP,
    'status.hostIP': hostIP,
    'spec.serviceAccountName': spec.serviceAccountName ?? 'default',
    'spec.nodeName': spec.nodeName,
  };
  return fields[path] ?? '';
}

export function containerEnv(pod: KubeObject, container: SidecarContainerSpec, podIP: string, hostIP: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.valueFrom?.fieldRef) env[e.name] = fieldValue(pod, podIP, hostIP, e.valueFrom.fieldRef.fieldPath);
    else env[e.name] = (e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m);
  }
  // The pod's labels, as the agent reads them from its downward-API volume.
  env.ISTIO_METAJSON_LABELS = JSON.stringify(pod.metadata.labels ?? {});
  return env;
}

/** The sidecar's entry point: the built one, or the source under tsx when running from the source tree (tests). */
function proxyEntry(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = join(here, '..', 'proxy', 'main.js');
  if (existsSync(built)) return [built];
  return ['--import', 'tsx', join(here, '..', 'proxy', 'main.ts')];
}

const pidFile = (podDir: string) => join(podDir, 'istio-proxy.pid');

/** The kubelet rotates a container's log at 10 MiB; the sidecar's access log would otherwise grow for as long as the VM runs. */
export const MAX_LOG_BYTES = 10 * 1024 * 1024;
const KEEP_LOG_BYTES = 1024 * 1024;

/**
 * Cuts a log file written in append mode down to its last megabyte once it passes the limit
 * (logrotate's copytruncate: the writer's later lines land after what is kept).
 */
export function capLogFile(path: string, max = MAX_LOG_BYTES, keep = KEEP_LOG_BYTES): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r+');
    const size = fstatSync(fd).size;
    if (size <= max) return;
    const tail = Buffer.alloc(keep);
    const n = readSync(fd, tail, 0, keep, size - keep);
    // Start at a line boundary.
    const from = tail.indexOf(10) + 1;
    ftruncateSync(fd, 0);
    writeSync(fd, tail.subarray(from, n), 0, n - from, 0);
  } catch {
    // Gone with its pod: nothing to cap.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Kills the sidecar a previous node agent left for this pod (recorded pid, checked against its command line). */
export function killLeftoverSidecar(podDir: string, podUid: string): void {
  killProcessOf(readPidFile(pidFile(podDir)), podUid);
  rmSync(pidFile(podDir), { force: true });
}

export function startSidecarProcess(opts: {
  netns: string;
  podDir: string;
  pod: KubeObject;
  container: SidecarContainerSpec;
  podIP: string;
  hostIP: string;
  logFile: string;
}): RunningSidecar {
  const uid = opts.pod.metadata.uid as string;
  const env = containerEnv(opts.pod, opts.container, opts.podIP, opts.hostIP);
  const fd = openSync(opts.logFile, 'a');
  // As the injected container's securityContext says: uid/gid 1337, no capabilities, no way back up (allowPrivilegeEscalation: false).
  const args = [
    'netns',
    'exec',
    opts.netns,
    'setpriv',
    `--reuid=${PROXY_UID}`,
    `--regid=${PROXY_UID}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--no-new-privs',
    process.execPath,
    ...proxyEntry(),
    uid,
  ];
  let child: ChildProcess;
  try {
    // PATH and HOME only from the node's environment: the container's own variables are what the proxy sees.
    child = spawn('ip', args, { detached: true, stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/', ...env } });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid ?? 0;
  if (pid) writeFileSync(pidFile(opts.podDir), String(pid));
  // A process that could not be started emits 'error' and never 'exit'.
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(127));
  });
  return { pid, exited, stop: (grace) => stopProcess(pid, uid, exited, grace, opts.podDir) };
}

/**
 * Takes over the sidecar a previous node agent started for this pod, when it still runs (the
 * recorded pid, whose command line names the pod): a restarted kubelet keeps its containers, and
 * the proxy's connections and config live on. Not this process's child: its exit is polled for.
 */
export function adoptSidecar(podDir: string, podUid: string): RunningSidecar | undefined {
  const pid = readPidFile(pidFile(podDir));
  if (!isProcessOf(pid, podUid)) return undefined;
  const exited = new Promise<number | null>((resolve) => {
    const timer = setInterval(() => {
      if (isProcessOf(pid, podUid)) return;
      clearInterval(timer);
      resolve(null); // the exit code of a process that is not our child cannot be read
    }, 250);
    timer.unref();
  });
  return { pid, exited, stop: (grace) => stopProcess(pid, podUid, exited, grace, podDir) };
}

/**
 * SIGTERM (the proxy drains), then SIGKILL after min(grace, Istio's drain) seconds. Signals go only
 * to a process whose command line still names the pod (its uid is the proxy's last argument), so an
 * exited proxy's reused pid is never hit.
 */
async function stopProcess(pid: number, podUid: string, exited: Promise<number | null>, graceSeconds: number, podDir: string): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (isProcessOf(pid, podUid)) process.kill(pid, sig);
    } catch {}
  };
  if (isProcessOf(pid, podUid)) {
    signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((r) => {
      timer = setTimeout(
        () => {
          signal('SIGKILL');
          r();
        },
        Math.max(0, Math.min(graceSeconds, DRAIN_SECONDS)) * 1000,
      );
    });
    await Promise.race([exited, killed]);
    clearTimeout(timer);
    await exited;
  }
  rmSync(pidFile(podDir), { force: true });
}
