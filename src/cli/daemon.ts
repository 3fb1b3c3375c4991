// What the cluster daemon runs beside the API server: the cluster DNS, the
// controllers, the mesh control plane and the node agent, each an API client;
// stopped in reverse order so that nothing the node made outlives the daemon.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerLogSource, RunningApiServer } from '../apiserver/index.js';
import { ApiClient, Informer, isConflict, type KubeObject, resourcePath } from '../client/index.js';
import { startConsoleServer, webConsoleDir } from '../console/index.js';
import { createEventRecorder, startEndpointsController, startScheduler, startVmiController } from '../controllers/index.js';
import { createClusterDnsIndex, readHostResolvers, startDnsServer, type Upstream } from '../dns/index.js';
import {
  intToIp,
  ipToInt,
  type NodeAgent,
  parseStandInNames,
  parseUplink,
  startExternalStandIn,
  startNodeAgent,
  startUplink,
  uplinkText,
} from '../node/index.js';
import { DEBUG_PORT, XDS_PORT } from '../pilot/protocol.js';
import { prometheusBinary, startPrometheus } from '../telemetry/index.js';
import { freeLoopbackPort } from '../util/ports.js';
import { killLeftoverProcess } from '../util/supervisor.js';
import { type Accelerator, parseAccelSetting, resolveAccelerator } from '../vm/index.js';
import { type CliConfig, VERSION } from './config.js';
import { removePilotInfo, writePilotInfo } from './mesh.js';
import { superviseControlPlane } from './pilot-process.js';

export const NODE_NAME = 'node01';
/** The control plane's name in proxy-status (istiod's pod name on a real cluster). */
export const PILOT_NAME = `istiod-${NODE_NAME}`;

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

export interface ClusterComponents {
  stop(): Promise<void>;
  consoleUrl: string;
  /** Empty when Prometheus is not installed. */
  prometheusUrl: string;
  standIn?: StandInInfo;
  uplink?: UplinkInfo;
  accelerator: Accelerator;
}

/** The external stand-in a cluster runs, as `cluster up` and `cluster status` show it. */
export interface StandInInfo {
  address: string;
  names: string[];
}

/** The pod network's uplink (VIRTMESH_NODE_UPLINK), as `cluster up` and `cluster status` show it. */
export interface UplinkInfo {
  /** `nat` or `nat:IFACE`, as set. */
  setting: string;
  interface: string;
  podCIDR: string;
}

