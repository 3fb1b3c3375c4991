// Runs the real `virtmesh` command (the built bin) with its own state directory and a free port.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KubectlResult, runCommand } from './cluster.js';

export const bin = join(import.meta.dirname, '..', '..', 'bin', 'virtmesh.js');

export function virtmesh(args: string[], stateDir: string): Promise<KubectlResult> {
  return runCommand(process.execPath, [bin, ...args], { ...process.env, VIRTMESH_STATE_DIR: stateDir, VIRTMESH_APISERVER_PORT: '0' });
}

/** The daemon in the foreground, as a child we can kill; resolves once it serves. */
export async function startForeground(stateDir: string): Promise<{ child: ChildProcess; url: string; ca: string; token: string }> {
  const runInfo = join(stateDir, 'run', 'cluster.json');
  const child = spawn(process.execPath, [bin, 'cluster', 'up', '--foreground'], {
    env: { ...process.env, VIRTMESH_STATE_DIR: stateDir, VIRTMESH_APISERVER_PORT: '0' },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 20_000;
  while (!existsSync(runInfo) || JSON.parse(readFileSync(runInfo, 'utf8')).pid !== child.pid) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the cluster daemon to serve');
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
