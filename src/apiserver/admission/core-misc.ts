// kube-apiserver's validation for ConfigMaps, Secrets, Endpoints, EndpointSlices and Events.

import { validateProtocol } from './core.js';
import { child, type FieldError, fieldError, index, key } from './field-errors.js';
import {
  invalidEach,
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isIPv4,
  isIPv6,
  isQualifiedName,
  isValidIP,
  isValidPortNum,
  validateDNS1123Label,
  validIPMessage,
} from './names.js';
import type { AdmissionContext, KubeObject } from './types.js';
import { arr, deepEqual, has, obj, str } from './util.js';

/** core.MaxSecretSize: 1 MiB, for Secret and ConfigMap data alike. */
export const MAX_SECRET_SIZE = 1024 * 1024;

const base64Length = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').length : 0);
const immutableMsg = 'field is immutable when `immutable` is set';

function immutableData(o: KubeObject, old: KubeObject, fields: string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs = fields.filter((f) => !deepEqual(o[f] ?? {}, old[f] ?? {})).map((f) => fieldError.forbidden(f, immutableMsg));
  if (o.immutable !== true) errs.push(fieldError.forbidden('immutable', immutableMsg));
  return errs;
}

export function validateConfigMap(cm: KubeObject, ctx: AdmissionContext): FieldError[] {
  const errs: FieldError[] = [];
  const data = obj(cm.data);
  const binary = obj(cm.binaryData);
  let size = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...invalidEach(key('data', k), k, isConfigMapKey(k)));
    if (Object.hasOwn(binary, k)) errs.push(fieldError.invalid(key('data', k), k, 'duplicate of key present in binaryData'));
    size += typeof v === 'string' ? Buffer.byteLength(v) : 0;
  }
  for (const [k, v] of Object.entries(binary)) {
    errs.push(...invalidEach(key('binaryData', k), k, isConfigMapKey(k)));
    if (Object.hasOwn(data, k)) errs.push(fieldError.invalid(key('binaryData', k), k, 'duplicate of key present in data'));
    size += base64Length(v);
  }
  if (size > MAX_SECRET_SIZE) errs.push(fieldError.tooLong('data', '', MAX_SECRET_SIZE));
  if (ctx.operation === 'UPDATE' && ctx.oldObject) errs.push(...immutableData(cm, ctx.oldObject, ['data', 'binaryData']));
  return errs;
}

