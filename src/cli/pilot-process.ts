// The mesh control plane as its own process, as istiod is its own deployment: the
// daemon starts it, restarts it with back-off when it dies, and stops it with the
// cluster. Run directly, this file is that process (its settings come in one
// environment variable).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../client/index.js';
import { startPilot } from '../pilot/index.js';
import { type SupervisedProcess, supervise } from '../util/supervisor.js';

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
}): SupervisedProcess {
  return supervise({
    name: 'control plane',
    command: process.execPath,
    args: [fileURLToPath(import.meta.url), '--state-dir', opts.stateDir],
    env: { ...process.env, [SETTINGS_ENV]: JSON.stringify(opts.settings) },
    // stdin is a pipe from the daemon: when the daemon dies, however it dies, the control plane sees EOF and goes too.
    stdinPipe: true,
    logFile: opts.logFile,
    pidFile: opts.pidFile,
    log: opts.log,
  });
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
