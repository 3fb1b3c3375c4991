// Shared by the proxy's tests: workload identities, the config a control plane
// would push for the walkthrough (cirros-vmi calling istio-vmi-svc:8080), app
// servers on loopback, a small HTTP client, and a Prometheus text reader.
// Everything opened here is closed by the Cleanup it was registered with.

import {
  type Agent,
  createServer as createHttpServer,
  type Server as HttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type RequestListener,
} from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Cluster, ProxyConfigSet, ProxyNode, RouteConfiguration, WorkloadMeta } from './config.js';
import { type SidecarHandle, type SidecarOptions, startSidecar } from './index.js';
import type { Address } from './runtime.js';

export class Cleanup {
  readonly #fns: Array<() => unknown> = [];
  add(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await fn();
  }
}

export function workload(name: string, ip: string, extra: Partial<WorkloadMeta> = {}): WorkloadMeta {
  return {
    workload: name,
    namespace: 'default',
    canonicalService: name,
    canonicalRevision: 'latest',
    app: name,
    version: '',
    serviceAccount: 'default',
    principal: 'spiffe://cluster.local/ns/default/sa/default',
    cluster: 'Kubernetes',
    podName: `virt-launcher-${name}-abcde`,
    ip,
    ...extra,
  };
}

export function nodeOf(meta: WorkloadMeta): ProxyNode {
  return {
    id: `sidecar~${meta.ip}~${meta.podName}.${meta.namespace}~${meta.namespace}.svc.cluster.local`,
    cluster: 'Kubernetes',
    metadata: { ...meta, istioVersion: 'test' },
  };
}

export const CIRROS = workload('cirros-vmi', '10.244.0.4');
export const ISTIO_VMI = workload('istio-vmi', '10.244.0.5');
export const SERVICE_HOST = 'istio-vmi-svc.default.svc.cluster.local';
export const SERVICE_VIP = '10.96.0.10';
export const SERVICE_CLUSTER = `outbound|8080||${SERVICE_HOST}`;
export const SERVICE_ROUTE = `${SERVICE_HOST}:8080`;

/** The outbound config of cirros-vmi's sidecar: istio-vmi-svc:8080 (HTTP or TCP, sniffed), PassthroughCluster for the rest. */
export function outboundConfig(endpoints: Array<{ address: string; port: number; workload?: WorkloadMeta }>, cluster: Partial<Cluster> = {}): ProxyConfigSet {
  return {
    clusters: [
      {
        name: SERVICE_CLUSTER,
        type: 'EDS',
        lbPolicy: 'ROUND_ROBIN',
        connectTimeoutMs: 1000,
        service: { host: SERVICE_HOST, name: 'istio-vmi-svc', namespace: 'default' },
        ...cluster,
      },
      { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000 },
      { name: 'BlackHoleCluster', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000 },
    ],
    endpoints: [{ clusterName: SERVICE_CLUSTER, endpoints: endpoints.map((e) => ({ ...e, healthStatus: 'HEALTHY' as const })) }],
    listeners: [
      {
        name: 'virtualOutbound',
        address: '0.0.0.0',
        port: 15001,
        trafficDirection: 'OUTBOUND',
        useOriginalDst: true,
        protocol: 'tcp',
        filterChains: [],
        defaultFilterChain: { name: 'PassthroughFilterChain', filter: { type: 'tcp', cluster: 'PassthroughCluster' } },
      },
      {
        name: `${SERVICE_VIP}_8080`,
        address: SERVICE_VIP,
        port: 8080,
        trafficDirection: 'OUTBOUND',
        protocol: 'auto',
        filterChains: [
          { match: { applicationProtocols: ['http/1.1'] }, filter: { type: 'http', routeConfigName: SERVICE_ROUTE } },
          { filter: { type: 'tcp', cluster: SERVICE_CLUSTER } },
        ],
      },
    ],
    routes: [serviceRoute()],
  };
}

export function serviceRoute(
  routes: RouteConfiguration['virtualHosts'][number]['routes'] = [{ name: 'default', match: { prefix: '/' }, route: { cluster: SERVICE_CLUSTER } }],
): RouteConfiguration {
  const names = [SERVICE_HOST, 'istio-vmi-svc', 'istio-vmi-svc.default', 'istio-vmi-svc.default.svc', SERVICE_VIP];
  return {
    name: SERVICE_ROUTE,
    virtualHosts: [{ name: SERVICE_ROUTE, domains: names.flatMap((n) => [n, `${n}:8080`]), routes }],
  };
}

/** The inbound config of istio-vmi's sidecar: port 8080 of the pod goes to the VM's forwarded port on loopback. */
export function inboundConfig(appPort: number): ProxyConfigSet {
  return {
    clusters: [
      {
        name: 'inbound|8080||',
        type: 'ORIGINAL_DST',
        lbPolicy: 'ROUND_ROBIN',
        connectTimeoutMs: 1000,
        upstreamAddress: '127.0.0.1',
        upstreamPort: appPort,
        service: { host: SERVICE_HOST, name: 'istio-vmi-svc', namespace: 'default' },
      },
      { name: 'InboundPassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000 },
    ],
    endpoints: [],
    listeners: [
      {
        name: 'virtualInbound',
        address: '0.0.0.0',
        port: 15006,
        trafficDirection: 'INBOUND',
        useOriginalDst: true,
        protocol: 'auto',
        filterChains: [
          { match: { destinationPort: 8080, applicationProtocols: ['http/1.1'] }, filter: { type: 'http', routeConfigName: 'inbound|8080||' } },
          { match: { destinationPort: 8080 }, filter: { type: 'tcp', cluster: 'inbound|8080||' } },
        ],
        defaultFilterChain: { name: 'InboundPassthroughFilterChain', filter: { type: 'tcp', cluster: 'InboundPassthroughCluster' } },
      },
    ],
    routes: [
      {
        name: 'inbound|8080||',
        virtualHosts: [
          { name: 'inbound|http|8080', domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }] },
        ],
      },
    ],
  };
}

