// VirtualService routes translated into proxy routes, as Istio translates them into
// Envoy's: one route per match condition (a route without matches catches "/"),
// destinations as clusters or weighted clusters, timeouts, retries, faults, rewrites
// and header changes. Regexes are RE2 and passed through unchanged: a proxy that
// cannot compile one rejects the whole push (NACK), as Envoy does.

import type { HeaderMatch, Route, RouteAction, RouteMatch } from '../proxy/config.js';
import { outboundClusterName } from './clusters.js';
import {
  type Destination,
  type HeaderOperations,
  type HttpMatchRequest,
  type HttpRoute,
  parseDurationMs,
  resolveHost,
  type StringMatch,
  type VirtualService,
} from './model.js';
import type { PushContext } from './push-context.js';

/** Istio's retry policy for routes without one (HTTPRetry default: 2 attempts). */
export const DEFAULT_RETRY_POLICY = { retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', numRetries: 2 };

/** The route of a service without a VirtualService: everything to its cluster, with Istio's default retries. */
export function defaultRoute(cluster: string): Route {
  return { name: 'default', match: { prefix: '/' }, route: { cluster, retryPolicy: { ...DEFAULT_RETRY_POLICY } } };
}

/** The cluster a destination leads to: its port, else the service's only port, else the port the request came in on. */
export function destinationCluster(ctx: PushContext, d: Destination, vsNamespace: string, listenerPort: number): string {
  const host = resolveHost(d.host, vsNamespace);
  const svc = ctx.serviceByHost.get(host);
  const port = d.port?.number ?? (svc?.ports.length === 1 ? svc.ports[0].port : listenerPort);
  return outboundClusterName(port, d.subset ?? '', host);
}

function headerMatch(name: string, m: StringMatch): HeaderMatch {
  if (m.exact !== undefined) return { name, exact: m.exact };
  if (m.prefix !== undefined) return { name, prefix: m.prefix };
  if (m.regex !== undefined) return { name, regex: m.regex };
  return { name, present: true };
}

function routeMatch(m: HttpMatchRequest | undefined): RouteMatch {
  const out: RouteMatch = {};
  const uri = m?.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.prefix !== undefined) out.prefix = uri.prefix;
  else if (uri?.regex !== undefined) out.safeRegex = uri.regex;
  else out.prefix = '/';
  // method, authority and scheme match on HTTP/2-style pseudo-headers, as Envoy sees them.
  const headers: HeaderMatch[] = [];
  if (m?.method) headers.push(headerMatch(':method', m.method));
  if (m?.authority) headers.push(headerMatch(':authority', m.authority));
  if (m?.scheme) headers.push(headerMatch(':scheme', m.scheme));
  for (const [name, sm] of Object.entries(m?.headers ?? {})) headers.push(headerMatch(name.toLowerCase(), sm ?? {}));
  if (headers.length) out.headers = headers;
  return out;
}

const headerList = (ops: { set?: Record<string, string>; add?: Record<string, string> } | undefined) =>
  [...Object.entries(ops?.set ?? {}), ...Object.entries(ops?.add ?? {})].map(([key, value]) => ({ key, value }));

function headerChanges(route: Route, ops: HeaderOperations | undefined): void {
  const req = headerList(ops?.request);
  const res = headerList(ops?.response);
  if (req.length) route.requestHeadersToAdd = req;
  if (res.length) route.responseHeadersToAdd = res;
}

