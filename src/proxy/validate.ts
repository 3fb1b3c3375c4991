// Checks of pushed resources before they replace the running config: what Envoy
// would refuse (a NACK) is refused here, with a message naming the resource. A
// listener naming a route configuration not received yet is fine (Envoy waits).

import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from './config.js';
import { CompiledRouteConfig } from './router.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPort = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
const isNonNegative = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

class Invalid extends Error {}

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Invalid(message);
}

function uniqueNames(resources: unknown[], key: string, what: string): void {
  const seen = new Set<string>();
  for (const [i, r] of resources.entries()) {
    check(isObj(r), `${what} [${i}] is not an object`);
    const name = r[key];
    check(isName(name), `${what} [${i}] has no ${key}`);
    check(!seen.has(name), `duplicate ${what} name "${name}"`);
    seen.add(name);
  }
}

function optional(r: Obj, key: string, test: (v: unknown) => boolean, what: string): void {
  if (r[key] !== undefined) check(test(r[key]), `${what}: invalid ${key} ${JSON.stringify(r[key])}`);
}

export function validateClusters(resources: unknown[]): asserts resources is Cluster[] {
  uniqueNames(resources, 'name', 'cluster');
  for (const c of resources as Obj[]) {
    const what = `cluster ${c.name}`;
    check(c.type === 'EDS' || c.type === 'ORIGINAL_DST' || c.type === 'STATIC', `${what}: unknown type ${JSON.stringify(c.type)}`);
    check(c.lbPolicy === 'ROUND_ROBIN' || c.lbPolicy === 'LEAST_REQUEST' || c.lbPolicy === 'RANDOM', `${what}: unknown lbPolicy ${JSON.stringify(c.lbPolicy)}`);
    check(isNonNegative(c.connectTimeoutMs), `${what}: invalid connectTimeoutMs ${JSON.stringify(c.connectTimeoutMs)}`);
    optional(c, 'upstreamPort', (v) => isPort(v), what);
    optional(c, 'upstreamAddress', isName, what);
    optional(c, 'maxConnections', (v) => Number.isInteger(v) && (v as number) > 0, what);
    optional(c, 'maxRequestsPerConnection', (v) => Number.isInteger(v) && (v as number) >= 0, what);
    optional(c, 'consecutiveErrors', (v) => Number.isInteger(v) && (v as number) >= 0, what);
    optional(c, 'baseEjectionTimeMs', isNonNegative, what);
    if (c.service !== undefined) check(isObj(c.service) && typeof c.service.host === 'string', `${what}: invalid service`);
  }
}

export function validateEndpoints(resources: unknown[]): asserts resources is ClusterLoadAssignment[] {
  uniqueNames(resources, 'clusterName', 'cluster load assignment');
  for (const a of resources as Obj[]) {
    const what = `endpoints of ${a.clusterName}`;
    check(Array.isArray(a.endpoints), `${what}: endpoints is not a list`);
    for (const e of a.endpoints as unknown[]) {
      check(isObj(e) && isName(e.address), `${what}: an endpoint has no address`);
      check(isPort(e.port), `${what}: invalid port ${JSON.stringify(e.port)} of ${e.address}`);
      check(e.healthStatus === 'HEALTHY' || e.healthStatus === 'UNHEALTHY' || e.healthStatus === 'DRAINING', `${what}: invalid healthStatus of ${e.address}`);
      optional(e, 'weight', (v) => Number.isInteger(v) && (v as number) > 0, what);
    }
  }
}

function validateChain(chain: unknown, what: string): void {
  check(isObj(chain) && isObj(chain.filter), `${what}: filter chain without a filter`);
  const f = chain.filter as Obj;
  if (f.type === 'http') check(isName(f.routeConfigName), `${what}: http filter without routeConfigName`);
  else if (f.type === 'tcp') check(isName(f.cluster), `${what}: tcp filter without cluster`);
  else check(false, `${what}: unknown filter type ${JSON.stringify(f.type)}`);
  const m = chain.match;
  if (m !== undefined) {
    check(isObj(m), `${what}: invalid match`);
    optional(m, 'destinationPort', (v) => isPort(v), what);
  }
}

export function validateListeners(resources: unknown[]): asserts resources is Listener[] {
  uniqueNames(resources, 'name', 'listener');
  const addresses = new Set<string>();
  for (const l of resources as Obj[]) {
    const what = `listener ${l.name}`;
    check(typeof l.address === 'string', `${what}: no address`);
    check(isPort(l.port), `${what}: invalid port ${JSON.stringify(l.port)}`);
    const at = `${l.address}:${l.port}`;
    check(!addresses.has(at), `${what}: address ${at} is already taken by another listener`);
    addresses.add(at);
    check(l.trafficDirection === 'INBOUND' || l.trafficDirection === 'OUTBOUND', `${what}: invalid trafficDirection`);
    check(l.protocol === 'http' || l.protocol === 'tcp' || l.protocol === 'auto', `${what}: invalid protocol ${JSON.stringify(l.protocol)}`);
    check(Array.isArray(l.filterChains), `${what}: filterChains is not a list`);
    for (const [i, c] of (l.filterChains as unknown[]).entries()) validateChain(c, `${what} chain ${i}`);
    if (l.defaultFilterChain !== undefined) validateChain(l.defaultFilterChain, `${what} default chain`);
  }
}