export function validateSecret(secret: KubeObject, ctx: AdmissionContext): FieldError[] {
  const errs: FieldError[] = [];
  const data = obj(secret.data);
  let size = 0;
  for (const [k, v] of Object.entries(data)) {
    errs.push(...invalidEach(key('data', k), k, isConfigMapKey(k)));
    size += base64Length(v);
  }
  for (const k of Object.keys(obj(secret.stringData))) errs.push(...invalidEach(key('stringData', k), k, isConfigMapKey(k)));
  if (size > MAX_SECRET_SIZE) errs.push(fieldError.tooLong('data', '', MAX_SECRET_SIZE));
  const present = (k: string) => k in data || k in obj(secret.stringData);
  const type = str(secret.type);
  const annotations = obj(secret.metadata?.annotations);
  switch (type) {
    case 'kubernetes.io/service-account-token':
      if (!str(annotations['kubernetes.io/service-account.name'])) {
        errs.push(fieldError.required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
      }
      break;
    case 'kubernetes.io/dockercfg':
    case 'kubernetes.io/dockerconfigjson': {
      const k = type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
      if (!present(k)) errs.push(fieldError.required(key('data', k)));
      else if (typeof data[k] === 'string') {
        try {
          JSON.parse(Buffer.from(data[k] as string, 'base64').toString('utf8'));
        } catch (e) {
          errs.push(fieldError.invalid(key('data', k), '<secret contents redacted>', (e as Error).message));
        }
      }
      break;
    }
    case 'kubernetes.io/basic-auth':
      if (!present('username') && !present('password')) {
        errs.push(fieldError.required(key('data', 'username')), fieldError.required(key('data', 'password')));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if (!present('ssh-privatekey')) errs.push(fieldError.required(key('data', 'ssh-privatekey')));
      break;
    case 'kubernetes.io/tls':
      if (!present('tls.crt')) errs.push(fieldError.required(key('data', 'tls.crt')));
      if (!present('tls.key')) errs.push(fieldError.required(key('data', 'tls.key')));
      break;
    default:
  }
  if (ctx.operation === 'UPDATE' && ctx.oldObject) {
    const old = ctx.oldObject;
    if (str(old.type) && type !== str(old.type)) errs.push(fieldError.invalid('type', type, 'field is immutable'));
    errs.push(...immutableData(secret, old, ['data']));
  }
  return errs;
}

/** ValidateNonSpecialIP, minus the loopback and link-local rules (see validateEndpoints). */
function validateEndpointIP(ip: string, path: string): FieldError[] {
  if (!isValidIP(ip)) return [fieldError.invalid(path, ip, validIPMessage)];
  if (ip === '0.0.0.0' || ip === '::') return [fieldError.invalid(path, ip, `may not be unspecified (${ip})`)];
  return [];
}

function validateEndpointPort(p: Record<string, unknown>, requireName: boolean, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(p.name);
  if (requireName && !name) errs.push(fieldError.required(child(path, 'name')));
  else if (name) errs.push(...validateDNS1123Label(name, child(path, 'name')));
  errs.push(...invalidEach(child(path, 'port'), p.port, isValidPortNum(p.port)));
  errs.push(...validateProtocol(p.protocol, child(path, 'protocol')));
  return errs;
}

/**
 * Endpoints as kube validates them. kube also refuses loopback and link-local addresses;
 * virtmesh runs every workload on one machine and may publish such addresses itself, so
 * those two rules are left out (a deliberate difference).
 */
export function validateEndpoints(ep: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  arr(ep.subsets).forEach((raw, i) => {
    const ss = obj(raw);
    const path = index('subsets', i);
    if (arr(ss.addresses).length === 0 && arr(ss.notReadyAddresses).length === 0) {
      errs.push(fieldError.required(path, 'must specify `addresses` or `notReadyAddresses`'));
    }
    for (const list of ['addresses', 'notReadyAddresses']) {
      arr(ss[list]).forEach((a, j) => {
        const addr = obj(a);
        const ap = index(child(path, list), j);
        errs.push(...validateEndpointIP(str(addr.ip), child(ap, 'ip')));
        if (str(addr.hostname)) errs.push(...validateDNS1123Label(str(addr.hostname), child(ap, 'hostname')));
        if (has(addr, 'nodeName')) errs.push(...invalidEach(child(ap, 'nodeName'), addr.nodeName, isDNS1123Subdomain(str(addr.nodeName))));
      });
    }
    const ports = arr(ss.ports);
    ports.forEach((p, j) => {
      errs.push(...validateEndpointPort(obj(p), ports.length > 1, index(child(path, 'ports'), j)));
    });
  });
  return errs;
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];

function isFullyQualifiedDomainName(path: string, name: string): FieldError[] {
  if (!name) return [fieldError.required(path)];
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const sub = isDNS1123Subdomain(n);
  if (sub.length > 0) return [fieldError.invalid(path, n, sub.join(','))];
  const labels = n.split('.');
  if (labels.length < 2) return [fieldError.invalid(path, n, 'should be a domain with at least two segments separated by dots')];
  for (const l of labels) {
    const e = isDNS1123Label(l);
    if (e.length > 0) return [fieldError.invalid(path, l, e.join(','))];
  }
  return [];
}

export function validateEndpointSlice(es: KubeObject, ctx: AdmissionContext): FieldError[] {
  const errs: FieldError[] = [];
  const type = es.addressType;
  if (!type) errs.push(fieldError.required('addressType'));
  else if (!ADDRESS_TYPES.includes(str(type))) errs.push(fieldError.notSupported('addressType', type, ADDRESS_TYPES));
  arr(es.endpoints).forEach((raw, i) => {
    const ep = obj(raw);
    const path = index('endpoints', i);
    const addrs = arr(ep.addresses);
    if (addrs.length === 0) errs.push(fieldError.required(child(path, 'addresses'), 'must contain at least 1 address'));
    else if (addrs.length > 100) errs.push(fieldError.invalid(child(path, 'addresses'), addrs.length, 'must have at most 100 items'));
    addrs.forEach((a, j) => {
      const ap = index(child(path, 'addresses'), j);
      const addr = str(a);
      if (type === 'IPv4') {
        errs.push(...(isIPv4(addr) ? validateEndpointIP(addr, ap) : [fieldError.invalid(ap, addr, 'must be a valid IPv4 address')]));
      } else if (type === 'IPv6') {
        errs.push(...(isIPv6(addr) ? validateEndpointIP(addr, ap) : [fieldError.invalid(ap, addr, 'must be a valid IPv6 address')]));
      } else if (type === 'FQDN') {
        errs.push(...isFullyQualifiedDomainName(ap, addr));
      }
    });
    if (has(ep, 'hostname')) errs.push(...validateDNS1123Label(str(ep.hostname), child(path, 'hostname')));
    if (has(ep, 'nodeName')) errs.push(...invalidEach(child(path, 'nodeName'), ep.nodeName, isDNS1123Subdomain(str(ep.nodeName))));
  });
  const names = new Set<string>();
  arr(es.ports).forEach((raw, i) => {
    const p = obj(raw);
    const path = index('ports', i);
    const name = str(p.name);
    if (name) errs.push(...validateDNS1123Label(name, child(path, 'name')));
    if (names.has(name)) errs.push(fieldError.duplicate(child(path, 'name'), name));
    names.add(name);
    errs.push(...validateProtocol(p.protocol, child(path, 'protocol')));
    if (has(p, 'port')) errs.push(...invalidEach(child(path, 'port'), p.port, isValidPortNum(p.port)));
  });
  const old = ctx.operation === 'UPDATE' ? ctx.oldObject : undefined;
  if (old && old.addressType !== undefined && old.addressType !== type) {
    errs.push(fieldError.invalid('addressType', type, 'field is immutable'));
  }
  return errs;
}

export const EVENT_LIMITS = { reason: 128, action: 128, reportingInstance: 128, message: 1024 };

/** legacyValidateEvent: the namespace rule, and for new-style events (eventTime set) the reporting fields and lengths. */
export function validateEvent(ev: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const ns = str(ev.metadata?.namespace);
  const involved = obj(ev.involvedObject);
  const involvedNs = str(involved.namespace);
  const newStyle = has(ev, 'eventTime');
  const mismatch = () => errs.push(fieldError.invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
  if (!newStyle) {
    if (!involvedNs) {
      if (ns !== '' && ns !== 'default') mismatch();
    } else if (ns !== involvedNs) mismatch();
    return errs;
  }
  if (!involvedNs && ns !== 'default' && ns !== 'kube-system') mismatch();
  else if (involvedNs && ns !== involvedNs) mismatch();
  const controller = str(ev.reportingComponent) || str(ev.reportingController);
  if (!controller) errs.push(fieldError.required('source'));
  else errs.push(...invalidEach('source', controller, isQualifiedName(controller)));
  const lengthCheck = (field: 'reason' | 'action' | 'reportingInstance' | 'message', required: boolean) => {
    const v = str(ev[field]);
    if (required && !v) errs.push(fieldError.required(field));
    if (v.length > EVENT_LIMITS[field]) errs.push(fieldError.invalid(field, '', `can have at most ${EVENT_LIMITS[field]} characters`));
  };
  lengthCheck('reportingInstance', true);
  lengthCheck('action', true);
  lengthCheck('reason', true);
  lengthCheck('message', false);
  return errs;
}
