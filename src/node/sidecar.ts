// The istio-proxy container of an injected pod: virtmesh's sidecar (src/proxy) as
// its own process inside the pod's network namespace, as uid 1337 so the capture
// rules let its own connections through, with the container's environment
// resolved the way the kubelet resolves it (values and downward-API fieldRefs).

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../client/index.js';
import { killProcessOf } from '../vm/index.js';

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

/** Kills the sidecar a previous node agent left for this pod (recorded pid, checked against its command line). */
export function killLeftoverSidecar(podDir: string, podUid: string): void {
  try {
    killProcessOf(Number(readFileSync(pidFile(podDir), 'utf8')), podUid);
  } catch {}
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
  const args = [
    'netns',
    'exec',
    opts.netns,
    'setpriv',
    `--reuid=${PROXY_UID}`,
    `--regid=${PROXY_UID}`,
    '--clear-groups',
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
  child.on('error', () => {});
  const pid = child.pid ?? 0;
  writeFileSync(pidFile(opts.podDir), String(pid));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    pid,
    exited,
    async stop(graceSeconds) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const wait = Math.max(0, Math.min(graceSeconds, DRAIN_SECONDS)) * 1000;
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((r) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, wait);
      });
      await Promise.race([exited, killed]);
      clearTimeout(timer);
      await exited;
      rmSync(pidFile(opts.podDir), { force: true });
    },
  };
}