const quiet = () => {};

/** A sidecar on ephemeral loopback ports whose captured connections all had `dst` as original destination (changeable). */
export async function sidecar(
  cleanup: Cleanup,
  meta: WorkloadMeta,
  config: ProxyConfigSet | undefined,
  options: Partial<SidecarOptions> = {},
): Promise<SidecarHandle & { dst: Address }> {
  const state = { dst: { address: SERVICE_VIP, port: 8080 } as Address };
  const handle = await startSidecar({
    node: nodeOf(meta),
    initialConfig: config,
    ports: { outbound: 0, inbound: 0, admin: 0, agent: 0, health: 0, prometheus: 0 },
    bindAddress: '127.0.0.1',
    originalDst: () => state.dst,
    log: quiet,
    ...options,
  });
  cleanup.add(() => handle.close());
  return Object.defineProperty(handle, 'dst', {
    get: () => state.dst,
    set: (v: Address) => {
      state.dst = v;
    },
  }) as SidecarHandle & { dst: Address };
}

/** cirros-vmi's sidecar (outbound) in front of istio-vmi's sidecar (inbound) in front of `appPort`. */
export async function sidecarPair(cleanup: Cleanup, appPort: number, options: Partial<SidecarOptions> = {}) {
  const inbound = await sidecar(cleanup, ISTIO_VMI, inboundConfig(appPort), options);
  inbound.dst = { address: ISTIO_VMI.ip, port: 8080 };
  const outbound = await sidecar(cleanup, CIRROS, outboundConfig([{ address: '127.0.0.1', port: inbound.ports.inbound }]), options);
  return { outbound, inbound };
}

export function listenOn(server: Server | HttpServer, cleanup: Cleanup): Promise<number> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  cleanup.add(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/** An HTTP app answering JSON: what it received (method, url, headers, body). */
export async function echoApp(cleanup: Cleanup, handler?: RequestListener): Promise<{ port: number; server: HttpServer; connections: () => number }> {
  let connections = 0;
  const server = createHttpServer(
    handler ??
      ((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
          res.writeHead(200, { 'content-type': 'application/json', 'x-app': 'echo' });
          res.end(body);
        });
      }),
  );
  server.on('connection', () => connections++);
  const port = await listenOn(server, cleanup);
  return { port, server, connections: () => connections };
}

/** A raw TCP server: `onConnection` gets every socket (errors ignored, all destroyed at cleanup). */
export async function rawServer(cleanup: Cleanup, onConnection: (s: Socket) => void): Promise<{ port: number; server: Server }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    onConnection(s);
  });
  const port = await listenOn(server, cleanup);
  return { port, server };
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function get(
  port: number,
  path = '/',
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: Agent | false; host?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        agent: opts.agent ?? false,
        headers: { host: opts.host ?? `${SERVICE_HOST}:8080`, ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes and collects everything until the proxy closes the connection. */
export function rawExchange(port: number, data: string | Buffer, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => s.end());
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.write(data);
    if (opts.end) s.end();
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, parsed into samples (comments skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export function samples(text: string, name: string, where: Record<string, string> = {}): Sample[] {
  return parsePrometheus(text).filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
}

/** Waits until `check` holds, polling (for effects that land right after a response: metrics recorded at stream end). */
export async function eventually<T>(check: () => T | undefined | false, what: string, tries = 500): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A raw client connection: write bytes, wait until what came back satisfies a test. */
export function rawClient(
  port: number,
  cleanup: Cleanup,
): Promise<{ socket: Socket; received: () => string; until: (test: (text: string) => boolean, what: string) => Promise<string>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    cleanup.add(() => socket.destroy());
    let text = '';
    const waiters: Array<() => void> = [];
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => {
      closedResolve = r;
    });
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      for (const w of waiters.splice(0)) w();
    });
    socket.on('error', () => {});
    socket.on('end', () => {
      // The peer is done: close our side too, so `closed` settles.
      socket.end();
      for (const w of waiters.splice(0)) w();
    });
    socket.on('close', () => {
      closedResolve();
      for (const w of waiters.splice(0)) w();
    });
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => text,
        closed,
        until: (test, what) =>
          new Promise<string>((res, rej) => {
            const check = () => {
              if (test(text)) res(text);
              else if (socket.destroyed || socket.readableEnded)
                rej(new Error(`connection closed before ${what}; received ${JSON.stringify(text.slice(0, 300))}`));
              else waiters.push(check);
            };
            check();
          }),
      }),
    );
    socket.once('error', reject);
  });
}
