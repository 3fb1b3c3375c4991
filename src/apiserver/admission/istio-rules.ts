// Istio's DestinationRule, ServiceEntry and Sidecar validation, with Istio's messages.

import type { FieldError } from './field-errors.js';
import {
  ie,
  ireq,
  isHTTPProtocol,
  isIP,
  isIstioDNS1123Label,
  isTLSProtocol,
  notSupported,
  validateDuration,
  validateFQDN,
  validateLabelsIstio,
  validatePercent,
  validatePort,
  validatePortName,
  validateProtocol,
  validateSelector,
  validateSubsetName,
  validateWildcardDomain,
} from './istio-common.js';
import type { KubeObject } from './types.js';
import { arr, has, isObj, type Obj, obj, str } from './util.js';

export const LB_SIMPLE = ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'];
const TLS_MODES = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'];

function validateConnectionPool(cp: unknown, path: string): FieldError[] {
  if (!isObj(cp)) return [];
  if (!isObj(cp.http) && !isObj(cp.tcp)) return [ireq(path, 'connection pool must have at least one field')];
  const errs: FieldError[] = [];
  const nonNegative = (o: Obj, base: string, fields: Record<string, string>) => {
    for (const [f, what] of Object.entries(fields)) {
      if (typeof o[f] === 'number' && (o[f] as number) < 0) errs.push(ie(`${base}.${f}`, o[f], `${what} must be non-negative`));
    }
  };
  if (isObj(cp.http)) {
    const h = cp.http;
    nonNegative(h, `${path}.http`, {
      http1MaxPendingRequests: 'http1 max pending requests',
      http2MaxRequests: 'http2 max requests',
      maxRequestsPerConnection: 'max requests per connection',
      maxRetries: 'max retries',
      maxConcurrentStreams: 'max concurrent streams',
    });
    if (has(h, 'idleTimeout')) errs.push(...validateDuration(h.idleTimeout, `${path}.http.idleTimeout`));
    if (h.h2UpgradePolicy === 'UPGRADE' && h.useClientProtocol === true) {
      errs.push(ie(`${path}.http.useClientProtocol`, true, 'use client protocol must not be true when H2UpgradePolicy is UPGRADE'));
    }
  }
  if (isObj(cp.tcp)) {
    const t = cp.tcp;
    nonNegative(t, `${path}.tcp`, { maxConnections: 'max connections' });
    for (const d of ['connectTimeout', 'maxConnectionDuration', 'idleTimeout']) {
      if (has(t, d)) errs.push(...validateDuration(t[d], `${path}.tcp.${d}`));
    }
    const ka = obj(t.tcpKeepalive);
    for (const d of ['time', 'interval']) if (has(ka, d)) errs.push(...validateDuration(ka[d], `${path}.tcp.tcpKeepalive.${d}`));
  }
  return errs;
}

function validateOutlierDetection(od: unknown, path: string): FieldError[] {
  if (!isObj(od)) return [];
  const errs: FieldError[] = [];
  for (const d of ['baseEjectionTime', 'interval']) if (has(od, d)) errs.push(...validateDuration(od[d], `${path}.${d}`));
  if (od.splitExternalLocalOriginErrors !== true && Number(od.consecutiveLocalOriginFailures ?? 0) > 0) {
    errs.push(
      ie(
        `${path}.consecutiveLocalOriginFailures`,
        od.consecutiveLocalOriginFailures,
        'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
      ),
    );
  }
  errs.push(...validatePercent(od.maxEjectionPercent, `${path}.maxEjectionPercent`));
  errs.push(...validatePercent(od.minHealthPercent, `${path}.minHealthPercent`));
  return errs;
}

function validateLoadBalancer(lb: unknown, path: string): FieldError[] {
  if (!isObj(lb)) return [];
  const errs = notSupported(`${path}.simple`, lb.simple, LB_SIMPLE);
  const ch = obj(lb.consistentHash);
  if (isObj(ch.httpCookie) && !str(ch.httpCookie.name)) errs.push(ireq(`${path}.consistentHash.httpCookie.name`, 'name required for HttpCookie'));
  if (has(lb, 'warmupDurationSecs')) errs.push(...validateDuration(lb.warmupDurationSecs, `${path}.warmupDurationSecs`));
  return errs;
}

