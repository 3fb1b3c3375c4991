// Host programs the image build needs beyond `run`: binary output, and apt's progress
// lines on a file descriptor of their own.

import { execFile, spawn } from 'node:child_process';
import { type CommandResult, commandError } from '../../util/exec.js';

export type RunResult = Pick<CommandResult, 'stdout' | 'stderr'>;

export function runBuffer(cmd: string, args: string[], opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, maxBuffer: 256 * 1024 * 1024, encoding: 'buffer' }, (err, stdout, stderr) => {
      if (err) reject(commandError(cmd, args, err, stderr.toString('utf8')));
      else resolve(stdout);
    });
  });
}

/** Runs a command that reports progress lines on file descriptor 3 (apt's APT::Status-Fd). */
export function runWithStatusFd(
  cmd: string,
  args: string[],
  onStatusLine: (line: string) => void,
  opts: { cwd?: string; signal?: AbortSignal } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, signal: opts.signal, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child.stdio[3]?.on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onStatusLine(line);
    });
    child.on('error', (err) => reject(commandError(cmd, args, err, stderr)));
    child.on('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(commandError(cmd, args, new Error(sig ? `killed by ${sig}` : `exit status ${code}`), stderr));
    });
  });
}
