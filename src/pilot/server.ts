// The discovery server: one TCP connection per proxy, newline-delimited JSON in both
// directions, xDS's state machine per resource type (what was sent with which version
// and nonce, what the proxy ACKed, its last NACK). Pushes go out in Envoy's safe order
// (CDS, EDS, LDS, RDS, ECDS) and only for types whose resources changed for that proxy;
// a (re)connected proxy gets everything it subscribes to.

import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TypeUrl } from '../proxy/config.js';
import { buildConfigDump, type ConfigDump } from './config-dump.js';
import { type Fragment, type ProxyResources, proxyResources } from './generate.js';
import { DEFAULT_MAX_LINE_BYTES, lineSplitter } from './line-reader.js';
import type { DiscoveryRequest } from './protocol.js';
import { type ProxyInfo, proxyInfo } from './proxy-node.js';
import type { PushContext } from './push-context.js';

export type ShortType = 'CDS' | 'EDS' | 'LDS' | 'RDS' | 'ECDS';
/** Envoy's safe update order: clusters before the endpoints and listeners that use them, routes last. */
export const PUSH_ORDER: ReadonlyArray<readonly [ShortType, TypeUrl]> = [
  ['CDS', TypeUrl.cluster],
  ['EDS', TypeUrl.endpoint],
  ['LDS', TypeUrl.listener],
  ['RDS', TypeUrl.route],
  ['ECDS', TypeUrl.extension],
];
const SHORT = new Map<string, ShortType>(PUSH_ORDER.map(([s, u]) => [u, s]));

export type SyncState = 'SYNCED' | 'NOT SENT' | 'STALE' | 'NACKED';

interface TypeState {
  subscribed: boolean;
  sentVersion: string;
  sentNonce: string;
  sentHash: string;
  sentAt?: number;
  /** What was sent, kept for /debug/config_dump (fragments are shared, so this costs little). */
  sentFragments: Fragment<unknown>[];
  ackedVersion: string;
  ackedNonce: string;
  ackedAt?: number;
  nack?: { nonce: string; version: string; code: number; message: string; at: number };
}

export interface TypeStatus {
  typeUrl: TypeUrl;
  status: SyncState;
  sentVersion: string;
  sentNonce: string;
  ackedVersion: string;
  ackedNonce: string;
  /** The proxy's reason, when the current response was rejected. */
  error?: string;
}

/** Istio's flat /debug/syncz fields (the nonces sent and acknowledged per type), for tools that read istiod's. */
export interface IstioSyncFields {
  cluster_id: string;
  istio_version: string;
  cluster_sent: string;
  cluster_acked: string;
  listener_sent: string;
  listener_acked: string;
  route_sent: string;
  route_acked: string;
  endpoint_sent: string;
  endpoint_acked: string;
  extension_config_sent: string;
  extension_config_acked: string;
}

/** One connected proxy, as /debug/syncz reports it. */
export interface ProxySyncStatus extends IstioSyncFields {
  /** pod.namespace: Istio's proxy ID, proxy-status's NAME. */
  proxy: string;
  /** The node id the proxy announced (sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local). */
  nodeId: string;
  clusterId: string;
  istioVersion: string;
  istiod: string;
  address: string;
  connectedAt: string;
  types: Record<ShortType, TypeStatus>;
}

export interface PushRecord {
  version: string;
  reasons: string[];
  startedAt: string;
  durationMs: number;
  proxies: number;
  sent: Record<ShortType, number>;
}

class Connection {
  proxy: ProxyInfo | undefined;
  readonly types = new Map<TypeUrl, TypeState>();
  /** Types subscribed since the last send: they go out whatever their hash (a (re)connect's full push). */
  readonly initial = new Set<TypeUrl>();
  initialScheduled = false;
  waitingForDrain = false;
  generated: { ctx: PushContext; resources: ProxyResources } | undefined;
  readonly connectedAt = new Date();

  constructor(
    readonly socket: Socket,
    readonly address: string,
  ) {}