function validateClientTLS(tls: unknown, path: string): FieldError[] {
  if (!isObj(tls)) return [];
  const errs = notSupported(`${path}.mode`, tls.mode, TLS_MODES);
  if (tls.mode === 'MUTUAL' && !str(tls.credentialName)) {
    if (!str(tls.clientCertificate)) errs.push(ireq(`${path}.clientCertificate`, 'client certificate required for mutual tls'));
    if (!str(tls.privateKey)) errs.push(ireq(`${path}.privateKey`, 'private key required for mutual tls'));
  }
  return errs;
}

export function validateTrafficPolicy(tp: unknown, path: string): FieldError[] {
  if (!isObj(tp)) return [];
  const fields = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol'];
  if (!fields.some((f) => has(tp, f))) return [ireq(path, 'traffic policy must have at least one field')];
  if (has(tp, 'tunnel') && has(tp, 'proxyProtocol')) return [ie(path, undefined, 'tunnel and proxyProtocol must not be set together')];
  const errs = [
    ...validateOutlierDetection(tp.outlierDetection, `${path}.outlierDetection`),
    ...validateConnectionPool(tp.connectionPool, `${path}.connectionPool`),
    ...validateLoadBalancer(tp.loadBalancer, `${path}.loadBalancer`),
    ...validateClientTLS(tp.tls, `${path}.tls`),
  ];
  arr(tp.portLevelSettings).forEach((raw, i) => {
    const pl = obj(raw);
    const p = `${path}.portLevelSettings[${i}]`;
    if (!isObj(pl.port)) errs.push(ireq(`${p}.port`, 'portTrafficPolicy must have valid port'));
    if (!['outlierDetection', 'connectionPool', 'loadBalancer', 'tls'].some((f) => has(pl, f))) {
      errs.push(ireq(p, 'port traffic policy must have at least one field'));
    } else {
      errs.push(...validateOutlierDetection(pl.outlierDetection, `${p}.outlierDetection`));
      errs.push(...validateConnectionPool(pl.connectionPool, `${p}.connectionPool`));
      errs.push(...validateLoadBalancer(pl.loadBalancer, `${p}.loadBalancer`));
      errs.push(...validateClientTLS(pl.tls, `${p}.tls`));
    }
  });
  return errs;
}

export function validateDestinationRule(dr: KubeObject): FieldError[] {
  const spec = obj(dr.spec);
  const errs: FieldError[] = [];
  const host = str(spec.host);
  const e = validateWildcardDomain(host);
  if (e) errs.push(host ? ie('spec.host', host, e) : ireq('spec.host', e));
  errs.push(...validateTrafficPolicy(spec.trafficPolicy, 'spec.trafficPolicy'));
  const names = new Set<string>();
  arr(spec.subsets).forEach((raw, i) => {
    const p = `spec.subsets[${i}]`;
    if (!isObj(raw)) {
      errs.push(ireq(p, 'subset may not be null'));
      return;
    }
    const name = str(raw.name);
    if (names.has(name)) errs.push(ie(`${p}.name`, name, `duplicate subset names: ${name}`));
    names.add(name);
    errs.push(...validateSubsetName(raw.name, `${p}.name`));
    errs.push(...validateLabelsIstio(raw.labels, `${p}.labels`));
    errs.push(...validateTrafficPolicy(raw.trafficPolicy, `${p}.trafficPolicy`));
  });
  errs.push(...validateSelector(spec.workloadSelector, 'matchLabels', 'spec.workloadSelector'));
  return errs;
}

const RESOLUTIONS = ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'];
const LOCATIONS = ['MESH_EXTERNAL', 'MESH_INTERNAL'];

