// The heads a request and its response are forwarded with: hop-by-hop headers
// (RFC 7230 6.1) and the mesh's internal x-envoy-* headers left out, the framing
// the next hop needs, this hop's trace and metadata headers, the route's additions.

import type { Route } from './config.js';
import { type HttpHead, isHopByHop, reasonPhrase } from './http-head.js';
import { type HopTrace, TRACE_HEADERS, traceHeaderLines } from './layers/trace-headers.js';

const NONE: ReadonlyArray<{ key: string; value: string }> = [];

export interface UpstreamHeadParts {
  req: HttpHead;
  /** The origin-form target, before any rewrite. */
  target: string;
  authority: string;
  route: Route;
  /** The matched route's prefix (for prefixRewrite). */
  matchedPrefix: string | undefined;
  chunkedBody: boolean;
  upgrade: boolean;
  trace: HopTrace;
  /** Our x-envoy-peer-metadata lines (outbound), or "". */
  peerHeaders: string;
}

export function upstreamRequestHead(p: UpstreamHeadParts): string {
  const { req, route } = p;
  const action = route.route!;
  let target = p.target;
  if (action.prefixRewrite !== undefined && p.matchedPrefix !== undefined && target.startsWith(p.matchedPrefix)) {
    target = action.prefixRewrite + target.slice(p.matchedPrefix.length);
    if (!target.startsWith('/')) target = '/' + target;
  }
  let s = `${req.method} ${target} HTTP/1.1\r\nhost: ${action.hostRewrite ?? p.authority}\r\n`;
  const { names, values } = req;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    // Envoy answers Expect itself; trace headers are replaced by this hop's.
    if (n === 'host' || n === 'expect' || isHopByHop(req, n) || TRACE_HEADERS.has(n)) continue;
    // The app must not see the mesh's internal headers; outbound, ours replace any the app set.
    if (n.startsWith('x-envoy-')) continue;
    s += n + ': ' + values[i] + '\r\n';
  }
  if (p.chunkedBody) s += 'transfer-encoding: chunked\r\n';
  if (p.upgrade) s += 'connection: upgrade\r\nupgrade: ' + req.upgrade + '\r\n';
  if (!req.get('x-forwarded-proto')) s += 'x-forwarded-proto: http\r\n';
  s += traceHeaderLines(p.trace) + p.peerHeaders;
  for (const h of route.requestHeadersToAdd ?? NONE) s += `${h.key.toLowerCase()}: ${h.value}\r\n`;
  return s + '\r\n';
}

export interface DownstreamHeadParts {
  head: HttpHead;
  /** The body goes to the client chunked (as it came, or re-framed). */
  chunked: boolean;
  /** The upstream's Content-Length no longer describes what the client gets. */
  dropLength: boolean;
  serviceMs: number;
  /** Our x-envoy-peer-metadata lines (inbound), or "". */
  peerHeaders: string;
  route: Route;
  close: boolean;
}

export function downstreamResponseHead(p: DownstreamHeadParts): string {
  const { head } = p;
  const upgraded = head.status === 101;
  let s = `HTTP/1.1 ${head.status} ${head.reason || reasonPhrase(head.status)}\r\n`;
  const { names, values } = head;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (isHopByHop(head, n) || n.startsWith('x-envoy-')) continue;
    if (n === 'content-length' && p.dropLength) continue;
    s += n + ': ' + values[i] + '\r\n';
  }
  if (upgraded) s += 'connection: upgrade\r\nupgrade: ' + head.upgrade + '\r\n';
  else if (p.chunked) s += 'transfer-encoding: chunked\r\n';
  s += `x-envoy-upstream-service-time: ${Math.round(p.serviceMs)}\r\n` + p.peerHeaders;
  for (const h of p.route.responseHeadersToAdd ?? NONE) s += `${h.key.toLowerCase()}: ${h.value}\r\n`;
  if (p.close && !upgraded) s += 'connection: close\r\n';
  return s + '\r\n';
}
