// A cluster at run time: its endpoints (the HEALTHY ones from EDS, or the original
// destination), load balancing among them, outlier ejection, and a pool of idle
// keep-alive connections per endpoint. Runtimes survive config updates that leave
// the cluster unchanged, so pools stay warm across pushes.

import { connect, type Socket } from 'node:net';
import type { Cluster, LbEndpoint, WorkloadMeta } from './config.js';
import { ClusterStats, type ServiceLabels } from './metrics.js';
import { UpstreamConn } from './upstream.js';

/** Envoy's default max_pending_requests (Istio raises it; a bound keeps memory bounded). */
const MAX_PENDING = 1024;
/** Istio's default maxEjectionPercent, and Envoy's rule that one host may always be ejected. */
const MAX_EJECTION_PERCENT = 10;
const DEFAULT_BASE_EJECTION_MS = 30_000;

export class EndpointState {
  readonly key: string;
  readonly idle: UpstreamConn[] = [];
  connections = 0;
  activeRequests = 0;
  consecutiveErrors = 0;
  ejectedUntil = 0;
  ejections = 0;
  /** No longer in the cluster's endpoints: its connections close when their requests end. */
  removed = false;
  healthy = true;
  healthStatus: LbEndpoint['healthStatus'] = 'HEALTHY';
  weight = 1;
  workload: WorkloadMeta | undefined;

  constructor(
    readonly address: string,
    readonly port: number,
    /** Made for one original destination rather than listed by EDS. */
    readonly dynamic: boolean,
  ) {
    this.key = `${address}:${port}`;
  }
}

export type Acquired = UpstreamConn | 'connect-failure' | 'overflow';

export class ClusterRuntime {
  readonly stats = new ClusterStats();
  readonly service: ServiceLabels | undefined;
  /** Connections open or opening, for maxConnections. */
  connections = 0;
  #all: EndpointState[] = [];
  #healthy: EndpointState[] = [];
  readonly #byKey = new Map<string, EndpointState>();
  #rr = 0;
  #ejectedUntilMax = 0;
  readonly #waiters: Array<() => void> = [];
  #closed = false;
  /** The last endpoint endpointFor gave (an inbound cluster's one workload port, a repeated original destination). */
  #lastFixed: EndpointState | undefined;

  constructor(readonly config: Cluster) {
    const s = config.service;
    this.service = s ? { host: s.host, name: s.name, namespace: s.namespace } : undefined;
  }

  get name(): string {
    return this.config.name;
  }

  get endpoints(): readonly EndpointState[] {
    return this.#all;
  }

  /** Replaces the EDS endpoints; endpoints that stay keep their pools and counters. */
  setEndpoints(list: readonly LbEndpoint[]): void {
    const next: EndpointState[] = [];
    const keep = new Set<string>();
    for (const e of list) {
      const key = `${e.address}:${e.port}`;
      if (keep.has(key)) continue;
      keep.add(key);
      let ep = this.#byKey.get(key);
      if (!ep || ep.dynamic) {
        ep = new EndpointState(e.address, e.port, false);
        this.#byKey.set(key, ep);
      }
      ep.healthy = e.healthStatus === 'HEALTHY';
      ep.healthStatus = e.healthStatus;
      ep.weight = e.weight ?? 1;
      ep.workload = e.workload;
      next.push(ep);
    }
    for (const ep of this.#all) {
      if (keep.has(ep.key)) continue;
      ep.removed = true;
      this.#byKey.delete(ep.key);
      for (const c of ep.idle.splice(0)) c.socket.destroy();
    }
    this.#all = next;
    this.#healthy = next.filter((e) => e.healthy);
  }

