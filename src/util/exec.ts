// Running the host's network tools (ip, iptables-restore, sysctl): one place that
// turns a failed command into an error naming the command and what it printed.

import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; allowFailure?: boolean; timeoutMs?: number } = {},
): Promise<CommandResult & { code: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : 1) : 0;
      if (err && !opts.allowFailure) {
        reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${String(stderr || err.message).trim()}`));
        return;
      }
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The same command inside a network namespace. */
export function runIn(netns: string, cmd: string, args: string[], opts: { input?: string; allowFailure?: boolean } = {}) {
  return run('ip', ['netns', 'exec', netns, cmd, ...args], opts);
}
