// The mesh control plane as its own process, as istiod is its own deployment: the
// daemon starts it, restarts it with back-off when it dies, and stops it with the
// cluster. Run directly, this file is that process (its settings come in one
// environment variable).

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../client/index.js';
import { startPilot } from '../pilot/index.js';
import { readPidFile, writeAtomically } from '../util/fs.js';
import { isProcessOf, killProcessOf } from '../vm/index.js';

interface PilotSettings {
  url: string;
  token: string;
  caFile: string;
  xdsHost: string;
  xdsPort: number;
  debugHost: string;
  debugPort: number;
  name: string;
}

const SETTINGS_ENV = 'VIRTMESH_PILOT_SETTINGS';
const RESTART_BACKOFF_MS = [1000, 2000, 5000, 10_000];

export interface SupervisedPilot {
  /** The running process's pid (changes on restart). */
  pid(): number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the control plane process and keeps it running. `stateDir` is on its command line, so
 * a crashed daemon's leftover is found and killed by it; its output goes to `logFile`.
 */
export function superviseControlPlane(opts: {
  stateDir: string;
  settings: PilotSettings;
  logFile: string;
  pidFile: string;
  log: (line: string) => void;
}): SupervisedPilot {
  let child: ChildProcess | undefined;
  let stopping = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const start = () => {
    const fd = openSync(opts.logFile, 'a');
    try {
      // stdin is a pipe from the daemon: when the daemon dies, however it dies, the control plane sees EOF and goes too.
      child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--state-dir', opts.stateDir], {
        stdio: ['pipe', fd, fd],
        env: { ...process.env, [SETTINGS_ENV]: JSON.stringify(opts.settings) },
      });
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
      opts.log(`control plane ${why}; restarting in ${delay / 1000}s`);
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
 * Kills a control plane process a crashed daemon left (recorded pid whose command line names this
 * state directory), and waits until it is gone, so its ports are free for the next one.
 */
export async function killLeftoverControlPlane(pidFile: string, stateDir: string): Promise<void> {
  const pid = readPidFile(pidFile);
  killProcessOf(pid, stateDir);
  for (let i = 0; i < 50 && isProcessOf(pid, stateDir); i++) await new Promise((r) => setTimeout(r, 100));
  rmSync(pidFile, { force: true });
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.env[SETTINGS_ENV] ?? '{}') as PilotSettings;
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const client = new ApiClient({ url: settings.url, token: settings.token, ca: readFileSync(settings.caFile, 'utf8') });
  const pilot = await startPilot({
    client,
    xdsHost: settings.xdsHost,
    xdsPort: settings.xdsPort,
    debugHost: settings.debugHost,
    debugPort: settings.debugPort,
    name: settings.name,
    log,
  });
  log(`control plane ${settings.name}: discovery on ${settings.xdsHost}:${pilot.xdsPort}, debug on ${settings.debugHost}:${pilot.debugPort}`);
  const stop = async () => {
    await pilot.close();
    client.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The daemon holds the other end of stdin: its end (a crash included) is this process's end.
  process.stdin.on('end', stop).on('error', stop).resume();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`control plane failed: ${(e as Error).stack}\n`);
    process.exit(1);
  });
}
