// The mesh control plane (istiod's discovery role): watches the cluster through the
// API, computes each sidecar's config, pushes it over the discovery protocol, and
// reports who is in sync on its debug port.

import YAML from 'yaml';
import { type ApiClient, Informer, type KubeObject } from '../client/index.js';
import { canonicalJson } from '../util/canonical-json.js';
import { Debouncer } from './debounce.js';
import { startDebugServer } from './debug.js';
import { DEFAULT_MESH_CONFIG, type MeshConfig, type OutboundMode, parseDurationMs, ROOT_NAMESPACE } from './model.js';
import { DEBUG_PORT, XDS_PORT } from './protocol.js';
import { type MeshSnapshot, PushContext } from './push-context.js';
import { DiscoveryServer, type ProxySyncStatus } from './server.js';

export { buildConfigDump, type ConfigDump, type ParsedConfigDump, parseConfigDump } from './config-dump.js';
export { generateProxyConfig } from './generate.js';
export { DEFAULT_MESH_CONFIG, hostMatches, type MeshConfig, type Pod, PROXY_CONTAINER, resolveHost, selects, serviceHost, workloadName } from './model.js';
export { DEBUG_PORT, type DiscoveryRequest, type DiscoveryResponse, XDS_PORT } from './protocol.js';
export { type ProxyInfo, parseProxyId, proxyInfo, sidecarNode } from './proxy-node.js';
export { type MeshSnapshot, PushContext } from './push-context.js';
export type { ProxySyncStatus, ShortType, SyncState, TypeStatus } from './server.js';
export { SimulatedProxy } from './simulated-proxy.js';
export * from './tables.js';

export interface PilotOptions {
  client: ApiClient;
  xdsHost: string;
  /** 15010; 0 for any free port. */
  xdsPort?: number;
  debugHost: string;
  /** 15014; 0 for any free port. */
  debugPort?: number;
  /** Kubernetes */
  clusterId?: string;
  /** Shown in proxy-status's ISTIOD column, e.g. istiod-node01. */
  name?: string;
  /** Quiet time before a push (100 ms). */
  debounceMs?: number;
  /** Longest a change waits for its push (10 s). */
  debounceMaxMs?: number;
  log: (line: string) => void;
}

export interface RunningPilot {
  xdsPort: number;
  debugPort: number;
  name: string;
  /** The per-proxy sync state /debug/syncz serves. */
  syncStatus(): ProxySyncStatus[];
  close(): Promise<void>;
}

