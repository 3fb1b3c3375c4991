// The sidecar process (`node dist/proxy/main.js`), as the node agent starts it:
// uid 1337, inside the pod's network namespace, configured by the injected
// container's environment (see bootstrap.ts). Access log on stdout, logs on stderr.
// SIGTERM or POST /quitquitquit: drain (TERMINATION_DRAIN_DURATION_SECONDS, or
// sooner once no connection is left), then exit.

import { createBatchedWriter } from './access-log.js';
import { bootstrapFromEnv } from './bootstrap.js';
import { type SidecarHandle, startSidecar } from './index.js';

const log = (line: string) => process.stderr.write(line + '\n');
const accessLog = createBatchedWriter((text) => process.stdout.write(text));

async function main(): Promise<void> {
  const boot = bootstrapFromEnv(process.env);
  let sidecar: SidecarHandle | undefined;
  let stopping = false;
  const stop = async (why: string) => {
    if (!sidecar) process.exit(0);
    if (stopping) return;
    stopping = true;
    log(`${new Date().toISOString()}\tinfo\t${why}: draining for up to ${boot.drainMs} ms`);
    await sidecar.drain(boot.drainMs);
    await sidecar.close();
    accessLog.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // A bug met by odd input must not take every connection of the pod down with it.
  process.on('uncaughtException', (e) => log(`${new Date().toISOString()}\terror\tuncaught: ${e.stack ?? e.message}`));
  process.on('unhandledRejection', (e) => log(`${new Date().toISOString()}\terror\tunhandled rejection: ${String(e)}`));
  sidecar = await startSidecar({
    node: boot.node,
    xds: boot.xds,
    appProbers: boot.appProbers,
    drainMs: boot.drainMs,
    log,
    logLevel: boot.logLevel,
    limits: boot.limits,
    ports: boot.ports,
    accessLog: accessLog.line,
    onQuit: () => void stop('/quitquitquit'),
  });
}

main().catch((e: Error) => {
  log(`${new Date().toISOString()}\tcritical\t${e.message}`);
  process.exit(1);
});
