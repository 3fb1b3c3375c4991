// The real Prometheus (Debian's package), run by the cluster as Istio's samples/addons
// run it: scraping every sidecar's merged metrics on 15020 every few seconds. It finds
// the sidecars through virtmesh's HTTP service discovery (targets.ts), listens on
// loopback only, and keeps its data in the cluster's state directory.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createError } from '../errors/index.js';
import { writeAtomically } from '../util/fs.js';
import { killLeftoverProcess, type SupervisedProcess, supervise } from '../util/supervisor.js';

/** How often sidecars are scraped and targets rediscovered. */
export const SCRAPE_INTERVAL = '5s';

export const prometheusPaths = (stateDir: string) => ({
  dir: join(stateDir, 'prometheus'),
  config: join(stateDir, 'prometheus', 'prometheus.yml'),
  data: join(stateDir, 'prometheus', 'data'),
  pid: join(stateDir, 'run', 'prometheus.pid'),
  log: join(stateDir, 'logs', 'prometheus.log'),
});

export function prometheusBinary(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Prometheus's configuration: one job over the pods that ask to be scraped (`prometheus.io/*` annotations). */
export function prometheusConfig(targetsUrl: string): string {
  return stringify({
    global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: '4s', evaluation_interval: SCRAPE_INTERVAL },
    scrape_configs: [
      {
        // The job name of Istio's addon Prometheus, so its queries and dashboards carry over.
        job_name: 'kubernetes-pods',
        http_sd_configs: [{ url: targetsUrl, refresh_interval: SCRAPE_INTERVAL }],
      },
    ],
  });
}

export interface RunningPrometheus extends SupervisedProcess {
  url: string;
}

/**
 * Starts Prometheus under the daemon's supervision. `setpriv --pdeathsig` ends it with the
 * daemon however the daemon ends; the state directory on its command line lets a later
 * `cluster up` or `cluster down` find a leftover of a killed daemon.
 */
export async function startPrometheus(opts: {
  stateDir: string;
  /** A free loopback port (freeLoopbackPort in util/ports). */
  port: number;
  targetsUrl: string;
  log: (line: string) => void;
}): Promise<RunningPrometheus> {
  const binary = prometheusBinary();
  if (!binary) throw createError('VM_ERR_TELEMETRY_NO_PROMETHEUS');
  const p = prometheusPaths(opts.stateDir);
  await killLeftoverProcess(p.pid, opts.stateDir);
  mkdirSync(p.data, { recursive: true, mode: 0o700 });
  writeAtomically(p.config, prometheusConfig(opts.targetsUrl));
  const listen = `127.0.0.1:${opts.port}`;
  const proc = supervise({
    name: 'Prometheus',
    command: 'setpriv',
    args: [
      '--pdeathsig',
      'TERM',
      binary,
      `--config.file=${p.config}`,
      `--storage.tsdb.path=${p.data}`,
      '--storage.tsdb.retention.time=2d',
      `--web.listen-address=${listen}`,
      `--web.external-url=http://${listen}/`,
    ],
    logFile: p.log,
    pidFile: p.pid,
    log: opts.log,
  });
  opts.log(`Prometheus on http://${listen}, scraping sidecars every ${SCRAPE_INTERVAL}; data in ${p.data}`);
  return { ...proc, url: `http://${listen}` };
}

/** Installs Debian's prometheus package when missing (as root), with its own service kept from starting. */
export function installPrometheus(): void {
  if (prometheusBinary()) return;
  if (process.getuid?.() !== 0) throw createError('VM_ERR_TELEMETRY_NO_PROMETHEUS');
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  // The package's own service would take port 9090 with an empty configuration: it must not start.
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'prometheus'], { stdio: 'inherit', env });
    // Nor start at the next boot, where it would take 9090 before the cluster's own.
    if (prometheusBinary() && spawnSync('sh', ['-c', 'command -v systemctl'], { stdio: 'ignore' }).status === 0) {
      spawnSync('systemctl', ['disable', 'prometheus'], { stdio: 'ignore' });
    }
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}
