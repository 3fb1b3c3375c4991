// Istio's VirtualService validation (ValidateVirtualService and validateHTTPRoute), with
// Istio's messages. Weighted destinations must add up to 100, as Istio enforced it.

import type { FieldError } from './field-errors.js';
import {
  ie,
  ireq,
  isIP,
  validateDuration,
  validateLabelsIstio,
  validatePercent,
  validatePercentage,
  validatePort,
  validateSubsetName,
  validateWildcardDomain,
} from './istio-common.js';
import type { KubeObject } from './types.js';
import { arr, has, isObj, type Obj, obj, str } from './util.js';

const RETRY_ON = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);
const GRPC_STATUS = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
/** Go's %f. */
const f6 = (n: number) => n.toFixed(6);

/** Does wildcard host a match host b (either way), as host.Name.Matches does. */
function hostsMatch(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw) return a.length > b.length ? a.endsWith(b.slice(1)) : b.endsWith(a.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

export function validateDestination(d: unknown, path: string): FieldError[] {
  if (!isObj(d)) return [];
  const errs: FieldError[] = [];
  const host = str(d.host);
  if (host === '*') errs.push(ie(`${path}.host`, host, `invalid destination host ${host}`));
  else {
    const e = validateWildcardDomain(host);
    if (e) errs.push(host ? ie(`${path}.host`, host, e) : ireq(`${path}.host`, e));
  }
  if (has(d, 'subset')) errs.push(...validateSubsetName(d.subset, `${path}.subset`));
  if (isObj(d.port)) errs.push(...validatePort(d.port.number, `${path}.port.number`));
  return errs;
}

/** validateHTTPRouteDestinations / validateRouteDestinations: weights 0..100 that sum to 100. */
function validateRouteDestinations(route: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  route.forEach((raw, j) => {
    const rd = obj(raw);
    const p = `${path}[${j}]`;
    if (!isObj(rd.destination)) errs.push(ireq(`${p}.destination`, 'destination is required'));
    errs.push(...validateDestination(rd.destination, `${p}.destination`));
    errs.push(...validatePercent(rd.weight, `${p}.weight`));
    total += typeof rd.weight === 'number' ? rd.weight : 0;
  });
  if (route.length > 1 && total !== 100) errs.push(ie(path, total, `total destination weight ${total} != 100`));
  return errs;
}

function validateFault(fault: unknown, path: string): FieldError[] {
  if (!isObj(fault)) return [];
  const errs: FieldError[] = [];
  if (!isObj(fault.abort) && !isObj(fault.delay)) errs.push(ireq(path, 'HTTP fault injection must have an abort and/or a delay'));
  if (isObj(fault.abort)) {
    const a = fault.abort;
    const p = `${path}.abort`;
    errs.push(...validatePercentage(a.percentage, `${p}.percentage`));
    if (has(a, 'grpcStatus') && !GRPC_STATUS.includes(str(a.grpcStatus))) {
      errs.push(
        ie(
          `${p}.grpcStatus`,
          a.grpcStatus,
          `gRPC status ${JSON.stringify(a.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`,
        ),
      );
    } else if (has(a, 'http2Error')) {
      errs.push(ie(`${p}.http2Error`, a.http2Error, 'HTTP/2 abort fault injection not supported yet'));
    } else if (has(a, 'httpStatus')) {
      const s = Number(a.httpStatus);
      if (!(s >= 200 && s <= 599)) errs.push(ie(`${p}.httpStatus`, a.httpStatus, `HTTP status ${String(a.httpStatus)} is not in range 200-599`));
    }
  }
  if (isObj(fault.delay)) {
    const d = fault.delay;
    const p = `${path}.delay`;
    errs.push(...validatePercentage(d.percentage, `${p}.percentage`));
    errs.push(...validatePercent(d.percent, `${p}.percent`));
    if (has(d, 'fixedDelay')) errs.push(...validateDuration(d.fixedDelay, `${p}.fixedDelay`));
    if (has(d, 'exponentialDelay')) errs.push(ie(`${p}.exponentialDelay`, d.exponentialDelay, 'exponentialDelay not supported yet'));
  }
  return errs;
}

function validateRetries(r: unknown, path: string): FieldError[] {
  if (!isObj(r)) return [];
  const errs: FieldError[] = [];
  const attempts = typeof r.attempts === 'number' ? r.attempts : 0;
  if (attempts < 0) errs.push(ie(`${path}.attempts`, attempts, 'attempts cannot be negative'));
  if (attempts === 0 && (has(r, 'perTryTimeout') || str(r.retryOn) !== '' || has(r, 'retryRemoteLocalities'))) {
    errs.push(ie(`${path}.attempts`, attempts, 'http retry policy configured when attempts are set to 0 (disabled)'));
  }
  if (has(r, 'perTryTimeout')) errs.push(...validateDuration(r.perTryTimeout, `${path}.perTryTimeout`));
  for (const policy of str(r.retryOn) ? str(r.retryOn).split(',') : []) {
    const code = Number(policy);
    const isStatus = /^\d+$/.test(policy) && code >= 100 && code <= 599;
    if (!isStatus && !RETRY_ON.has(policy)) errs.push(ie(`${path}.retryOn`, r.retryOn, `"${policy}" is not a valid retryOn policy`));
  }
  return errs;
}

function validateRedirect(r: unknown, path: string): FieldError[] {
  if (!isObj(r)) return [];
  if (!str(r.uri) && !str(r.authority) && !has(r, 'port') && !has(r, 'derivePort') && !str(r.scheme)) {
    return [ireq(path, 'redirect must specify URI, authority, scheme, or port')];
  }
  const code = r.redirectCode;
  if (typeof code === 'number' && code !== 0 && (code < 300 || code > 399)) {
    return [ie(`${path}.redirectCode`, code, `${code} is not a valid redirect code, must be 3xx`)];
  }
  if (str(r.scheme) && r.scheme !== 'http' && r.scheme !== 'https')
    return [ie(`${path}.scheme`, r.scheme, 'invalid redirect scheme, must be "http" or "https"')];
  if (typeof r.port === 'number' && r.port > 0) return validatePort(r.port, `${path}.port`);
  return [];
}

function validateRewrite(r: unknown, path: string): FieldError[] {
  if (!isObj(r)) return [];
  const regex = r.uriRegexRewrite;
  if (str(r.uri) && isObj(regex)) return [ie(path, r, 'rewrite may only contain one of URI or UriRegexRewrite')];
  if (!str(r.uri) && !isObj(regex) && !str(r.authority)) {
    return [ireq(path, 'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified')];
  }
  if (isObj(regex) && (!str(regex.match) || !str(regex.rewrite))) {
    return [ie(`${path}.uriRegexRewrite`, regex, 'UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be specified')];
  }
  return [];
}

function validateMirrorPercentage(p: unknown, path: string, name = 'mirror_percentage'): FieldError[] {
  if (!isObj(p)) return [];
  const v = typeof p.value === 'number' ? p.value : 0;
  if (v > 100) return [ie(`${path}.value`, v, `${name} must have a max value of 100 (it has ${f6(v)})`)];
  if (v < 0) return [ie(`${path}.value`, v, `${name} must have a min value of 0 (it has ${f6(v)})`)];
  return [];
}

export function validateHTTPRoute(h: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const route = arr(h.route);
  if (isObj(h.redirect)) {
    if (route.length > 0) errs.push(ie(path, undefined, 'HTTP route cannot contain both route and redirect'));
    if (isObj(h.fault)) errs.push(ie(path, undefined, 'HTTP route cannot contain both fault and redirect'));
    if (isObj(h.rewrite)) errs.push(ie(path, undefined, 'HTTP route rule cannot contain both rewrite and redirect'));
  } else if (route.length === 0 && !isObj(h.directResponse) && !isObj(h.delegate)) {
    errs.push(ireq(`${path}.route`, 'HTTP route or redirect is required'));
  }
  arr(h.match).forEach((m, k) => {
    const mp = `${path}.match[${k}]`;
    const match = obj(m);
    if (has(match, 'port') && match.port !== 0) errs.push(...validatePort(match.port, `${mp}.port`));
    errs.push(...validateLabelsIstio(match.sourceLabels, `${mp}.sourceLabels`));
    for (const name of Object.keys(obj(match.headers))) {
      if (!/^[-_A-Za-z0-9]+$/.test(name) && !name.startsWith('@request.auth.claims')) {
        errs.push(ie(`${mp}.headers`, name, `header name ${name} is not a valid header name`));
      }
    }
  });
  errs.push(...validateFault(h.fault, `${path}.fault`));
  if (has(h, 'mirrorPercent')) {
    const v = Number(h.mirrorPercent);
    if (v > 100) errs.push(ie(`${path}.mirrorPercent`, h.mirrorPercent, `mirror_percent must have a max value of 100 (it has ${v})`));
  }
  errs.push(...validateMirrorPercentage(h.mirrorPercentage, `${path}.mirrorPercentage`));
  errs.push(...validateDestination(h.mirror, `${path}.mirror`));
  arr(h.mirrors).forEach((m, k) => {
    const mp = `${path}.mirrors[${k}]`;
    const mirror = obj(m);
    if (!isObj(mirror.destination)) {
      errs.push(ireq(`${mp}.destination`, 'destination is required for mirrors'));
      return;
    }
    errs.push(...validateDestination(mirror.destination, `${mp}.destination`));
    errs.push(...validateMirrorPercentage(mirror.percentage, `${mp}.percentage`, 'mirror percentage'));
  });
  errs.push(...validateRedirect(h.redirect, `${path}.redirect`));
  errs.push(...validateRetries(h.retries, `${path}.retries`));
  errs.push(...validateRewrite(h.rewrite, `${path}.rewrite`));
  errs.push(...validateRouteDestinations(route, `${path}.route`));
  if (has(h, 'timeout')) errs.push(...validateDuration(h.timeout, `${path}.timeout`));
  return errs;
}

export function validateVirtualService(vs: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = obj(vs.spec);
  const hosts = arr(spec.hosts).map(str);
  const gateways = arr(spec.gateways).map(str);
  const appliesToMesh = gateways.length === 0 || gateways.includes('mesh');
  if (hosts.length === 0) errs.push(ireq('spec.hosts', 'virtual service must have at least one host'));
  let allValid = true;
  hosts.forEach((h, i) => {
    const e = validateWildcardDomain(h);
    if (e && !isIP(h)) {
      errs.push(h ? ie(`spec.hosts[${i}]`, h, e) : ireq(`spec.hosts[${i}]`, e));
      allValid = false;
    } else if (appliesToMesh && h === '*') {
      errs.push(ie(`spec.hosts[${i}]`, h, 'wildcard host * is not allowed for virtual services bound to the mesh gateway'));
      allValid = false;
    }
  });
  if (allValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostsMatch(hosts[i], hosts[j])) errs.push(ie(`spec.hosts[${j}]`, hosts[j], `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`));
      }
    }
  }
  const http = arr(spec.http);
  const tcp = arr(spec.tcp);
  const tls = arr(spec.tls);
  if (http.length === 0 && tcp.length === 0 && tls.length === 0) errs.push(ireq('spec.http', 'http, tcp or tls must be provided in virtual service'));
  http.forEach((h, i) => {
    if (!isObj(h)) errs.push(ireq(`spec.http[${i}]`, 'http route may not be null'));
    else errs.push(...validateHTTPRoute(h, `spec.http[${i}]`));
  });
  tcp.forEach((t, i) => {
    const route = arr(obj(t).route);
    if (route.length === 0) errs.push(ireq(`spec.tcp[${i}].route`, 'TCP route is required'));
    arr(obj(t).match).forEach((m, k) => {
      const port = obj(m).port;
      if (port !== undefined && port !== 0) errs.push(...validatePort(port, `spec.tcp[${i}].match[${k}].port`));
    });
    errs.push(...validateRouteDestinations(route, `spec.tcp[${i}].route`));
  });
  tls.forEach((t, i) => {
    const matches = arr(obj(t).match);
    if (matches.length === 0) errs.push(ireq(`spec.tls[${i}].match`, 'TLS route must have at least one match condition'));
    matches.forEach((m, k) => {
      if (arr(obj(m).sniHosts).length === 0) errs.push(ireq(`spec.tls[${i}].match[${k}].sniHosts`, 'TLS match must have at least one SNI host'));
    });
    const route = arr(obj(t).route);
    if (route.length === 0) errs.push(ireq(`spec.tls[${i}].route`, 'TLS route is required'));
    errs.push(...validateRouteDestinations(route, `spec.tls[${i}].route`));
  });
  return errs;
}