export function validateServiceEntry(se: KubeObject): FieldError[] {
  const spec = obj(se.spec);
  const errs: FieldError[] = [];
  const hosts = arr(spec.hosts).map(str);
  const endpoints = arr(spec.endpoints);
  if (isObj(spec.workloadSelector) && has(spec, 'endpoints')) {
    errs.push(ie('spec.workloadSelector', undefined, 'only one of WorkloadSelector or Endpoints is allowed in Service Entry'));
  }
  if (hosts.length === 0) errs.push(ireq('spec.hosts', 'service entry must have at least one host'));
  hosts.forEach((h, i) => {
    if (h === '*') errs.push(ie(`spec.hosts[${i}]`, h, `invalid host ${h}`));
    else {
      const e = validateWildcardDomain(h);
      if (e) errs.push(h ? ie(`spec.hosts[${i}]`, h, e) : ireq(`spec.hosts[${i}]`, e));
    }
  });
  let cidr = false;
  arr(spec.addresses).forEach((a, i) => {
    const addr = str(a);
    if (addr.includes('/')) {
      cidr = true;
      const [ip, bits] = addr.split('/');
      if (!isIP(ip) || !/^\d+$/.test(bits ?? '') || Number(bits) > (ip.includes(':') ? 128 : 32)) {
        errs.push(ie(`spec.addresses[${i}]`, addr, `${addr} is not a valid CIDR block`));
      }
    } else if (!isIP(addr)) errs.push(ie(`spec.addresses[${i}]`, addr, `${addr} is not a valid IP`));
  });
  const resolution = str(spec.resolution) || 'NONE';
  errs.push(...notSupported('spec.resolution', spec.resolution, RESOLUTIONS));
  errs.push(...notSupported('spec.location', spec.location, LOCATIONS));
  if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') {
    errs.push(ie('spec.resolution', resolution, 'CIDR addresses are allowed only for NONE/STATIC resolution types'));
  }
  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  const ports = arr(spec.ports).map(obj);
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    const name = str(p.name);
    if (portNames.has(name)) errs.push(ie(`${pp}.name`, name, `service entry port name ${JSON.stringify(name)} already defined`));
    portNames.add(name);
    if (portNumbers.has(Number(p.number))) errs.push(ie(`${pp}.number`, p.number, `service entry port ${String(p.number)} already defined`));
    portNumbers.add(Number(p.number));
    if (has(p, 'targetPort') && p.targetPort !== 0) errs.push(...validatePort(p.targetPort, `${pp}.targetPort`));
    errs.push(...validatePortName(name, `${pp}.name`), ...validateProtocol(p.protocol, `${pp}.protocol`), ...validatePort(p.number, `${pp}.number`));
  });
  if (resolution === 'NONE' && endpoints.length > 0) errs.push(ie('spec.endpoints', undefined, 'no endpoints should be provided for resolution type none'));
  endpoints.forEach((raw, i) => {
    const ep = obj(raw);
    const p = `spec.endpoints[${i}]`;
    const addr = str(ep.address);
    if (resolution === 'STATIC') {
      if (addr.startsWith('unix://')) {
        if (!addr.slice(7).startsWith('/') && !addr.slice(7).startsWith('@'))
          errs.push(ie(`${p}.address`, addr, `${addr.slice(7)} is not an absolute path to a file`));
      } else if (!addr) errs.push(ireq(`${p}.address`, 'address is required'));
      else if (!isIP(addr)) errs.push(ie(`${p}.address`, addr, `endpoint address ${JSON.stringify(addr)} is not a valid IP address`));
    } else if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
      if (!isIP(addr) && validateFQDN(addr))
        errs.push(ie(`${p}.address`, addr, `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`));
    }
    errs.push(...validateLabelsIstio(ep.labels, `${p}.labels`));
    for (const [name, port] of Object.entries(obj(ep.ports))) {
      if (!portNames.has(name)) errs.push(ie(`${p}.ports`, port, `endpoint port ${String(port)} is not defined by the service entry`));
      errs.push(...validatePortName(name, `${p}.ports`), ...validatePort(port, `${p}.ports[${name}]`));
    }
  });
  if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && endpoints.length === 0) {
    hosts.forEach((h, i) => {
      if (validateFQDN(h)) errs.push(ie(`spec.hosts[${i}]`, h, `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}`));
    });
  }
  if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
    errs.push(ie('spec.endpoints', undefined, `there must only be 0 or 1 endpoint for resolution mode ${resolution}`));
  }
  if (resolution !== 'NONE' && hosts.length > 1 && ports.some((p) => !isHTTPProtocol(str(p.protocol)) && !isTLSProtocol(str(p.protocol)))) {
    errs.push(ie('spec.ports', undefined, 'multiple hosts provided with non-HTTP, non-TLS ports'));
  }
  errs.push(...validateSelector(spec.workloadSelector, 'labels', 'spec.workloadSelector'));
  return errs;
}