  state(typeUrl: TypeUrl): TypeState {
    let st = this.types.get(typeUrl);
    if (!st) {
      st = { subscribed: false, sentVersion: '', sentNonce: '', sentHash: '', sentFragments: [], ackedVersion: '', ackedNonce: '' };
      this.types.set(typeUrl, st);
    }
    return st;
  }
}

export function typeStatus(typeUrl: TypeUrl, st: TypeState | undefined): TypeStatus {
  const base = {
    typeUrl,
    sentVersion: st?.sentVersion ?? '',
    sentNonce: st?.sentNonce ?? '',
    ackedVersion: st?.ackedVersion ?? '',
    ackedNonce: st?.ackedNonce ?? '',
  };
  if (!st?.sentNonce) return { ...base, status: 'NOT SENT' };
  if (st.nack && st.nack.nonce === st.sentNonce) return { ...base, status: 'NACKED', error: st.nack.message };
  if (st.ackedNonce === st.sentNonce) return { ...base, status: 'SYNCED' };
  return { ...base, status: 'STALE' };
}

export interface DiscoveryServerOptions {
  host: string;
  port: number;
  /** Shown as the ISTIOD column of proxy-status. */
  name: string;
  log: (line: string) => void;
  maxLineBytes?: number;
  /** Connections pushed to per turn of the event loop (ACKs are read in between). */
  batchSize?: number;
}

const RESOURCE_KEY: Record<Exclude<ShortType, 'ECDS'>, keyof ProxyResources> = { CDS: 'clusters', EDS: 'endpoints', LDS: 'listeners', RDS: 'routes' };
const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']}\n');

export class DiscoveryServer {
  readonly #opts: DiscoveryServerOptions;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  #ctx: PushContext | undefined;
  #loop: Promise<void> | undefined;
  #pushAgain = false;
  #pushReasons = new Set<string>();
  readonly #noncePrefix = randomBytes(4).toString('hex');
  #nonceSeq = 0;
  #sentCount: Record<ShortType, number> = { CDS: 0, EDS: 0, LDS: 0, RDS: 0, ECDS: 0 };
  pushes = 0;
  lastPush: PushRecord | undefined;

  constructor(opts: DiscoveryServerOptions) {
    this.#opts = opts;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  get context(): PushContext | undefined {
    return this.#ctx;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Starts serving once there is a push context to serve from; resolves with the port. */
  listen(ctx: PushContext): Promise<number> {
    this.#ctx = ctx;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Pushes a new context to every connection (only the types that changed for each).
   * A push during a push folds into it: connections not yet reached get the newest
   * context, and one more round follows for those already done.
   */
  push(ctx: PushContext, reasons: Iterable<string> = []): Promise<void> {
    this.#ctx = ctx;
    for (const r of reasons) this.#pushReasons.add(r);
    this.#pushAgain = true;
    this.#loop ??= this.#pushRounds().finally(() => {
      this.#loop = undefined;
    });
    return this.#loop;
  }

