// Route configurations, compiled once per RDS update: virtual hosts found by the
// Host header (exact, then *.suffix, then prefix.*, then "*", each with and without
// the port, as Envoy orders them), routes matched first-to-last by path and headers.

import type { HeaderMatch, Route, RouteConfiguration, VirtualHost } from './config.js';
import type { HttpHead } from './http-head.js';

/**
 * Compiles an RE2 pattern as a whole-string JavaScript RegExp, as Envoy's safe_regex
 * matches. Throws on what JavaScript cannot compile and on what RE2 refuses
 * (backreferences, lookaround), so a config Envoy would reject is rejected here too.
 */
export function compileRe2(pattern: string): RegExp {
  let src = pattern;
  let flags = '';
  const inline = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (inline) {
    for (const f of inline[1]) {
      if (f !== 'i' && f !== 's') throw new Error(`unsupported RE2 flag "${f}" in ${JSON.stringify(pattern)}`);
      if (!flags.includes(f)) flags += f;
    }
    src = src.slice(inline[0].length);
  }
  if (/\(\?<?[=!]|\\[1-9]/.test(src)) throw new Error(`invalid RE2 regex ${JSON.stringify(pattern)}: lookaround and backreferences are not RE2`);
  src = src.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(`^(?:${src})$`, flags);
  } catch (e) {
    throw new Error(`invalid regex ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

interface CompiledHeaderMatch {
  name: string;
  exact: string | undefined;
  prefix: string | undefined;
  regex: RegExp | undefined;
  present: boolean | undefined;
}

export interface CompiledRoute {
  route: Route;
  prefix: string | undefined;
  path: string | undefined;
  regex: RegExp | undefined;
  headers: CompiledHeaderMatch[] | undefined;
  totalWeight: number;
}

export interface CompiledVirtualHost {
  virtualHost: VirtualHost;
  routes: CompiledRoute[];
}

export class CompiledRouteConfig {
  readonly #exact = new Map<string, CompiledVirtualHost>();
  readonly #suffixes: Array<[string, CompiledVirtualHost]> = [];
  readonly #prefixes: Array<[string, CompiledVirtualHost]> = [];
  #catchAll: CompiledVirtualHost | undefined;
  /** The last Host header looked up and its answer: a connection's requests mostly carry the same one. */
  #lastHost: string | undefined;
  #lastVirtualHost: CompiledVirtualHost | undefined;

  /** Throws when a regex does not compile or a domain repeats (Envoy rejects both). */
  constructor(readonly config: RouteConfiguration) {
    const seen = new Set<string>();
    for (const vh of config.virtualHosts) {
      const compiled: CompiledVirtualHost = { virtualHost: vh, routes: vh.routes.map(compileRoute) };
      for (const raw of vh.domains) {
        const d = raw.toLowerCase();
        if (seen.has(d)) throw new Error(`route config ${config.name}: domain "${raw}" appears in more than one virtual host`);
        seen.add(d);
        if (d === '*') this.#catchAll = compiled;
        else if (d.startsWith('*')) this.#suffixes.push([d.slice(1), compiled]);
        else if (d.endsWith('*')) this.#prefixes.push([d.slice(0, -1), compiled]);
        else this.#exact.set(d, compiled);
      }
    }
    // Longest wildcard first, as Envoy picks the most specific one.
    this.#suffixes.sort((a, b) => b[0].length - a[0].length);
    this.#prefixes.sort((a, b) => b[0].length - a[0].length);
  }

  /** The virtual host answering `host` (a Host header, lowercased or not). */
  findVirtualHost(hostHeader: string): CompiledVirtualHost | undefined {
    if (hostHeader === this.#lastHost) return this.#lastVirtualHost;
    const vh = this.#find(hostHeader);
    this.#lastHost = hostHeader;
    this.#lastVirtualHost = vh;
    return vh;
  }

  #find(hostHeader: string): CompiledVirtualHost | undefined {
    const host = hostHeader.toLowerCase();
    const colon = host.lastIndexOf(':');
    const bare = colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host;
    const exact = this.#exact.get(host) ?? (bare !== host ? this.#exact.get(bare) : undefined);
    if (exact) return exact;
    for (const [suffix, vh] of this.#suffixes) if (host.endsWith(suffix) || bare.endsWith(suffix)) return vh;
    for (const [prefix, vh] of this.#prefixes) if (host.startsWith(prefix)) return vh;
    return this.#catchAll;
  }
}

function compileHeaderMatch(h: HeaderMatch): CompiledHeaderMatch {
  return {
    name: h.name.toLowerCase(),
    exact: h.exact,
    prefix: h.prefix,
    regex: h.regex === undefined ? undefined : compileRe2(h.regex),
    present: h.present,
  };
}

function compileRoute(route: Route): CompiledRoute {
  const m = route.match;
  const weights = route.route?.weightedClusters;
  return {
    route,
    prefix: m.prefix,
    path: m.path,
    regex: m.safeRegex === undefined ? undefined : compileRe2(m.safeRegex),
    headers: m.headers?.length ? m.headers.map(compileHeaderMatch) : undefined,
    totalWeight: weights ? weights.reduce((s, w) => s + w.weight, 0) : 0,
  };
}

/** The value a route's header matcher sees; pseudo-headers as Envoy names them. */
function headerValue(head: HttpHead, name: string, authority: string, path: string): string | undefined {
  if (name.charCodeAt(0) !== 58 /* : */) return head.get(name);
  if (name === ':authority') return authority;
  if (name === ':method') return head.method;
  if (name === ':path') return path;
  if (name === ':scheme') return 'http';
  return undefined;
}

function headersMatch(r: CompiledRoute, head: HttpHead, authority: string, pathWithQuery: string): boolean {
  if (!r.headers) return true;
  for (const h of r.headers) {
    const v = headerValue(head, h.name, authority, pathWithQuery);
    if (h.present === false) {
      if (v !== undefined) return false;
      continue;
    }
    if (v === undefined) return false;
    if (h.exact !== undefined && v !== h.exact) return false;
    if (h.prefix !== undefined && !v.startsWith(h.prefix)) return false;
    if (h.regex !== undefined && !h.regex.test(v)) return false;
  }
  return true;
}

/** The first route of `vh` matching the request; `path` has no query string, `pathWithQuery` is the whole target. */
export function matchRoute(vh: CompiledVirtualHost, head: HttpHead, authority: string, path: string, pathWithQuery: string): CompiledRoute | undefined {
  for (const r of vh.routes) {
    if (r.path !== undefined) {
      if (path !== r.path) continue;
    } else if (r.regex !== undefined) {
      if (!r.regex.test(path)) continue;
    } else if (r.prefix !== undefined && !path.startsWith(r.prefix)) continue;
    if (headersMatch(r, head, authority, pathWithQuery)) return r;
  }
  return undefined;
}

/** The cluster a route sends this request to: its cluster, or one of its weighted clusters drawn by weight. */
export function pickCluster(r: CompiledRoute): string | undefined {
  const action = r.route.route;
  if (!action) return undefined;
  const weighted = action.weightedClusters;
  if (!weighted || weighted.length === 0) return action.cluster;
  let n = Math.random() * r.totalWeight;
  for (const w of weighted) {
    n -= w.weight;
    if (n < 0) return w.name;
  }
  return weighted[weighted.length - 1].name;
}