/** ValidateNamespaceSlashWildcardHostname for sidecars: `ns/host`, with ns one of `*`, `.`, `~` or a DNS label. */
function validateEgressHost(host: string, path: string): FieldError[] {
  const parts = host.split('/');
  if (parts.length < 2) return [ie(path, host, 'host must be of form namespace/dnsName')];
  const ns = parts[0];
  const name = parts.slice(1).join('/');
  const errs: FieldError[] = [];
  if (!ns || !name) errs.push(ie(path, host, 'config namespace and dnsName in host entry cannot be empty'));
  if (ns !== '*' && ns !== '.' && ns !== '~' && !isIstioDNS1123Label(ns)) errs.push(ie(path, host, `invalid namespace value ${JSON.stringify(ns)} in sidecar`));
  if (name !== '*' && !name.includes('.')) errs.push(ie(path, host, 'short names (non FQDN) are not allowed'));
  const e = validateWildcardDomain(name);
  if (e) errs.push(ie(path, host, e));
  if (name.includes('*') && name.length !== 1 && !name.startsWith('*.')) errs.push(ie(path, host, `partial wildcard ${JSON.stringify(name)} not allowed`));
  return errs;
}

function validateSidecarPort(port: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (str(port.name)) errs.push(...validatePortName(str(port.name), `${path}.name`));
  errs.push(...validateProtocol(port.protocol, `${path}.protocol`));
  return errs;
}

export function validateSidecar(sc: KubeObject): FieldError[] {
  const spec = obj(sc.spec);
  const errs: FieldError[] = [];
  errs.push(...validateSelector(spec.workloadSelector, 'labels', 'spec.workloadSelector'));
  const ingress = arr(spec.ingress);
  const egress = arr(spec.egress);
  if (ingress.length === 0 && egress.length === 0 && !isObj(spec.outboundTrafficPolicy) && !isObj(spec.inboundConnectionPool)) {
    return [...errs, ireq('spec', 'sidecar: empty configuration provided')];
  }
  const ingressPorts = new Set<number>();
  ingress.forEach((raw, i) => {
    const ing = obj(raw);
    const p = `spec.ingress[${i}]`;
    if (!isObj(ing.port)) {
      errs.push(ireq(`${p}.port`, 'sidecar: port is required for ingress listeners'));
      return;
    }
    errs.push(...validateSidecarPort(ing.port, `${p}.port`), ...validatePort(ing.port.number, `${p}.port.number`));
    if (ingressPorts.has(Number(ing.port.number))) errs.push(ie(`${p}.port.number`, ing.port.number, 'sidecar: ports on IP bound listeners must be unique'));
    ingressPorts.add(Number(ing.port.number));
    const de = str(ing.defaultEndpoint);
    if (de && !de.startsWith('unix://') && !/^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\])?:\d+$/.test(de)) {
      errs.push(
        ie(
          `${p}.defaultEndpoint`,
          de,
          'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset',
        ),
      );
    }
  });
  const egressPorts = new Set<number>();
  egress.forEach((raw, i) => {
    const eg = obj(raw);
    const p = `spec.egress[${i}]`;
    if (!isObj(eg.port)) {
      if (i !== egress.length - 1) errs.push(ie(p, undefined, 'sidecar: the egress listener with empty port should be the last listener in the list'));
    } else {
      errs.push(...validateSidecarPort(eg.port, `${p}.port`));
      const n = Number(eg.port.number ?? 0);
      if (n === 0 && !str(eg.bind).startsWith('unix://'))
        errs.push(ie(`${p}.bind`, eg.bind, 'sidecar: ports with 0 value must have a unix domain socket bind address'));
      if (n !== 0) {
        errs.push(...validatePort(eg.port.number, `${p}.port.number`));
        if (egressPorts.has(n)) errs.push(ie(`${p}.port.number`, n, 'sidecar: ports on IP bound listeners must be unique'));
        egressPorts.add(n);
      }
    }
    const hosts = arr(eg.hosts).map(str);
    if (hosts.length === 0) errs.push(ireq(`${p}.hosts`, 'sidecar: egress listener must contain at least one host'));
    hosts.forEach((h, j) => {
      errs.push(...validateEgressHost(h, `${p}.hosts[${j}]`));
    });
  });
  const otp = obj(spec.outboundTrafficPolicy);
  errs.push(...notSupported('spec.outboundTrafficPolicy.mode', otp.mode, ['REGISTRY_ONLY', 'ALLOW_ANY']));
  if (isObj(otp.egressProxy) && otp.mode !== 'ALLOW_ANY') {
    errs.push(ie('spec.outboundTrafficPolicy.egressProxy', undefined, 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode'));
  }
  return errs;
}
