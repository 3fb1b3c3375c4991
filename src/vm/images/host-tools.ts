// Running host programs for the image build: output captured, errors that say which
// command failed and why, and an AbortSignal that stops the child.

import { execFile, spawn } from 'node:child_process';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(commandError(cmd, args, err, stderr));
      else resolve({ stdout, stderr });
    });
  });
}

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

function commandError(cmd: string, args: string[], err: Error & { code?: unknown }, stderr: string): Error {
  if (err.name === 'AbortError') return err;
  const why = err.code === 'ENOENT' ? `${cmd} is not installed` : stderr.trim().split('\n').slice(-5).join('\n') || err.message;
  return new Error(`\`${[cmd, ...args].join(' ')}\` failed: ${why}`, { cause: err });
}
