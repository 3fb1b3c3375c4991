// The sidecar proxy (Envoy + pilot-agent roles): capture listeners for outbound
// (15001) and inbound (15006) traffic, HTTP/1.1 and TCP proxying by the config the
// control plane pushes, Istio's standard metrics, and the admin, agent, health and
// Prometheus endpoints. startSidecar runs one in this process.

import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';
import { adminHandler, agentHandler, healthHandler, prometheusHandler } from './admin.js';
import { prometheusText, type ServerFacts, type ServerState } from './admin-views.js';
import { type AppProbers, parseAppProbers } from './app-probers.js';
import type { ProxyConfigSet, ProxyNode, WorkloadMeta } from './config.js';
import { ConfigStore } from './config-store.js';
import { peerHeaderLines } from './layers/peer-metadata.js';
import { type CaptureListener, listenCapture, type OriginalDst } from './listeners.js';
import { IstioMetrics, type ServiceLabels } from './metrics.js';
import { createLogger, DEFAULT_LIMITS, type Limits, type LogLevel, type ProxyRuntime } from './runtime.js';
import { XdsClient, type XdsStatus } from './xds-client.js';

export type { ServerState } from './admin-views.js';
export type { AppProbe, AppProbers } from './app-probers.js';
export * from './config.js';
export type { Address, Limits, LogLevel } from './runtime.js';
export type { XdsStatus } from './xds-client.js';

export interface SidecarPorts {
  outbound: number;
  inbound: number;
  admin: number;
  agent: number;
  health: number;
  prometheus: number;
}

/** The ports Istio's sidecar uses. */
export const DEFAULT_PORTS: SidecarPorts = { outbound: 15001, inbound: 15006, admin: 15000, agent: 15020, health: 15021, prometheus: 15090 };

export interface SidecarOptions {
  node: ProxyNode;
  /** The control plane's discovery address; absent: static config only. */
  xds?: { host: string; port: number };
  /** Config in force from the start (tests, static setups); the sidecar is ready at once. */
  initialConfig?: ProxyConfigSet;
  /** 0 picks a free port (tests). */
  ports?: Partial<SidecarPorts>;
  /** Where the capture, agent, health and Prometheus ports listen (default 0.0.0.0). */
  bindAddress?: string;
  /** Where the admin port listens (default 127.0.0.1, as Envoy's admin in Istio). */
  adminAddress?: string;
  /** Reads a captured connection's original destination (default: SO_ORIGINAL_DST through ./original-dst.js). */
  originalDst?: OriginalDst;
  /** ISTIO_KUBE_APP_PROBERS, parsed or as its JSON text. */
  appProbers?: AppProbers | string;
  /** Log lines (default: stderr). */
  log?: (line: string) => void;
  logLevel?: LogLevel;
  /** Access log lines, one per request or TCP connection (default: none). */
  accessLog?: (line: string) => void;
  limits?: Partial<Limits>;
  /** How long drain() waits for connections to finish (default 5 s, Istio's terminationDrainDuration). */
  drainMs?: number;
  /** Percentage of new traces marked sampled (default 100, as Istio's demo profile). */
  samplePercent?: number;
  /** Reconnect backoff towards the control plane. */
  xdsBackoff?: { initialMs?: number; maxMs?: number };
  /** /quitquitquit was posted (default: drain, then close). */
  onQuit?: () => void;
}

export interface SidecarHandle {
  /** The ports actually bound. */
  readonly ports: SidecarPorts;
  readonly node: ProxyNode;
  /** The config in force. */
  config(): ProxyConfigSet;
  /** Replaces the given parts of the config (as a push would); throws when refused. */
  applyConfig(set: Partial<ProxyConfigSet>, version?: string): void;
  /** First clusters and listeners applied (or an initial config) and not draining. */
  ready(): boolean;
  state(): ServerState;
  /** The discovery connection's state, when there is a control plane. */
  xds(): XdsStatus | undefined;
  /** What /stats/prometheus on 15090 answers. */
  metrics(): string;
  /** Downstream connections open now. */
  activeConnections(): number;
  /**
   * Marks the proxy draining (readiness fails; each HTTP connection closes after its next response, as Envoy
   * drains HTTP/1) and resolves once no connection is left or `timeoutMs` passed. Idle connections are left
   * to the deadline: closing them at once would race a request already on its way.
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Closes every listener and connection. */
  close(): Promise<void>;
}

async function defaultOriginalDst(): Promise<OriginalDst> {
  // Loaded on first use: the native addon is needed only where connections are really captured.
  const specifier = './original-dst.js';
  const mod = (await import(specifier)) as { originalDst: OriginalDst; ensureOriginalDst?: () => void };
  // A missing addon fails the start, not the first captured connection.
  mod.ensureOriginalDst?.();
  return mod.originalDst;
}

function workloadOf(node: ProxyNode): WorkloadMeta {
  const m = node.metadata;
  return {
    workload: m.workload,
    namespace: m.namespace,
    canonicalService: m.canonicalService,
    canonicalRevision: m.canonicalRevision,
    app: m.app,
    version: m.version,
    serviceAccount: m.serviceAccount,
    principal: m.principal,
    cluster: m.cluster,
    podName: m.podName,
    ip: m.ip,
  };
}

