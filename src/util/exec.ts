// Running host programs (ip, iptables-restore, qemu-img, apt-get, dpkg...): output
// captured, and one error shape that names the command and says why it failed.

import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  input?: string;
  /** Resolve with the exit code instead of rejecting when the command fails. */
  allowFailure?: boolean;
  /** 30 s unless said otherwise; 0 for none (downloads, unpacking). */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const { input, allowFailure, timeoutMs, ...spawnOpts } = opts;
    const child = execFile(cmd, args, { ...spawnOpts, timeout: timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : 1) : 0;
      if (err && !allowFailure) reject(commandError(cmd, args, err, stderr));
      else resolve({ stdout, stderr, code });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The same command inside a network namespace. */
export function runIn(netns: string, cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return run('ip', ['netns', 'exec', netns, cmd, ...args], opts);
}

export function commandError(cmd: string, args: string[], err: Error & { code?: unknown }, stderr: string): Error {
  if (err.name === 'AbortError') return err;
  const why = err.code === 'ENOENT' ? `${cmd} is not installed` : stderr.trim().split('\n').slice(-5).join('\n') || err.message;
  return new Error(`\`${[cmd, ...args].join(' ')}\` failed: ${why}`, { cause: err });
}