export async function startClusterComponents(
  api: RunningApiServer,
  cfg: CliConfig,
  logs: ReturnType<typeof lateLogSource>,
  log: (line: string) => void,
): Promise<ClusterComponents> {
  // `cluster up` probed already (the verdict is cached for this boot); a foreground start probes here.
  const accelerator = await resolveAccelerator({ setting: parseAccelSetting(cfg.vmAccel), imageCacheDir: cfg.imageCacheDir, onProgress: log });
  log(`VMs run with ${accelerator.summary}`);
  const client = new ApiClient({ url: api.url, token: api.adminToken, ca: api.caCert });
  const stops: Array<() => Promise<void> | void> = [];
  let consoleUrl = '';
  let prometheusUrl = '';
  let standIn: StandInInfo | undefined;
  let uplink: UplinkInfo | undefined;
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
    client.close();
  };
  try {
    const standInNames = parseStandInNames(cfg.externalStandIn); // `cluster up` checked them already; a foreground start checks here, before the node
    const uplinkSetting = parseUplink(cfg.nodeUplink); // the same: checked by `cluster up`, and here for a foreground start
    const dnsIP = dnsServiceIP(cfg.serviceCIDR);
    const agent = await startNodeAgent({
      client,
      stateDir: cfg.stateDir,
      nodeName: NODE_NAME,
      podCIDR: cfg.podCIDR,
      serviceCIDR: cfg.serviceCIDR,
      dnsServiceIP: dnsIP,
      imageCacheDir: cfg.imageCacheDir,
      accelerator,
      log,
    });
    stops.push(() => agent.stop());
    logs.agent = agent;

    const nodeUplink = await startUplink(agent.network, uplinkSetting, log);
    if (nodeUplink) {
      stops.push(() => nodeUplink.close());
      uplink = { setting: uplinkText(uplinkSetting), interface: nodeUplink.interface, podCIDR: cfg.podCIDR };
    }

    if (standInNames.length > 0) {
      const server = await startExternalStandIn(agent.network, standInNames, log);
      stops.push(() => server.close());
      standIn = { address: server.address, names: standInNames };
    }

    // Cluster DNS listens on the node's bridge address; pods reach it through the kube-dns service address.
    const hosts = Object.fromEntries(standInNames.map((name) => [name, standIn?.address as string]));
    const index = createClusterDnsIndex({ hosts });
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
    const gateway = agent.network.gateway;
    await ensureNodeService(client, {
      namespace: 'kube-system',
      name: 'kube-dns',
      labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' },
      clusterIP: dnsIP,
      nodeIP: gateway,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: dns.port },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: dns.port },
      ],
    });

    // The mesh control plane, its own process as istiod is, listens on the node's bridge address;
    // sidecars reach it as istiod.istio-system.svc.
    const pidFile = join(cfg.stateDir, 'run', 'pilot.pid');
    for (const d of ['run', 'logs']) mkdirSync(join(cfg.stateDir, d), { recursive: true, mode: 0o700 }); // a foreground daemon made neither
    await killLeftoverProcess(pidFile, cfg.stateDir);
    const pilot = superviseControlPlane({
      stateDir: cfg.stateDir,
      settings: {
        url: api.url,
        token: api.adminToken,
        caFile: join(cfg.stateDir, 'pki', 'ca.crt'),
        xdsHost: gateway,
        xdsPort: XDS_PORT,
        debugHost: gateway,
        debugPort: DEBUG_PORT,
        name: PILOT_NAME,
      },
      logFile: join(cfg.stateDir, 'logs', 'pilot.log'),
      pidFile,
      log,
    });
    stops.push(async () => {
      removePilotInfo(cfg.stateDir);
      await pilot.stop();
    });
    await ensureIstioSystem(client);
    await ensureNodeService(client, {
      namespace: 'istio-system',
      name: 'istiod',
      labels: { app: 'istiod', istio: 'pilot', 'istio.io/rev': 'default' },
      nodeIP: gateway,
      ports: [
        { name: 'grpc-xds', port: XDS_PORT, protocol: 'TCP', targetPort: XDS_PORT },
        { name: 'http-monitoring', port: DEBUG_PORT, protocol: 'TCP', targetPort: DEBUG_PORT },
      ],
    });
    const debugUrl = `http://${gateway}:${DEBUG_PORT}`;
    writePilotInfo(cfg.stateDir, { debugUrl, name: PILOT_NAME });

    // Observability, as Istio's addons: Prometheus scraping the sidecars, and the console (Kiali's role)
    // that also tells Prometheus which pods to scrape. Both on loopback only.
    const prometheusPort = await freeLoopbackPort(cfg.prometheusPort);
    if (cfg.prometheusPort && prometheusPort !== cfg.prometheusPort) log(`port ${cfg.prometheusPort} is in use: Prometheus takes ${prometheusPort}`);
    const wantedConsolePort = await freeLoopbackPort(cfg.consolePort);
    if (cfg.consolePort && wantedConsolePort !== cfg.consolePort) log(`port ${cfg.consolePort} is in use: the console takes ${wantedConsolePort}`);
    const consoleServer = await startConsoleServer({
      host: '127.0.0.1',
      port: wantedConsolePort,
      client,
      kubeUrl: api.url,
      prometheusUrl: `http://127.0.0.1:${prometheusPort}`,
      controlPlaneUrl: () => debugUrl,
      staticDir: webConsoleDir,
      version: VERSION,
      log,
    });
    stops.push(() => consoleServer.close());
    consoleUrl = consoleServer.url;
    if (prometheusBinary()) {
      const prometheus = await startPrometheus({ stateDir: cfg.stateDir, port: prometheusPort, targetsUrl: `${consoleServer.url}/sd/targets`, log });
      stops.push(() => prometheus.stop());
      prometheusUrl = prometheus.url;
    } else log('Prometheus is not installed: the console shows no traffic (the Debian package prometheus provides it)');
    log(`console on ${consoleServer.url}`);

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
  return { stop: stopAll, consoleUrl, prometheusUrl, standIn, uplink, accelerator };
}

interface NodeServiceSpec {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** A fixed address (kube-dns's); allocated when absent. */
  clusterIP?: string;
  nodeIP: string;
  ports: Array<{ name: string; port: number; protocol: string; targetPort: number }>;
}

/** A Service without selector whose Endpoints point at a server of the node itself (kube-dns, istiod). */
async function ensureNodeService(client: ApiClient, spec: NodeServiceSpec): Promise<void> {
  const { namespace, name, labels } = spec;
  const svc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: { ...(spec.clusterIP ? { clusterIP: spec.clusterIP } : {}), ports: spec.ports },
  };
  const ep: KubeObject = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace, labels },
    subsets: [
      { addresses: [{ ip: spec.nodeIP, nodeName: NODE_NAME }], ports: spec.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })) },
    ],
  };
  const base = { version: 'v1', namespace };
  for (const [plural, obj] of [
    ['services', svc],
    ['endpoints', ep],
  ] as const) {
    try {
      await client.create(resourcePath({ ...base, plural }), obj);
    } catch (e) {
      if (!isConflict(e)) throw e;
      // The node's address or the ports may differ from the last run: keep the endpoints current.
      if (plural === 'endpoints') await client.patch(resourcePath({ ...base, plural, name }), { subsets: ep.subsets });
    }
  }
}

/** istio-system and its mesh-wide settings (the `istio` ConfigMap), as an Istio install leaves them; edits are kept. */
async function ensureIstioSystem(client: ApiClient): Promise<void> {
  const objects: Array<[string, KubeObject]> = [
    ['/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } }],
    [
      '/api/v1/namespaces/istio-system/configmaps',
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'istio', namespace: 'istio-system', labels: { app: 'istiod', 'istio.io/rev': 'default' } },
        data: {
          mesh: 'defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15010\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\ntrustDomain: cluster.local\n',
        },
      },
    ],
  ];
  for (const [path, obj] of objects) {
    try {
      await client.create(path, obj);
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }
}