  async #pushRounds(): Promise<void> {
    const batch = this.#opts.batchSize ?? 100;
    while (this.#pushAgain) {
      this.#pushAgain = false;
      const started = performance.now();
      const startedAt = new Date().toISOString();
      const reasons = [...this.#pushReasons];
      this.#pushReasons.clear();
      const before = { ...this.#sentCount };
      const conns = [...this.#connections];
      for (let i = 0; i < conns.length; i++) {
        this.#pushTo(conns[i]);
        if ((i + 1) % batch === 0) await nextTurn();
      }
      this.pushes++;
      const sent = Object.fromEntries(PUSH_ORDER.map(([s]) => [s, this.#sentCount[s] - before[s]])) as Record<ShortType, number>;
      this.lastPush = { version: this.#ctx?.version ?? '', reasons, startedAt, durationMs: performance.now() - started, proxies: conns.length, sent };
      this.#opts.log(
        `xds: push ${this.lastPush.version} (${reasons.join(', ') || 'full'}) to ${conns.length} proxies in ${this.lastPush.durationMs.toFixed(1)} ms: ${PUSH_ORDER.map(([s]) => `${s} ${sent[s]}`).join(', ')}`,
      );
    }
  }

  syncStatus(): ProxySyncStatus[] {
    const out: ProxySyncStatus[] = [];
    for (const conn of this.#connections) {
      const p = conn.proxy;
      if (!p) continue;
      const types = Object.fromEntries(PUSH_ORDER.map(([s, u]) => [s, typeStatus(u, conn.types.get(u))])) as Record<ShortType, TypeStatus>;
      const clusterId = p.node.cluster || p.node.metadata?.cluster || '';
      const istioVersion = p.node.metadata?.istioVersion ?? '';
      out.push({
        proxy: p.name,
        nodeId: p.id,
        clusterId,
        istioVersion,
        istiod: this.#opts.name,
        address: conn.address,
        connectedAt: conn.connectedAt.toISOString(),
        types,
        cluster_id: clusterId,
        istio_version: istioVersion,
        cluster_sent: types.CDS.sentNonce,
        cluster_acked: types.CDS.ackedNonce,
        listener_sent: types.LDS.sentNonce,
        listener_acked: types.LDS.ackedNonce,
        route_sent: types.RDS.sentNonce,
        route_acked: types.RDS.ackedNonce,
        endpoint_sent: types.EDS.sentNonce,
        endpoint_acked: types.EDS.ackedNonce,
        extension_config_sent: types.ECDS.sentNonce,
        extension_config_acked: types.ECDS.ackedNonce,
      });
    }
    return out.sort((a, b) => (a.proxy < b.proxy ? -1 : a.proxy > b.proxy ? 1 : 0));
  }

  /** What was last sent to a proxy (by pod.namespace or node id; the newest connection if several). */
  configDump(proxyId: string): ConfigDump | undefined {
    const conn = [...this.#connections].reverse().find((c) => c.proxy && (c.proxy.name === proxyId || c.proxy.id === proxyId));
    if (!conn) return undefined;
    const part = (u: TypeUrl) => {
      const st = conn.types.get(u);
      return { version: st?.sentVersion ?? '', items: (st?.sentFragments ?? []).flatMap((f) => [...f.items]) as any[] };
    };
    return buildConfigDump({
      clusters: part(TypeUrl.cluster),
      listeners: part(TypeUrl.listener),
      routes: part(TypeUrl.route),
      endpoints: part(TypeUrl.endpoint),
    });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const conn of this.#connections) conn.socket.destroy();
    this.#connections.clear();
    await closed;
  }

  #accept(socket: Socket): void {
    const conn = new Connection(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    this.#connections.add(conn);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const who = () => conn.proxy?.name ?? conn.address;
    const fail = (why: string) => {
      this.#opts.log(`xds: closing connection from ${who()}: ${why}`);
      socket.destroy();
    };
    socket.on(
      'data',
      lineSplitter(
        (line) => {
          let req: unknown;
          try {
            req = JSON.parse(line);
          } catch {
            fail(`bad JSON (${line.length} bytes)`);
            return false;
          }
          return this.#onRequest(conn, req, fail);
        },
        () => fail(`a line longer than ${this.#opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES} bytes`),
        this.#opts.maxLineBytes,
      ),
    );
    socket.on('error', () => {}); // 'close' follows and says what matters
    socket.on('close', () => {
      this.#connections.delete(conn);
      if (conn.proxy) this.#opts.log(`xds: ${conn.proxy.name} disconnected`);
    });
  }

  /** Handles one request; false when the connection was closed for it. */
  #onRequest(conn: Connection, raw: unknown, fail: (why: string) => void): boolean {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      fail('a request that is not a JSON object');
      return false;
    }
    const req = raw as DiscoveryRequest;
    if (!conn.proxy) {
      const info = req.node ? proxyInfo(req.node) : undefined;
      if (!info) {
        fail(
          req.node
            ? `node id ${JSON.stringify(req.node.id)} is not sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`
            : 'the first request has no node',
        );
        return false;
      }
      conn.proxy = info;
      this.#opts.log(`xds: ${info.name} connected from ${conn.address} (${info.id}, version ${info.node.metadata?.istioVersion ?? 'unknown'})`);
    }
    if (req.typeUrl === undefined) return true; // a request that only says who the proxy is
    const short = SHORT.get(req.typeUrl);
    if (!short) {
      this.#opts.log(`xds: ${conn.proxy.name} asked for unknown type ${JSON.stringify(req.typeUrl)}; ignored`);
      return true;
    }
    const st = conn.state(req.typeUrl);
    if (!req.responseNonce) {
      // A subscription (first, or again after a reconnect): the whole current state goes out.
      st.subscribed = true;
      conn.initial.add(req.typeUrl);
      if (!conn.initialScheduled) {
        conn.initialScheduled = true;
        // Subscriptions that arrive together are answered together, in push order.
        setImmediate(() => {
          conn.initialScheduled = false;
          this.#pushTo(conn);
        });
      }
      return true;
    }
    // An answer to an older response: a newer one is on its way, whose answer counts.
    if (req.responseNonce !== st.sentNonce) return true;
    if (req.errorDetail) {
      st.nack = { nonce: req.responseNonce, version: st.sentVersion, code: req.errorDetail.code, message: String(req.errorDetail.message), at: Date.now() };
      this.#opts.log(`xds: ${conn.proxy.name} rejected ${short} version ${st.sentVersion} (keeps ${req.versionInfo || 'nothing'}): ${req.errorDetail.message}`);
    } else {
      st.ackedVersion = req.versionInfo;
      st.ackedNonce = req.responseNonce;
      st.ackedAt = Date.now();
      st.nack = undefined;
    }
    return true;
  }

  #resources(conn: Connection, ctx: PushContext): ProxyResources | undefined {
    if (conn.generated?.ctx === ctx) return conn.generated.resources;
    try {
      const resources = proxyResources(ctx, conn.proxy as ProxyInfo);
      conn.generated = { ctx, resources };
      return resources;
    } catch (e) {
      this.#opts.log(`xds: generating config for ${conn.proxy?.name} failed: ${(e as Error).stack}`);
      return undefined;
    }
  }

  /** Sends a connection what changed for it in the current context (everything it newly subscribed to). */
  #pushTo(conn: Connection): void {
    const ctx = this.#ctx;
    if (!conn.proxy || !ctx || conn.socket.destroyed) return;
    if (conn.initial.size === 0 && conn.socket.writableNeedDrain) {
      // A proxy that does not read: one push waits for it, with whatever is newest by then.
      if (!conn.waitingForDrain) {
        conn.waitingForDrain = true;
        conn.socket.once('drain', () => {
          conn.waitingForDrain = false;
          this.#pushTo(conn);
        });
      }
      return;
    }
    const resources = this.#resources(conn, ctx);
    if (!resources) return;
    conn.socket.cork();
    for (const [short, typeUrl] of PUSH_ORDER) {
      const st = conn.types.get(typeUrl);
      if (!st?.subscribed) continue;
      const fragments: Fragment<unknown>[] = short === 'ECDS' ? [] : resources[RESOURCE_KEY[short]];
      const hash = fragments.map((f) => f.hash).join('+');
      if (!conn.initial.has(typeUrl) && hash === st.sentHash) continue;
      this.#send(conn, short, typeUrl, st, ctx.version, fragments, hash);
    }
    conn.initial.clear();
    conn.socket.uncork();
  }

  #send(conn: Connection, short: ShortType, typeUrl: TypeUrl, st: TypeState, version: string, fragments: Fragment<unknown>[], hash: string): void {
    const nonce = `${this.#noncePrefix}-${(++this.#nonceSeq).toString(36)}`;
    const socket = conn.socket;
    socket.write(`{"typeUrl":${JSON.stringify(typeUrl)},"versionInfo":${JSON.stringify(version)},"nonce":"${nonce}","resources":[`);
    // Shared fragments are written as the same Buffer to every proxy: serialized once per push.
    let first = true;
    for (const f of fragments) {
      if (f.items.length === 0) continue;
      if (!first) socket.write(COMMA);
      socket.write(f.buffer);
      first = false;
    }
    socket.write(TAIL);
    st.sentVersion = version;
    st.sentNonce = nonce;
    st.sentHash = hash;
    st.sentAt = Date.now();
    st.sentFragments = fragments;
    this.#sentCount[short]++;
  }
}