  /** The endpoint for a fixed address (an original destination, an inbound cluster's workload port). */
  endpointFor(address: string, port: number): EndpointState {
    // Still valid while the map holds it (the sweep forgets unused original destinations); ep.key's hash is cached.
    const last = this.#lastFixed;
    if (last !== undefined && last.port === port && last.address === address && this.#byKey.get(last.key) === last) return last;
    const key = `${address}:${port}`;
    let ep = this.#byKey.get(key);
    if (!ep) {
      ep = new EndpointState(address, port, true);
      this.#byKey.set(key, ep);
    }
    this.#lastFixed = ep;
    return ep;
  }

  /** An endpoint by the cluster's policy, avoiding `tried` (Istio's retry host predicate) and ejected ones when others remain. */
  pick(tried: readonly EndpointState[] | undefined, now: number): EndpointState | undefined {
    let list = this.#healthy;
    if (list.length <= 1) return list[0];
    if ((tried && tried.length > 0) || now < this.#ejectedUntilMax) {
      const fresh = list.filter((e) => e.ejectedUntil <= now && !tried?.includes(e));
      const candidates = fresh.length > 0 ? fresh : list.filter((e) => e.ejectedUntil <= now);
      // All ejected: Envoy's panic mode balances over every host.
      if (candidates.length > 0) list = candidates;
    }
    const n = list.length;
    switch (this.config.lbPolicy) {
      case 'LEAST_REQUEST': {
        const a = list[(Math.random() * n) | 0];
        const b = list[(Math.random() * n) | 0];
        return b.activeRequests < a.activeRequests ? b : a;
      }
      case 'RANDOM':
        return list[(Math.random() * n) | 0];
      default:
        if (this.#rr >= 0x3fffffff) this.#rr = 0;
        return list[this.#rr++ % n];
    }
  }

  /** Outlier detection: consecutive errors eject an endpoint for a growing time. */
  noteResult(ep: EndpointState, failed: boolean, now: number): void {
    const threshold = this.config.consecutiveErrors;
    if (!threshold) return;
    if (!failed) {
      ep.consecutiveErrors = 0;
      return;
    }
    if (++ep.consecutiveErrors < threshold || ep.ejectedUntil > now) return;
    const ejected = this.#all.filter((e) => e.ejectedUntil > now).length;
    if (ejected > 0 && ((ejected + 1) * 100) / this.#all.length > MAX_EJECTION_PERCENT) return;
    ep.consecutiveErrors = 0;
    ep.ejections++;
    ep.ejectedUntil = now + (this.config.baseEjectionTimeMs ?? DEFAULT_BASE_EJECTION_MS) * ep.ejections;
    this.#ejectedUntilMax = Math.max(this.#ejectedUntilMax, ep.ejectedUntil);
  }

  /** A connection to `ep` for one HTTP request: an idle one, a new one, or why there is none. */
  acquire(ep: EndpointState, done: (r: Acquired) => void): void {
    while (ep.idle.length > 0) {
      const c = ep.idle.pop()!;
      if (c.socket.destroyed || !c.reusable) continue;
      c.reused = true;
      done(c);
      return;
    }
    const max = this.config.maxConnections;
    if (max !== undefined && this.connections >= max && !this.#closed && !this.#closeIdleElsewhere()) {
      if (this.#waiters.length >= MAX_PENDING) {
        this.stats.upstream_rq_pending_overflow++;
        done('overflow');
      } else this.#waiters.push(() => this.acquire(ep, done));
      return;
    }
    this.#open(ep, false, (r) => done(typeof r === 'string' ? r : new UpstreamConn(r, () => this.#gone(ep))));
  }

  /** A raw connection to `ep` for the TCP proxy. */
  openTcp(ep: EndpointState, done: (r: Socket | 'connect-failure' | 'overflow') => void): void {
    const max = this.config.maxConnections;
    if (max !== undefined && this.connections >= max) {
      this.stats.upstream_cx_overflow++;
      done('overflow');
      return;
    }
    this.#open(ep, true, (r) => {
      if (typeof r !== 'string') r.once('close', () => this.#gone(ep));
      done(r);
    });
  }

  /** Gives a connection back after its response: kept for the next request, or closed. */
  release(conn: UpstreamConn, reuse: boolean, ep: EndpointState, now: number): void {
    const max = this.config.maxRequestsPerConnection;
    if (reuse && conn.reusable && !conn.busy && !this.#closed && !ep.removed && !conn.socket.destroyed && !(max && conn.requests >= max)) {
      conn.idleSince = now;
      ep.idle.push(conn);
      this.#wake();
    } else conn.abandon();
  }

  /** Closes connections idle longer than `maxIdleMs`, and forgets original destinations nobody uses. */
  sweep(now: number, maxIdleMs: number): void {
    for (const ep of this.#byKey.values()) {
      while (ep.idle.length > 0 && now - ep.idle[0].idleSince >= maxIdleMs) ep.idle.shift()!.socket.destroy();
      if (ep.dynamic && ep.connections === 0 && ep.activeRequests === 0) this.#byKey.delete(ep.key);
    }
  }

  /** Closes idle connections; busy ones close when their requests end. */
  close(): void {
    this.#closed = true;
    for (const ep of this.#byKey.values()) for (const c of ep.idle.splice(0)) c.socket.destroy();
    for (const ep of this.#all) ep.removed = true;
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w();
  }

  /** Closes one idle connection (to any endpoint) to make room under maxConnections. */
  #closeIdleElsewhere(): boolean {
    for (const other of this.#byKey.values()) {
      const c = other.idle.pop();
      if (c) {
        c.socket.destroy();
        return true;
      }
    }
    return false;
  }

  #open(ep: EndpointState, halfOpen: boolean, done: (r: Socket | 'connect-failure') => void): void {
    this.connections++;
    ep.connections++;
    this.stats.upstream_cx_total++;
    this.stats.upstream_cx_active++;
    const socket = connect({ host: ep.address, port: ep.port, noDelay: true, allowHalfOpen: halfOpen });
    let settled = false;
    const fail = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (timedOut) this.stats.upstream_cx_connect_timeout++;
      this.stats.upstream_cx_connect_fail++;
      this.#dropCount(ep);
      done('connect-failure');
    };
    const timeoutMs = this.config.connectTimeoutMs;
    const timer = timeoutMs > 0 ? setTimeout(() => fail(true), timeoutMs) : undefined;
    const onError = () => fail(false);
    socket.once('error', onError);
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', onError);
      done(socket);
    });
  }

