// `virtmesh console <vmi>`: the VM's serial console on this terminal, like
// `virtctl console` (escape with Ctrl+]).

import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { ApiClient, isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import { createError } from '../errors/index.js';
import { runningCluster } from './cluster.js';
import type { CliConfig } from './config.js';

const ESCAPE = 0x1d; // Ctrl+]

/** An API client as admin of the running cluster. */
export function adminClient(cfg: CliConfig): ApiClient {
  const info = runningCluster(cfg);
  if (!info) throw createError('VM_ERR_CLUSTER_NOT_RUNNING', [cfg.stateDir]);
  const tokens = JSON.parse(readFileSync(join(cfg.stateDir, 'tokens.json'), 'utf8')) as { admin: string };
  return new ApiClient({ url: info.url, token: tokens.admin, ca: readFileSync(join(cfg.stateDir, 'pki', 'ca.crt'), 'utf8') });
}

/** The console socket of a running VMI's launcher pod. */
export async function consoleSocketOf(cfg: CliConfig, namespace: string, name: string): Promise<string> {
  const client = adminClient(cfg);
  try {
    let vmi: KubeObject;
    try {
      vmi = await client.get(resourcePath({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespace, name }));
    } catch (e) {
      if (isNotFound(e)) throw createError('VM_ERR_CONSOLE_NOT_FOUND', [name, namespace]);
      throw e;
    }
    const phase = (vmi.status as { phase?: string } | undefined)?.phase ?? 'Pending';
    if (phase !== 'Running') throw createError('VM_ERR_CONSOLE_NOT_RUNNING', [name, phase]);
    const pods = await client.list(resourcePath({ version: 'v1', plural: 'pods', namespace }), { labelSelector: `kubevirt.io/created-by=${vmi.metadata.uid}` });
    const pod = pods.items.find((p) => !p.metadata.deletionTimestamp);
    const socket = pod && join(cfg.stateDir, 'node', 'pods', pod.metadata.uid as string, 'vm', 'console.sock');
    if (!socket || !existsSync(socket)) throw createError('VM_ERR_CONSOLE_NOT_RUNNING', [name, phase]);
    return socket;
  } finally {
    client.close();
  }
}

export async function vmConsole(cfg: CliConfig, namespace: string, name: string): Promise<void> {
  const socketPath = await consoleSocketOf(cfg, namespace, name);
  const sock = createConnection(socketPath);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  process.stderr.write(`Successfully connected to ${name} console. The escape sequence is ^]\n`);
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  await new Promise<void>((resolve) => {
    const done = () => {
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      sock.destroy();
      resolve();
    };
    stdin.on('data', (d: Buffer) => {
      const at = d.indexOf(ESCAPE);
      if (at >= 0) {
        if (at > 0) sock.write(d.subarray(0, at));
        done();
      } else sock.write(d);
    });
    stdin.on('end', () => setTimeout(done, 500)); // piped input: give the guest a moment to answer
    sock.on('data', (d) => process.stdout.write(d));
    sock.on('close', done);
    sock.on('error', done);
  });
  process.stderr.write('\n');
}
