// Runs the real `virtmesh` command (the built bin) with its own state directory and a free port.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KubectlResult, runCommand } from './cluster.js';

export const bin = join(import.meta.dirname, '..', '..', 'bin', 'virtmesh.js');

/**
 * The environment of a test cluster: its own state directory, a free API port, and
 * pod and service ranges of its own (derived from the directory) so test clusters
 * never collide with each other or with a cluster the developer runs. Names outside
 * the cluster are not forwarded anywhere unless the test says where.
 */
export function clusterEnv(stateDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const h = createHash('sha1').update(stateDir).digest();
  return {
    ...process.env,
    VIRTMESH_STATE_DIR: stateDir,
    VIRTMESH_APISERVER_PORT: '0',
    VIRTMESH_NODE_POD_CIDR: `10.${200 + (h[0] % 40)}.${h[1]}.0/24`,
    VIRTMESH_APISERVER_SERVICE_CIDR: `10.${100 + (h[2] % 90)}.0.0/16`,
    VIRTMESH_DNS_UPSTREAM: 'none',
    // The console and Prometheus take free loopback ports, not Kiali's and Prometheus's usual ones.
    VIRTMESH_CONSOLE_PORT: '0',
    VIRTMESH_PROMETHEUS_PORT: '0',
    ...extra,
  };
}

export function virtmesh(args: string[], stateDir: string, extra: NodeJS.ProcessEnv = {}): Promise<KubectlResult> {
  return runCommand(process.execPath, [bin, ...args], clusterEnv(stateDir, extra));
}

/** The daemon in the foreground, as a child we can kill; resolves once it serves. */
export async function startForeground(stateDir: string): Promise<{ child: ChildProcess; url: string; ca: string; token: string }> {
  const runInfo = join(stateDir, 'run', 'cluster.json');
  const child = spawn(process.execPath, [bin, 'cluster', 'up', '--foreground'], {
    env: clusterEnv(stateDir),
    stdio: 'ignore',
  });
  // A first start on a machine may try KVM first (a few seconds, once per host boot).
  const deadline = Date.now() + 60_000;
  while (!existsSync(runInfo) || JSON.parse(readFileSync(runInfo, 'utf8')).pid !== child.pid) {
    if (Date.now() > deadline) throw new Error('timed out after 60 s waiting for the cluster daemon to serve (run/cluster.json)');
    if (child.exitCode !== null) throw new Error(`the cluster daemon exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { url } = JSON.parse(readFileSync(runInfo, 'utf8'));
  return {
    child,
    url,
    ca: readFileSync(join(stateDir, 'pki', 'ca.crt'), 'utf8'),
    token: JSON.parse(readFileSync(join(stateDir, 'tokens.json'), 'utf8')).admin,
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
