// The two capture listeners. Outbound (15001) hands each connection to the listener
// for its original destination (address:port, else 0.0.0.0:port, else the
// virtualOutbound's default chain: PassthroughCluster or BlackHoleCluster).
// Inbound (15006) picks the virtualInbound chain by destination port, else its
// default chain (InboundPassthroughCluster). Where a port may carry HTTP or not,
// the first bytes decide (Istio's protocol sniffing).

import { createServer, type Server, type Socket } from 'node:net';
import type { FilterChain, Listener } from './config.js';
import { HttpConnection } from './http-connection.js';
import type { Address, Flow, ProxyRuntime } from './runtime.js';
import { proxyTcp } from './tcp-proxy.js';

export type OriginalDst = (socket: Socket) => Address | undefined;

const HTTP_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'CONNECT',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'PURGE',
  'REPORT',
  'SEARCH',
]);
const LONGEST_METHOD = 9;

/** true: an HTTP/1.x request line starts here; false: not HTTP/1.x; undefined: too few bytes to tell. */
export function looksLikeHttp(buf: Buffer): boolean | undefined {
  const n = Math.min(buf.length, LONGEST_METHOD + 1);
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c === 32) return i > 0 && HTTP_METHODS.has(buf.toString('latin1', 0, i));
    if (c < 65 || c > 90) return false;
  }
  return buf.length > LONGEST_METHOD ? false : undefined;
}

/** Waits for the first bytes (or the sniffing timeout: server-first protocols send nothing) and says whether they are HTTP. */
function sniff(socket: Socket, timeoutMs: number, done: (http: boolean, data: Buffer | undefined, ended: boolean) => void): void {
  let data: Buffer | undefined;
  let settled = false;
  const finish = (http: boolean, ended: boolean) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.pause();
    done(http, data, ended);
  };
  const onData = (chunk: Buffer) => {
    data = data ? Buffer.concat([data, chunk]) : chunk;
    const verdict = looksLikeHttp(data);
    if (verdict !== undefined) finish(verdict, false);
  };
  const onEnd = () => finish(data ? looksLikeHttp(data) === true : false, true);
  const timer = setTimeout(() => finish(false, false), timeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
}

interface Candidates {
  listener: Listener;
  chains: FilterChain[];
  /** Where traffic goes when the chains do not take it. */
  fallback: FilterChain | undefined;
}

function outboundCandidates(rt: ProxyRuntime, dst: Address): Candidates | undefined {
  const store = rt.store;
  const virtual = store.virtualOutbound;
  const l = store.outboundByAddress.get(`${dst.address}:${dst.port}`) ?? store.outboundByAddress.get(`0.0.0.0:${dst.port}`);
  if (l) return { listener: l, chains: l.filterChains, fallback: l.defaultFilterChain ?? virtual?.defaultFilterChain };
  if (!virtual) return undefined;
  // No listener for the destination: the virtual listener's own chains (plain HTTP to allow_any) or its default.
  return { listener: virtual, chains: virtual.filterChains, fallback: virtual.defaultFilterChain };
}

function inboundCandidates(rt: ProxyRuntime, dst: Address): Candidates | undefined {
  const l = rt.store.virtualInbound;
  if (!l) return undefined;
  let chains = l.filterChains.filter((c) => c.match?.destinationPort === dst.port);
  if (chains.length === 0) chains = l.filterChains.filter((c) => c.match?.destinationPort === undefined);
  return { listener: l, chains, fallback: l.defaultFilterChain };
}

function run(rt: ProxyRuntime, socket: Socket, flow: Flow, chain: FilterChain | undefined, data: Buffer | undefined, ended: boolean): void {
  if (!chain) {
    socket.destroy();
    return;
  }
  const f = chain.filter;
  if (f.type === 'http') new HttpConnection(socket, flow, rt, f.routeConfigName, data, ended);
  else proxyTcp(rt, socket, flow, f.cluster, data, ended);
}

function dispatch(rt: ProxyRuntime, direction: 'INBOUND' | 'OUTBOUND', socket: Socket, dst: Address): void {
  const c = direction === 'OUTBOUND' ? outboundCandidates(rt, dst) : inboundCandidates(rt, dst);
  if (!c) {
    socket.destroy();
    return;
  }
  const flow: Flow = {
    direction,
    listener: c.listener,
    dst,
    downstreamRemote: `${socket.remoteAddress}:${socket.remotePort}`,
    downstreamLocal: `${dst.address}:${dst.port}`,
  };
  const http = c.chains.find((ch) => ch.filter.type === 'http');
  const tcp = c.chains.find((ch) => ch.filter.type === 'tcp');
  const protocol = c.listener.protocol;
  if (http && (protocol === 'http' || (!tcp && protocol === 'tcp'))) {
    run(rt, socket, flow, http, undefined, false);
    return;
  }
  if (!http || (tcp && protocol === 'tcp')) {
    run(rt, socket, flow, tcp ?? c.fallback, undefined, false);
    return;
  }
  sniff(socket, rt.limits.sniffMs, (isHttp, data, ended) => {
    // A connection the sniffer saw close before a byte arrived has nothing to carry.
    if (ended && !data) {
      socket.destroy();
      return;
    }
    run(rt, socket, flow, isHttp ? http : (tcp ?? c.fallback), data, ended);
  });
}

export interface CaptureListener {
  server: Server;
  port: number;
  /** Every accepted connection still open (HTTP, TCP, upgraded), for drain and close. */
  sockets: Set<Socket>;
}

/**
 * Listens for captured connections. Connections that arrive before the first
 * config wait for it (`whenConfigured`), as the app's first calls would otherwise fail.
 */
export function listenCapture(
  rt: ProxyRuntime,
  direction: 'INBOUND' | 'OUTBOUND',
  port: number,
  host: string,
  originalDst: OriginalDst,
  whenConfigured: (fn: () => void) => void,
): Promise<CaptureListener> {
  const name = direction === 'OUTBOUND' ? 'virtualOutbound' : 'virtualInbound';
  const counters = { downstream_cx_total: 0, downstream_cx_active: 0 };
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    counters.downstream_cx_total++;
    counters.downstream_cx_active++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      counters.downstream_cx_active--;
      sockets.delete(socket);
    });
    let dst: Address | undefined;
    try {
      dst = originalDst(socket);
    } catch (e) {
      rt.log.debug(`original destination unreadable: ${(e as Error).message}`);
    }
    if (!dst) {
      rt.log.debug(`${name}: connection from ${socket.remoteAddress}:${socket.remotePort} has no original destination; closed`);
      socket.destroy();
      return;
    }
    const target = dst;
    if (target.port === (server.address() as { port: number }).port) {
      // Sent to the capture port itself: passing it through would loop back here (Istio's blackhole chains).
      socket.destroy();
      return;
    }
    whenConfigured(() => {
      if (!socket.destroyed) dispatch(rt, direction, socket, target);
    });
  });
  server.on('error', (e) => rt.log.error(`${name} listener: ${e.message}`));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      const bound = (server.address() as { port: number }).port;
      // Envoy names listener stats by address: listener.0.0.0.0_15001.downstream_cx_total.
      rt.listenerCounters.set(`${host}_${bound}`, counters);
      resolve({ server, port: bound, sockets });
    });
  });
}
