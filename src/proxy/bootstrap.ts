// The sidecar's bootstrap, read from the environment the injected istio-proxy
// container has (the variables Istio's injector sets), in this one place.

import type { ProxyNode } from './config.js';
import type { Limits, LogLevel } from './runtime.js';

export interface Bootstrap {
  node: ProxyNode;
  xds: { host: string; port: number } | undefined;
  appProbers: string | undefined;
  drainMs: number;
  logLevel: LogLevel;
  limits: Partial<Limits>;
  /** Overrides of the standard ports (VIRTMESH_PROXY_PORTS, JSON; 0 = any free port), for tests and odd hosts. */
  ports: Record<string, number>;
}

const DEFAULT_PILOT_ADDRESS = 'istiod.istio-system.svc:15010';

function jsonOf<T>(env: NodeJS.ProcessEnv, name: string, fallback: T): T {
  const text = env[name];
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${name} is not valid JSON: ${text.slice(0, 80)}`);
  }
}

/** host:port, [v6]:port; the port defaults to istiod's plaintext xDS port. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? 15010 : Number(m[2]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PILOT_ADDRESS "${text}" is not host:port`);
  return { host: m[1], port };
}

export function bootstrapFromEnv(env: NodeJS.ProcessEnv): Bootstrap {
  const ip = env.INSTANCE_IP;
  const pod = env.POD_NAME;
  if (!ip || !pod) throw new Error('INSTANCE_IP and POD_NAME must be set (the injected istio-proxy container has them)');
  const ns = env.POD_NAMESPACE || 'default';
  const sa = env.SERVICE_ACCOUNT || 'default';
  const labels = jsonOf<Record<string, string>>(env, 'ISTIO_METAJSON_LABELS', {});
  const workload = env.ISTIO_META_WORKLOAD_NAME || pod;
  const podPorts = jsonOf<Array<{ containerPort?: number }>>(env, 'ISTIO_META_POD_PORTS', [])
    .map((p) => p.containerPort)
    .filter((p): p is number => Number.isInteger(p));
  const trustDomain = env.TRUST_DOMAIN || 'cluster.local';
  const pilot = env.PILOT_ADDRESS ?? DEFAULT_PILOT_ADDRESS;
  const drainSeconds = Number(env.TERMINATION_DRAIN_DURATION_SECONDS ?? 5);
  const sniffMs = Number(env.VIRTMESH_PROXY_PROTOCOL_DETECTION_TIMEOUT_MS);
  const node: ProxyNode = {
    id: `sidecar~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`,
    cluster: env.ISTIO_META_CLUSTER_ID || 'Kubernetes',
    metadata: {
      workload,
      namespace: ns,
      // Istio's canonical service and revision, from the same labels in the same order.
      canonicalService: labels['service.istio.io/canonical-name'] || labels['app.kubernetes.io/name'] || labels.app || workload,
      canonicalRevision: labels['service.istio.io/canonical-revision'] || labels['app.kubernetes.io/version'] || labels.version || 'latest',
      app: labels.app || labels['app.kubernetes.io/name'] || env.ISTIO_META_APP || '',
      version: labels.version || labels['app.kubernetes.io/version'] || env.ISTIO_META_VERSION || '',
      serviceAccount: sa,
      principal: `spiffe://${trustDomain}/ns/${ns}/sa/${sa}`,
      cluster: env.ISTIO_META_CLUSTER_ID || 'Kubernetes',
      podName: pod,
      ip,
      istioVersion: env.ISTIO_VERSION || 'virtmesh',
      podPorts,
      labels,
      ...(env.ISTIO_META_MESH_ID ? { meshId: env.ISTIO_META_MESH_ID } : {}),
    },
  };
  return {
    node,
    // An empty PILOT_ADDRESS runs the proxy on static config only.
    xds: pilot === '' ? undefined : parseHostPort(pilot),
    appProbers: env.ISTIO_KUBE_APP_PROBERS || undefined,
    drainMs: Number.isFinite(drainSeconds) && drainSeconds >= 0 ? drainSeconds * 1000 : 5000,
    logLevel: (env.VIRTMESH_PROXY_LOG_LEVEL as LogLevel | undefined) || 'info',
    // How long a port that may carry HTTP waits for the client's first bytes (default 100 ms, as Envoy's listener filter timeout).
    limits: Number.isFinite(sniffMs) && sniffMs > 0 ? { sniffMs } : {},
    ports: jsonOf<Record<string, number>>(env, 'VIRTMESH_PROXY_PORTS', {}),
  };
}