/** MeshConfig from the istio ConfigMap's `mesh` key (YAML); defaults for what it leaves out or cannot be read. */
export function parseMeshConfig(text: string | undefined, log: (line: string) => void = () => {}): MeshConfig {
  if (!text) return DEFAULT_MESH_CONFIG;
  let mesh: { outboundTrafficPolicy?: { mode?: string }; connectTimeout?: string } | null;
  try {
    mesh = YAML.parse(text);
  } catch (e) {
    log(`pilot: istio-system/istio mesh config is not YAML (${(e as Error).message}); using defaults`);
    return DEFAULT_MESH_CONFIG;
  }
  const mode = String(mesh?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY').toUpperCase();
  return {
    outboundTrafficPolicy: { mode: mode === 'REGISTRY_ONLY' ? 'REGISTRY_ONLY' : ('ALLOW_ANY' as OutboundMode) },
    connectTimeoutMs: parseDurationMs(mesh?.connectTimeout) ?? DEFAULT_MESH_CONFIG.connectTimeoutMs,
  };
}

/** What about a pod the generated config depends on; status churn (conditions, container states) pushes nothing. */
const podFingerprint = (p: KubeObject) =>
  canonicalJson([
    p.metadata?.labels,
    p.metadata?.ownerReferences,
    p.metadata?.deletionTimestamp,
    (p.status as { podIP?: string } | undefined)?.podIP,
    (p.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName,
    (p.spec as { containers?: Array<{ name: string; ports?: unknown }> } | undefined)?.containers?.map((c) => [c.name, c.ports]),
  ]);
const specFingerprint = (o: KubeObject) => canonicalJson([o.metadata?.labels, o.spec, o.data]);

const istio = (group: string, plural: string) => `/apis/${group}.istio.io/v1/${plural}`;

export async function startPilot(opts: PilotOptions): Promise<RunningPilot> {
  const { client, log } = opts;
  const clusterId = opts.clusterId ?? 'Kubernetes';
  const name = opts.name ?? 'istiod';
  const informer = (path: string, query: Record<string, string> = {}) => new Informer(client, path, query, log);
  const informers = {
    services: informer('/api/v1/services'),
    endpointSlices: informer('/apis/discovery.k8s.io/v1/endpointslices'),
    pods: informer('/api/v1/pods'),
    namespaces: informer('/api/v1/namespaces'),
    virtualServices: informer(istio('networking', 'virtualservices')),
    destinationRules: informer(istio('networking', 'destinationrules')),
    serviceEntries: informer(istio('networking', 'serviceentries')),
    sidecars: informer(istio('networking', 'sidecars')),
    peerAuthentications: informer(istio('security', 'peerauthentications')),
    authorizationPolicies: informer(istio('security', 'authorizationpolicies')),
    meshConfig: informer(`/api/v1/namespaces/${ROOT_NAMESPACE}/configmaps`, { fieldSelector: 'metadata.name=istio' }),
  };
  const reasonOf: Record<keyof typeof informers, string> = {
    services: 'Service',
    endpointSlices: 'EndpointSlice',
    pods: 'Pod',
    namespaces: 'Namespace',
    virtualServices: 'VirtualService',
    destinationRules: 'DestinationRule',
    serviceEntries: 'ServiceEntry',
    sidecars: 'Sidecar',
    peerAuthentications: 'PeerAuthentication',
    authorizationPolicies: 'AuthorizationPolicy',
    meshConfig: 'MeshConfig',
  };

  let pushSeq = 0;
  const nextVersion = () => `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}/${++pushSeq}`;
  const snapshot = (): MeshSnapshot => ({
    services: informers.services.list(),
    endpointSlices: informers.endpointSlices.list(),
    pods: informers.pods.list(),
    namespaces: informers.namespaces.list(),
    virtualServices: informers.virtualServices.list(),
    destinationRules: informers.destinationRules.list(),
    serviceEntries: informers.serviceEntries.list(),
    sidecars: informers.sidecars.list(),
    meshConfig: parseMeshConfig((informers.meshConfig.get(ROOT_NAMESPACE, 'istio')?.data as { mesh?: string } | undefined)?.mesh, log),
  });

  const xds = new DiscoveryServer({ host: opts.xdsHost, port: opts.xdsPort ?? XDS_PORT, name, log });
  let ctx: PushContext | undefined;
  const debouncer = new Debouncer({
    quietMs: opts.debounceMs ?? 100,
    maxMs: opts.debounceMaxMs ?? 10_000,
    flush: async (reasons) => {
      // Only endpoints changed: clusters, listeners and routes of the last push still hold.
      const endpointsOnly = [...reasons].every((r) => r === 'EndpointSlice');
      ctx = new PushContext(snapshot(), { version: nextVersion(), clusterId, reuseConfigOf: endpointsOnly ? ctx : undefined });
      await xds.push(ctx, reasons);
    },
    onError: (e) => log(`pilot: push failed: ${(e as Error).stack}`),
  });

  let ready = false;
  for (const [key, inf] of Object.entries(informers) as Array<[keyof typeof informers, Informer]>) {
    const reason = reasonOf[key];
    const changed = () => {
      if (ready) debouncer.add(reason);
    };
    const fingerprint = key === 'pods' ? podFingerprint : key === 'services' || key === 'meshConfig' ? specFingerprint : undefined;
    inf.on({ add: changed, delete: changed, update: (o, old) => (fingerprint && fingerprint(o) === fingerprint(old) ? undefined : changed()) });
  }
  const stopInformers = () => {
    for (const inf of Object.values(informers)) inf.stop();
  };

  let debug: Awaited<ReturnType<typeof startDebugServer>> | undefined;
  let xdsPort: number;
  try {
    await Promise.all(Object.values(informers).map((i) => i.start()));
    ctx = new PushContext(snapshot(), { version: nextVersion(), clusterId });
    ready = true;
    xdsPort = await xds.listen(ctx);
    debug = await startDebugServer({
      host: opts.debugHost,
      port: opts.debugPort ?? DEBUG_PORT,
      xds,
      ready: () => ready,
      log,
      pushStatus: () => ({
        pendingChanges: debouncer.pending,
        services: ctx?.services.length ?? 0,
        debounceMs: opts.debounceMs ?? 100,
        debounceMaxMs: opts.debounceMaxMs ?? 10_000,
      }),
    });
  } catch (e) {
    debouncer.stop();
    stopInformers();
    await xds.close().catch(() => {});
    throw e;
  }
  log(`pilot: ${name} serving discovery on ${opts.xdsHost}:${xdsPort}, debug on ${opts.debugHost}:${debug.port} (mesh version ${ctx.version})`);

  return {
    xdsPort,
    debugPort: debug.port,
    name,
    syncStatus: () => xds.syncStatus(),
    async close() {
      ready = false;
      debouncer.stop();
      stopInformers();
      await Promise.all([xds.close(), debug?.close()]);
    },
  };
}