/** Validates and compiles route configurations (the compiled form is what the data path uses). */
export function compileRouteConfigs(resources: unknown[]): CompiledRouteConfig[] {
  uniqueNames(resources, 'name', 'route configuration');
  const out: CompiledRouteConfig[] = [];
  for (const rc of resources as Obj[]) {
    const what = `route configuration ${rc.name}`;
    check(Array.isArray(rc.virtualHosts), `${what}: virtualHosts is not a list`);
    for (const vh of rc.virtualHosts as unknown[]) {
      check(isObj(vh) && Array.isArray(vh.domains) && vh.domains.every((d) => typeof d === 'string'), `${what}: a virtual host has no domains`);
      check(Array.isArray(vh.routes), `${what}: virtual host ${vh.name} has no routes`);
      for (const r of vh.routes as unknown[]) validateRoute(r, `${what} virtual host ${vh.name}`);
    }
    try {
      out.push(new CompiledRouteConfig(rc as unknown as RouteConfiguration));
    } catch (e) {
      throw new Invalid((e as Error).message);
    }
  }
  return out;
}

const isPercent = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 100;

function validateRoute(r: unknown, where: string): void {
  check(isObj(r) && isObj(r.match), `${where}: a route has no match`);
  const what = `${where} route ${r.name ?? ''}`.trimEnd();
  const m = r.match as Obj;
  check(m.prefix !== undefined || m.path !== undefined || m.safeRegex !== undefined, `${what}: match needs prefix, path or safeRegex`);
  for (const k of ['prefix', 'path', 'safeRegex']) optional(m, k, (v) => typeof v === 'string', what);
  if (m.headers !== undefined) {
    check(Array.isArray(m.headers), `${what}: headers is not a list`);
    for (const h of m.headers as unknown[]) check(isObj(h) && isName(h.name), `${what}: a header match has no name`);
  }
  check(isObj(r.route) !== isObj(r.directResponse), `${what}: needs exactly one of route and directResponse`);
  if (isObj(r.route)) {
    const a = r.route;
    const w = a.weightedClusters;
    if (w !== undefined) {
      check(Array.isArray(w) && w.length > 0, `${what}: weightedClusters is empty`);
      for (const c of w as unknown[]) check(isObj(c) && isName(c.name) && isNonNegative(c.weight), `${what}: invalid weighted cluster`);
      check((w as Array<{ weight: number }>).reduce((s, c) => s + c.weight, 0) > 0, `${what}: weighted clusters' weights sum to 0`);
    } else check(isName(a.cluster), `${what}: route without cluster`);
    optional(a, 'timeoutMs', isNonNegative, what);
    if (a.retryPolicy !== undefined) {
      const p = a.retryPolicy as Obj;
      check(isObj(p) && typeof p.retryOn === 'string' && Number.isInteger(p.numRetries) && (p.numRetries as number) >= 0, `${what}: invalid retryPolicy`);
      optional(p, 'perTryTimeoutMs', isNonNegative, what);
    }
  } else {
    const d = r.directResponse as Obj;
    check(Number.isInteger(d.status) && (d.status as number) >= 200 && (d.status as number) <= 599, `${what}: invalid directResponse status`);
  }
  if (r.fault !== undefined) {
    const f = r.fault as Obj;
    check(isObj(f), `${what}: invalid fault`);
    if (f.abort !== undefined) {
      const a = f.abort as Obj;
      check(isObj(a) && Number.isInteger(a.httpStatus) && (a.httpStatus as number) >= 200 && (a.httpStatus as number) <= 599, `${what}: invalid abort status`);
      check(isPercent(a.percentage), `${what}: invalid abort percentage`);
    }
    if (f.delay !== undefined) {
      const d = f.delay as Obj;
      check(isObj(d) && isNonNegative(d.fixedDelayMs) && isPercent(d.percentage), `${what}: invalid delay`);
    }
  }
}

/** Runs a validator and turns its refusal into a NACK message (undefined when the resources pass). */
export function refusal(validate: () => unknown): string | undefined {
  try {
    validate();
    return undefined;
  } catch (e) {
    if (e instanceof Invalid || e instanceof Error) return e.message;
    return String(e);
  }
}