  #gone(ep: EndpointState): void {
    this.#dropCount(ep);
    for (let i = ep.idle.length - 1; i >= 0; i--) if (ep.idle[i].socket.destroyed) ep.idle.splice(i, 1);
    this.#wake();
  }

  #dropCount(ep: EndpointState): void {
    this.connections--;
    ep.connections--;
    this.stats.upstream_cx_active--;
  }

  #wake(): void {
    const w = this.#waiters.shift();
    if (w) w();
  }
}

/** The endpoint a flow goes to in `cluster`: a fixed workload port, the original destination, or the balancer's pick. */
export function endpointForFlow(
  cluster: ClusterRuntime,
  flow: { direction: 'INBOUND' | 'OUTBOUND'; dst: { address: string; port: number } },
  tried: readonly EndpointState[] | undefined,
  now: number,
): EndpointState | undefined {
  const c = cluster.config;
  if (c.upstreamAddress !== undefined || c.upstreamPort !== undefined)
    return cluster.endpointFor(c.upstreamAddress ?? '127.0.0.1', c.upstreamPort ?? flow.dst.port);
  // Inbound, the workload listens on the pod's loopback (a VM's forwarded ports), as Istio's inbound passthrough does.
  if (c.type === 'ORIGINAL_DST') return cluster.endpointFor(flow.direction === 'INBOUND' ? '127.0.0.1' : flow.dst.address, flow.dst.port);
  return cluster.pick(tried, now);
}
