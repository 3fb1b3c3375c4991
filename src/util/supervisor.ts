// A child process the daemon keeps running, as a Deployment keeps its pod: started with
// its output in a log file and its pid in a pid file, restarted with back-off when it
// dies, stopped with SIGTERM (SIGKILL after 5 s) when the cluster stops.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { readPidFile, writeAtomically } from './fs.js';
import { isProcessOf, killProcessOf } from './process.js';

const RESTART_BACKOFF_MS = [1000, 2000, 5000, 10_000];

export interface SupervisedProcess {
  /** The running process's pid (changes on restart). */
  pid(): number | undefined;
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  /** What the log lines call it ("control plane", "Prometheus"). */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * A pipe on stdin whose EOF tells the child that the daemon is gone, however it died; for a
   * child that does not read stdin, start it under `setpriv --pdeathsig` instead.
   */
  stdinPipe?: boolean;
  logFile: string;
  pidFile: string;
  log: (line: string) => void;
}

export function supervise(opts: SupervisorOptions): SupervisedProcess {
  let child: ChildProcess | undefined;
  let stopping = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const start = () => {
    let fd: number;
    try {
      fd = openSync(opts.logFile, 'a');
    } catch (e) {
      // A restart must not throw out of its timer: say why and try again later.
      opts.log(`${opts.name}: cannot open ${opts.logFile}: ${(e as Error).message}; retrying in 10s`);
      restartTimer = setTimeout(start, 10_000);
      return;
    }
    try {
      child = spawn(opts.command, opts.args, { stdio: [opts.stdinPipe ? 'pipe' : 'ignore', fd, fd], env: opts.env ?? process.env });
    } finally {
      closeSync(fd);
    }
    const started = Date.now();
    const me = child;
    me.stdin?.on('error', () => {});
    if (me.pid) writeAtomically(opts.pidFile, String(me.pid));
    let gone = false;
    const died = (why: string) => {
      if (gone || stopping || child !== me) return;
      gone = true;
      // A process that ran a while before dying starts the back-off over.
      failures = Date.now() - started > 60_000 ? 0 : failures + 1;
      const delay = RESTART_BACKOFF_MS[Math.min(failures, RESTART_BACKOFF_MS.length - 1)];
      opts.log(`${opts.name} ${why}; restarting in ${delay / 1000}s`);
      restartTimer = setTimeout(start, delay);
    };
    // A process that could not be started emits 'error' and never 'exit'.
    me.on('error', (e) => died(`failed: ${e.message}`));
    me.on('exit', (code, signal) => died(`exited (${signal ?? `code ${code}`})`));
  };
  start();
  return {
    pid: () => child?.pid,
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(opts.pidFile, { force: true });
    },
  };
}

/**
 * Kills a process a crashed daemon left (the recorded pid, if its command line names `marker`,
 * the cluster's state directory), and waits until it is gone, so its ports are free for the next one.
 */
export async function killLeftoverProcess(pidFile: string, marker: string): Promise<void> {
  const pid = readPidFile(pidFile);
  killProcessOf(pid, marker);
  for (let i = 0; i < 50 && isProcessOf(pid, marker); i++) await new Promise((r) => setTimeout(r, 100));
  rmSync(pidFile, { force: true });
}
