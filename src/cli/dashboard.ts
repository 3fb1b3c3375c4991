// `virtmesh dashboard [kiali|prometheus]`: istioctl dashboard's role. The cluster already
// serves both on loopback, so this says where (and opens a browser when there is a
// display). With --prometheus it serves the console itself, against any Prometheus —
// a real Istio cluster's included, with --kubeconfig for that cluster's API server —
// until interrupted.

import { spawn, spawnSync } from 'node:child_process';
import { ApiClient, type ClientConfig, clientConfigFromKubeconfig } from '../client/index.js';
import { startConsoleServer, webConsoleDir } from '../console/index.js';
import { createError } from '../errors/index.js';
import { runningCluster } from './cluster.js';
import { type CliConfig, VERSION } from './config.js';
import { adminClient } from './console.js';
import { readPilotInfo } from './mesh.js';

export interface DashboardOptions {
  browser: boolean;
  prometheus?: string;
  /** With --prometheus: another cluster's API server (a real one), instead of the local cluster. */
  kubeconfig?: string;
  context?: string;
  port: string;
  address: string;
}

function openBrowser(url: string, out: NodeJS.WritableStream): void {
  const hasDisplay = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  const opener = spawnSync('sh', ['-c', 'command -v xdg-open'], { encoding: 'utf8' }).stdout.trim();
  if (!hasDisplay || !opener) {
    out.write('(no display here: open the address in a browser on this machine, or forward the port with ssh -L)\n');
    return;
  }
  spawn(opener, [url], { detached: true, stdio: 'ignore' }).unref();
}

export async function dashboard(cfg: CliConfig, which: string, o: DashboardOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (!['kiali', 'console', 'prometheus'].includes(which)) throw createError('VM_ERR_DASHBOARD_UNKNOWN', [which]);
  if (o.context && !o.kubeconfig) throw createError('VM_ERR_DASHBOARD_BAD_KUBECONFIG', ['(none)', '--context needs --kubeconfig']);
  if (o.kubeconfig && !o.prometheus) throw createError('VM_ERR_DASHBOARD_KUBECONFIG_WITHOUT_PROMETHEUS');
  if (o.prometheus) {
    if (which === 'prometheus') throw new Error('--prometheus serves the console against that Prometheus: use it with `virtmesh dashboard kiali`');
    await serveConsole(cfg, o, out);
    return;
  }
  const info = runningCluster(cfg);
  if (!info) throw createError('VM_ERR_CLUSTER_NOT_RUNNING', [cfg.stateDir]);
  const url = which === 'prometheus' ? info.prometheusUrl : info.consoleUrl;
  if (!url) {
    throw createError(
      'VM_ERR_DASHBOARD_NOT_RUNNING',
      which === 'prometheus'
        ? ['Prometheus', 'install the Debian package prometheus and restart the cluster (virtmesh cluster down --keep-state; virtmesh cluster up)']
        : ['console', 'restart it with this version of virtmesh'],
    );
  }
  out.write(`${url}\n`);
  if (o.browser) openBrowser(url, out);
}

/** The console in this process, against the given Prometheus and the cluster's API server, until SIGINT/SIGTERM. */
async function serveConsole(cfg: CliConfig, o: DashboardOptions, out: NodeJS.WritableStream): Promise<void> {
  let prometheusUrl: string;
  try {
    prometheusUrl = new URL(o.prometheus as string).toString().replace(/\/$/, '');
  } catch {
    throw createError('VM_ERR_DASHBOARD_BAD_URL', [String(o.prometheus)]);
  }
  let client: ApiClient;
  let kubeUrl: string;
  let controlPlane: string | undefined;
  if (o.kubeconfig) {
    // Another cluster: objects from its API server; proxy status needs virtmesh's control plane, which it has not.
    let kube: ClientConfig;
    try {
      kube = clientConfigFromKubeconfig(o.kubeconfig, o.context);
    } catch (e) {
      throw createError('VM_ERR_DASHBOARD_BAD_KUBECONFIG', [o.kubeconfig, (e as Error).message.split('\n')[0]], e);
    }
    client = new ApiClient(kube);
    kubeUrl = kube.url;
  } else {
    const info = runningCluster(cfg);
    if (!info) throw createError('VM_ERR_CLUSTER_NOT_RUNNING', [cfg.stateDir]);
    client = adminClient(cfg);
    kubeUrl = info.url;
    try {
      controlPlane = readPilotInfo(cfg.stateDir).debugUrl;
    } catch {}
  }
  const server = await startConsoleServer({
    host: o.address,
    port: Number(o.port),
    client,
    kubeUrl,
    prometheusUrl,
    controlPlaneUrl: () => controlPlane,
    staticDir: webConsoleDir,
    version: VERSION,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  out.write(`${server.url}\n(console against ${prometheusUrl} and the API server at ${kubeUrl}; Ctrl+C stops it)\n`);
  if (o.browser) openBrowser(server.url, out);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  client.close();
}