function routeAction(ctx: PushContext, http: HttpRoute, vsNamespace: string, listenerPort: number): RouteAction {
  const destinations = http.route ?? [];
  const action: RouteAction = {};
  if (destinations.length === 1) action.cluster = destinationCluster(ctx, destinations[0].destination, vsNamespace, listenerPort);
  else {
    const total = destinations.reduce((s, d) => s + (d.weight ?? 0), 0);
    action.weightedClusters = destinations.map((d) => ({
      name: destinationCluster(ctx, d.destination, vsNamespace, listenerPort),
      // Weights left out everywhere: an even split.
      weight: total === 0 ? Math.floor(100 / destinations.length) : (d.weight ?? 0),
    }));
  }
  const timeoutMs = parseDurationMs(http.timeout);
  if (timeoutMs !== undefined) action.timeoutMs = timeoutMs;
  const r = http.retries;
  if (r) {
    const perTryTimeoutMs = parseDurationMs(r.perTryTimeout);
    action.retryPolicy = {
      retryOn: r.retryOn || DEFAULT_RETRY_POLICY.retryOn,
      numRetries: r.attempts ?? DEFAULT_RETRY_POLICY.numRetries,
      ...(perTryTimeoutMs !== undefined && r.attempts !== 0 ? { perTryTimeoutMs } : {}),
    };
  } else action.retryPolicy = { ...DEFAULT_RETRY_POLICY };
  if (http.rewrite?.uri !== undefined) action.prefixRewrite = http.rewrite.uri;
  if (http.rewrite?.authority !== undefined) action.hostRewrite = http.rewrite.authority;
  return action;
}

function fault(http: HttpRoute): Route['fault'] | undefined {
  const f = http.fault;
  if (!f) return undefined;
  const out: NonNullable<Route['fault']> = {};
  if (f.abort?.httpStatus !== undefined) out.abort = { httpStatus: f.abort.httpStatus, percentage: f.abort.percentage?.value ?? 100 };
  const delayMs = parseDurationMs(f.delay?.fixedDelay);
  if (delayMs !== undefined) out.delay = { fixedDelayMs: delayMs, percentage: f.delay?.percentage?.value ?? f.delay?.percent ?? 100 };
  return out.abort || out.delay ? out : undefined;
}

/** A VirtualService's HTTP routes for requests that came in on `listenerPort`. */
export function virtualServiceRoutes(ctx: PushContext, vs: VirtualService, listenerPort: number): Route[] {
  const vsNamespace = vs.metadata?.namespace ?? 'default';
  const routes: Route[] = [];
  for (const http of vs.spec?.http ?? []) {
    // Matches for other ports do not apply here; a route whose matches are all for other ports is skipped.
    const matches = (http.match ?? []).filter((m) => m.port === undefined || m.port === listenerPort);
    if ((http.match?.length ?? 0) > 0 && matches.length === 0) continue;
    for (const m of matches.length ? matches : [undefined]) {
      const name = [http.name, m?.name].filter(Boolean).join('.');
      const route: Route = { ...(name ? { name } : {}), match: routeMatch(m) };
      if (http.directResponse) {
        route.directResponse = {
          status: http.directResponse.status,
          ...(http.directResponse.body?.string !== undefined ? { body: http.directResponse.body.string } : {}),
        };
      } else if (http.redirect) {
        const { uri, authority, redirectCode } = http.redirect;
        route.directResponse = { status: redirectCode ?? 301 };
        route.responseHeadersToAdd = [{ key: 'location', value: authority ? `http://${authority}${uri ?? '/'}` : (uri ?? '/') }];
      } else route.route = routeAction(ctx, http, vsNamespace, listenerPort);
      const f = fault(http);
      if (f) route.fault = f;
      headerChanges(route, http.headers);
      routes.push(route);
    }
  }
  return routes;
}

/** A VirtualService's TCP route for a port: the heaviest destination of the first route that applies. */
export function virtualServiceTcpCluster(ctx: PushContext, vs: VirtualService, port: number): string | undefined {
  const vsNamespace = vs.metadata?.namespace ?? 'default';
  for (const tcp of vs.spec?.tcp ?? []) {
    if ((tcp.match?.length ?? 0) > 0 && !tcp.match?.some((m) => m.port === undefined || m.port === port)) continue;
    const best = [...(tcp.route ?? [])].sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))[0];
    if (best) return destinationCluster(ctx, best.destination, vsNamespace, port);
  }
  return undefined;
}
