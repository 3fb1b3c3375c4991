// The embedded cluster's API server: the part every other part talks to.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { Store } from '../store/index.js';
import { bootstrap, startBuiltinControllers } from './builtin-controllers.js';
import { loadOrCreatePki } from './certs.js';
import { ClusterIPAllocator } from './cluster-ip.js';
import type { ContainerLogSource } from './pod-logs.js';
import { Registry } from './registry.js';
import { createApiServer, type User } from './server.js';

export { parseQuantity } from './admission/quantity.js';
export type { ContainerLogSource } from './pod-logs.js';
export { type ResourceDef, resources } from './resources.js';
export { humanDuration, toTable } from './tables.js';

export interface ApiServerConfig {
  stateDir: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  serviceCIDR?: string;
  bookmarkIntervalMs?: number;
  /** Changes kept for watch resumption (older resourceVersions get 410 Gone). */
  changeLogSize?: number;
  /** The node agent's view of container output files, for `kubectl logs`. */
  containerLogs?: ContainerLogSource;
  log?: (line: string) => void;
}

export interface RunningApiServer {
  port: number;
  url: string;
  kubeconfigPath: string;
  caCert: string;
  adminToken: string;
  store: Store;
  close(): Promise<void>;
}

interface Tokens {
  admin: string;
  viewer: string;
}

/** Bearer tokens, made at first start: `admin` may do everything, `viewer` only read. */
function loadOrCreateTokens(path: string): Tokens {
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const tokens = { admin: randomBytes(24).toString('hex'), viewer: randomBytes(24).toString('hex') };
  writeFileSync(path, JSON.stringify(tokens, null, 2), { mode: 0o600 });
  return tokens;
}

export function kubeconfigYaml(url: string, caCert: string, token: string, user = 'admin'): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'virtmesh', cluster: { server: url, 'certificate-authority-data': Buffer.from(caCert).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'virtmesh', context: { cluster: 'virtmesh', user, namespace: 'default' } }],
    'current-context': 'virtmesh',
    preferences: {},
  });
}

export async function startApiServer(cfg: ApiServerConfig): Promise<RunningApiServer> {
  mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
  const pki = await loadOrCreatePki(join(cfg.stateDir, 'pki'));
  const tokens = loadOrCreateTokens(join(cfg.stateDir, 'tokens.json'));
  const store = new Store(join(cfg.stateDir, 'store.db'), { changeLogSize: cfg.changeLogSize });
  const clusterIPs = new ClusterIPAllocator(cfg.serviceCIDR ?? '10.96.0.0/16', store);
  const registry = new Registry(store, clusterIPs);
  const users = new Map<string, User>([
    [tokens.admin, { name: 'admin', readOnly: false }],
    [tokens.viewer, { name: 'viewer', readOnly: true }],
  ]);
  const host = cfg.host ?? '127.0.0.1';
  const api = createApiServer({
    host,
    port: cfg.port,
    pki,
    tokens: users,
    store,
    registry,
    bookmarkIntervalMs: cfg.bookmarkIntervalMs,
    containerLogs: cfg.containerLogs,
    log: cfg.log,
  });
  let port: number;
  try {
    port = await api.listen();
  } catch (e) {
    store.close();
    throw e;
  }
  bootstrap(store, registry, port, clusterIPs.first);
  const stopControllers = startBuiltinControllers(store, registry, cfg.log);
  const url = `https://${host}:${port}`;
  const kubeconfigPath = join(cfg.stateDir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml(url, pki.caCert, tokens.admin), { mode: 0o600 });
  writeFileSync(join(cfg.stateDir, 'kubeconfig-viewer'), kubeconfigYaml(url, pki.caCert, tokens.viewer, 'viewer'), { mode: 0o600 });
  return {
    port,
    url,
    kubeconfigPath,
    caCert: pki.caCert,
    adminToken: tokens.admin,
    store,
    close: async () => {
      stopControllers();
      await api.close();
      store.close();
    },
  };
}