function listenHttp(handler: Parameters<typeof createHttpServer>[1], port: number, host: string): Promise<HttpServer> {
  const server = createHttpServer({ keepAliveTimeout: 5_000 }, handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}

const portOf = (s: Server | HttpServer) => (s.address() as { port: number }).port;

export async function startSidecar(opts: SidecarOptions): Promise<SidecarHandle> {
  const startedAt = Date.now();
  const ports = { ...DEFAULT_PORTS, ...opts.ports };
  const bind = opts.bindAddress ?? '0.0.0.0';
  const log = createLogger(opts.log ?? ((line) => process.stderr.write(line + '\n')), opts.logLevel);
  const originalDst = opts.originalDst ?? (await defaultOriginalDst());
  const probers = typeof opts.appProbers === 'string' ? parseAppProbers(opts.appProbers) : (opts.appProbers ?? {});
  const self = workloadOf(opts.node);
  const store = new ConfigStore();
  const synthetic = new Map<string, ServiceLabels>();
  const rt: ProxyRuntime = {
    node: opts.node,
    self,
    store,
    metrics: new IstioMetrics(),
    log,
    accessLog: opts.accessLog,
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    draining: false,
    samplePercent: opts.samplePercent ?? 100,
    peerHeaders: peerHeaderLines(opts.node.id, self),
    listenerCounters: new Map(),
    syntheticService(host, name, namespace) {
      const key = `${host}|${name}|${namespace}`;
      let s = synthetic.get(key);
      if (!s) {
        if (synthetic.size > 1000) synthetic.clear();
        s = { host, name, namespace };
        synthetic.set(key, s);
      }
      return s;
    },
  };

  let configured = false;
  const waiting: Array<() => void> = [];
  const checkConfigured = () => {
    if (configured || !(store.has('cluster') && store.has('listener'))) return;
    configured = true;
    log.info('config received: clusters and listeners are in force');
    for (const fn of waiting.splice(0)) fn();
  };
  store.onChange(checkConfigured);
  if (opts.initialConfig) store.applySet(opts.initialConfig, 'static');
  const whenConfigured = (fn: () => void) => (configured ? fn() : waiting.push(fn));

  let draining = false;
  const state = (): ServerState => (draining ? 'DRAINING' : configured ? 'LIVE' : 'PRE_INITIALIZING');
  const facts: ServerFacts = { state, startedAt, version: opts.node.metadata.istioVersion };
  let handle: SidecarHandle;
  const ctx = {
    rt,
    facts,
    probers,
    ready: () => configured && !draining,
    drain: () => void handle.drain(),
    quit: () => (opts.onQuit ? opts.onQuit() : void handle.drain().then(() => handle.close())),
  };

  const capture: CaptureListener[] = [];
  const httpServers: HttpServer[] = [];
  try {
    capture.push(await listenCapture(rt, 'OUTBOUND', ports.outbound, bind, originalDst, whenConfigured));
    capture.push(await listenCapture(rt, 'INBOUND', ports.inbound, bind, originalDst, whenConfigured));
    httpServers.push(await listenHttp(adminHandler(ctx), ports.admin, opts.adminAddress ?? '127.0.0.1'));
    httpServers.push(await listenHttp(agentHandler(ctx), ports.agent, bind));
    httpServers.push(await listenHttp(healthHandler(ctx), ports.health, bind));
    httpServers.push(await listenHttp(prometheusHandler(ctx), ports.prometheus, bind));
  } catch (e) {
    for (const c of capture) c.server.close();
    for (const s of httpServers) s.close();
    throw e;
  }
  const bound: SidecarPorts = {
    outbound: capture[0].port,
    inbound: capture[1].port,
    admin: portOf(httpServers[0]),
    agent: portOf(httpServers[1]),
    health: portOf(httpServers[2]),
    prometheus: portOf(httpServers[3]),
  };

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const c of store.clusters.values()) c.sweep(now, rt.limits.upstreamIdleMs);
  }, 5_000);
  sweeper.unref();

  let xds: XdsClient | undefined;
  if (opts.xds) {
    xds = new XdsClient({
      host: opts.xds.host,
      port: opts.xds.port,
      node: opts.node,
      apply: (typeUrl, resources, version) => store.apply(typeUrl, resources, version),
      versionOf: (typeUrl) => store.versions.get(typeUrl) ?? '',
      log,
      backoff: opts.xdsBackoff,
    });
    xds.start();
  }

  const openSockets = () => capture.reduce((n, c) => n + c.sockets.size, 0);
  let closing: Promise<void> | undefined;
  handle = {
    ports: bound,
    node: opts.node,
    config: () => store.snapshot(),
    applyConfig: (set, version = 'static') => store.applySet(set, version),
    ready: () => configured && !draining,
    state,
    xds: () => xds?.status(),
    metrics: () => prometheusText(rt, facts),
    activeConnections: openSockets,
    drain(timeoutMs = opts.drainMs ?? 5_000) {
      if (!draining) log.info('draining: each connection closes after its next response');
      draining = true;
      rt.draining = true;
      return new Promise<void>((resolve) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          if (openSockets() === 0 || Date.now() >= deadline || closing) resolve();
          else setTimeout(check, 20).unref();
        };
        check();
      });
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        xds?.close();
        const closed = [...capture.map((c) => c.server), ...httpServers].map((s) => new Promise<void>((r) => s.close(() => r())));
        for (const c of capture) for (const s of c.sockets) s.destroy();
        for (const s of httpServers) s.closeAllConnections();
        store.close();
        await Promise.all(closed);
      })();
      return closing;
    },
  };
  log.info(`sidecar ${opts.node.id} listening: outbound ${bound.outbound}, inbound ${bound.inbound}, admin ${bound.admin}, agent ${bound.agent}`);
  return handle;
}
