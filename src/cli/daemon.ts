// What the cluster daemon runs beside the API server: the cluster DNS, the
// controllers and the node agent, each an API client; stopped in reverse order so
// that nothing the node made outlives the daemon.

import type { ContainerLogSource, RunningApiServer } from '../apiserver/index.js';
import { ApiClient, Informer, isConflict, type KubeObject, resourcePath } from '../client/index.js';
import { createEventRecorder, startEndpointsController, startScheduler, startVmiController } from '../controllers/index.js';
import { createClusterDnsIndex, readHostResolvers, startDnsServer, type Upstream } from '../dns/index.js';
import { intToIp, ipToInt, type NodeAgent, startNodeAgent } from '../node/index.js';
import type { CliConfig } from './config.js';

export const NODE_NAME = 'node01';

/** kube-dns's address: the tenth of the service range, as kubeadm and kubevirtci give it. */
export const dnsServiceIP = (serviceCIDR: string) => intToIp(ipToInt(serviceCIDR.split('/')[0]) + 10);

/** Where containers' output is found: the node agent knows, once it runs. */
export function lateLogSource(): ContainerLogSource & { agent?: NodeAgent } {
  const source: ContainerLogSource & { agent?: NodeAgent } = {
    logPath: (pod, container) => source.agent?.logPath(pod as KubeObject, container),
  };
  return source;
}

function upstreams(cfg: CliConfig, self: Upstream[]): Upstream[] | null {
  if (cfg.dnsUpstream === 'none') return null;
  if (cfg.dnsUpstream === 'host') return readHostResolvers('/etc/resolv.conf', self);
  return cfg.dnsUpstream.split(',').map((s) => {
    const [host, port] = s.trim().split(':');
    return { host, port: Number(port || 53) };
  });
}

export async function startClusterComponents(
  api: RunningApiServer,
  cfg: CliConfig,
  logs: ReturnType<typeof lateLogSource>,
  log: (line: string) => void,
): Promise<() => Promise<void>> {
  const client = new ApiClient({ url: api.url, token: api.adminToken, ca: api.caCert });
  const stops: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
    client.close();
  };
  try {
    const dnsIP = dnsServiceIP(cfg.serviceCIDR);
    const agent = await startNodeAgent({
      client,
      stateDir: cfg.stateDir,
      nodeName: NODE_NAME,
      podCIDR: cfg.podCIDR,
      serviceCIDR: cfg.serviceCIDR,
      dnsServiceIP: dnsIP,
      imageCacheDir: cfg.imageCacheDir,
      log,
    });
    stops.push(() => agent.stop());
    logs.agent = agent;

    // Cluster DNS listens on the node's bridge address; pods reach it through the kube-dns service address.
    const index = createClusterDnsIndex();
    const self = [{ host: agent.network.gateway, port: cfg.dnsPort }];
    const dns = await startDnsServer({ host: agent.network.gateway, port: cfg.dnsPort, index, upstream: upstreams(cfg, self), log });
    stops.push(() => dns.close());
    const services = new Informer(client, '/api/v1/services', {}, log).on({
      add: (s) => index.upsertService(s),
      update: (s) => index.upsertService(s),
      delete: (s) => index.deleteService(s.metadata.namespace as string, s.metadata.name),
    });
    const endpoints = new Informer(client, '/api/v1/endpoints', {}, log).on({
      add: (e) => index.upsertEndpoints(e),
      update: (e) => index.upsertEndpoints(e),
      delete: (e) => index.deleteEndpoints(e.metadata.namespace as string, e.metadata.name),
    });
    stops.push(() => {
      services.stop();
      endpoints.stop();
    });
    await Promise.all([services.start(), endpoints.start()]);
    await ensureKubeDns(client, dnsIP, agent.network.gateway, dns.port);

    const events = (component: string) => createEventRecorder(client, { component }, log);
    const endpointsController = await startEndpointsController({ client, log });
    stops.push(() => endpointsController.stop());
    const scheduler = await startScheduler({ client, events: events('default-scheduler'), log });
    stops.push(() => scheduler.stop());
    const vmis = await startVmiController({ client, events: events('virtualmachine-controller'), log });
    stops.push(() => vmis.stop());
    log(`node ${NODE_NAME} ready; cluster DNS on ${agent.network.gateway}:${dns.port} (service ${dnsIP})`);
  } catch (e) {
    await stopAll().catch(() => {});
    throw e;
  }
  return stopAll;
}

/** The kube-dns Service and its Endpoints (no selector: they point at the node's DNS server). */
async function ensureKubeDns(client: ApiClient, clusterIP: string, nodeIP: string, port: number): Promise<void> {
  const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' };
  const ports = [
    { name: 'dns', port: 53, protocol: 'UDP', targetPort: port },
    { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: port },
  ];
  const svc: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system', labels }, spec: { clusterIP, ports } };
  const ep: KubeObject = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
    subsets: [{ addresses: [{ ip: nodeIP, nodeName: NODE_NAME }], ports: ports.map((p) => ({ name: p.name, port, protocol: p.protocol })) }],
  };
  const base = { version: 'v1', namespace: 'kube-system' };
  for (const [plural, obj] of [
    ['services', svc],
    ['endpoints', ep],
  ] as const) {
    try {
      await client.create(resourcePath({ ...base, plural }), obj);
    } catch (e) {
      if (!isConflict(e)) throw e;
      // The node's address or the DNS port may differ from the last run: keep the endpoints current.
      if (plural === 'endpoints') await client.patch(resourcePath({ ...base, plural, name: 'kube-dns' }), { subsets: ep.subsets });
    }
  }
}
