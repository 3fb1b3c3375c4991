// Istio's PeerAuthentication and AuthorizationPolicy validation, with Istio's messages.

import { type FieldError, fieldError } from './field-errors.js';
import { ie, notSupported, validateSelector } from './istio-common.js';
import { isIPv4, isIPv6 } from './names.js';
import type { KubeObject } from './types.js';
import { arr, has, isObj, type Obj, obj, str } from './util.js';

const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];
const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];

export function validatePeerAuthentication(pa: KubeObject): FieldError[] {
  const spec = obj(pa.spec);
  const errs: FieldError[] = [];
  errs.push(...notSupported('spec.mtls.mode', obj(spec.mtls).mode, MTLS_MODES));
  const emptySelector = Object.keys(obj(obj(spec.selector).matchLabels)).length === 0;
  const portLevel = spec.portLevelMtls;
  const ports = Object.entries(obj(portLevel));
  if (emptySelector && ports.length > 0) {
    errs.push(ie('spec.portLevelMtls', undefined, 'mesh/namespace peer authentication cannot have port level mTLS'));
  }
  if (isObj(portLevel) && ports.length === 0) errs.push(ie('spec.portLevelMtls', portLevel, 'port level mTLS, if defined, must have at least one element'));
  for (const [port, mtls] of ports) {
    const n = Number(port);
    if (!/^\d+$/.test(port) || n <= 0 || n > 65535) errs.push(ie(`spec.portLevelMtls[${port}]`, port, 'port must be in range 1..65535'));
    errs.push(...notSupported(`spec.portLevelMtls[${port}].mode`, obj(mtls).mode, MTLS_MODES));
  }
  errs.push(...validateSelector(spec.selector, 'matchLabels', 'spec.selector'));
  return errs;
}

function badIPs(values: unknown[]): string[] {
  const out: string[] = [];
  for (const raw of values) {
    const v = str(raw);
    if (v.includes('/')) {
      const [ip, bits] = v.split('/');
      const max = isIPv6(ip) ? 128 : 32;
      if (!(isIPv4(ip) || isIPv6(ip)) || !/^\d+$/.test(bits ?? '') || Number(bits) > max) out.push(`bad CIDR range (${v})`);
    } else if (!(isIPv4(v) || isIPv6(v))) out.push(`bad IP address (${v})`);
  }
  return out;
}

const badPorts = (values: unknown[]) =>
  values
    .map(str)
    .filter((p) => !/^\d+$/.test(p) || Number(p) > 65535)
    .map((p) => `bad port (${p})`);

function emptyValues(key: string, values: unknown[]): string[] {
  return values.some((v) => str(v) === '') ? [`empty value not allowed, found in ${key}`] : [];
}

/** security.ValidateAttribute for `when` conditions. */
function attributeErrors(key: string, values: unknown[]): string[] {
  if (/^request\.headers\[.+\]$/.test(key) || /^request\.auth\.claims\[.+\]$/.test(key)) return [];
  if (key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip') return badIPs(values);
  if (key === 'destination.port') return badPorts(values);
  if (key.startsWith('experimental.')) return [];
  const known = ['source.namespace', 'source.principal', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'connection.sni'];
  return known.includes(key) ? [] : [`unknown attribute: ${key}`];
}

const SOURCE_FIELDS = [
  'principals',
  'requestPrincipals',
  'namespaces',
  'ipBlocks',
  'remoteIpBlocks',
  'notPrincipals',
  'notRequestPrincipals',
  'notNamespaces',
  'notIpBlocks',
  'notRemoteIpBlocks',
];
const OPERATION_FIELDS = ['ports', 'methods', 'paths', 'hosts', 'notPorts', 'notMethods', 'notPaths', 'notHosts'];
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

export function validateAuthorizationPolicy(ap: KubeObject): FieldError[] {
  const spec = obj(ap.spec);
  const errs: FieldError[] = [];
  // Istio prefixes every error of a policy with its name and namespace.
  const prefix = `invalid policy ${str(ap.metadata?.name)}.${str(ap.metadata?.namespace)}:`;
  const fail = (path: string, msg: string, value?: unknown) => errs.push(ie(path, value, `${prefix} ${msg}`));
  errs.push(...notSupported('spec.action', spec.action, ACTIONS));
  const action = str(spec.action) || 'ALLOW';
  const rules = arr(spec.rules);
  const selectors = [isObj(spec.selector), isObj(spec.targetRef), arr(spec.targetRefs).length > 0].filter(Boolean).length;
  if (selectors > 1) fail('spec', 'only one of targetRefs or workloadSelector can be set');
  errs.push(...validateSelector(spec.selector, 'matchLabels', 'spec.selector'));
  const provider = obj(spec.provider);
  if (action === 'CUSTOM') {
    if (rules.length === 0) {
      fail(
        'spec.rules',
        'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request',
      );
    } else if (!str(provider.name)) {
      errs.push(fieldError.required('spec.provider.name', `${prefix} \`provider.name\` must not be empty`));
    }
    rules.forEach((r, i) => {
      for (const from of arr(obj(r).from)) {
        const src = obj(obj(from).source);
        for (const f of ['namespaces', 'notNamespaces', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals']) {
          if (arr(src[f]).length > 0) fail(`spec.rules[${i}].from`, `From.${cap(f)} is currently not supported with CUSTOM action`);
        }
      }
      for (const when of arr(obj(r).when)) {
        const k = str(obj(when).key);
        if (k === 'source.namespace' || k === 'source.principal' || k.startsWith('request.auth.')) {
          fail(`spec.rules[${i}].when`, `${k} is currently not supported with CUSTOM action`);
        }
      }
    });
  }
  if (isObj(spec.provider) && action !== 'CUSTOM') fail('spec.provider', `\`provider\` must not be with non CUSTOM action, found ${action}`);
  if (action === 'DENY' && rules.length === 0) {
    fail(
      'spec.rules',
      'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request',
    );
  }
  rules.forEach((raw, i) => {
    const rp = `spec.rules[${i}]`;
    if (!isObj(raw)) {
      fail(rp, `\`rule\` must not be nil, found at rule ${i}`);
      return;
    }
    arr(raw.from).forEach((from, j) => {
      const p = `${rp}.from[${j}].source`;
      if (!isObj(obj(from).source)) {
        fail(p, `\`from.source\` must not be nil, found at rule ${i}`);
        return;
      }
      const src = obj(obj(from).source);
      if (!SOURCE_FIELDS.some((f) => arr(src[f]).length > 0)) fail(p, `\`from.source\` must not be empty, found at rule ${i}`);
      for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) for (const m of badIPs(arr(src[f]))) fail(`${p}.${f}`, m);
      for (const f of SOURCE_FIELDS) for (const m of emptyValues(cap(f), arr(src[f]))) fail(`${p}.${f}`, m);
    });
    arr(raw.to).forEach((to, j) => {
      const p = `${rp}.to[${j}].operation`;
      if (!isObj(obj(to).operation)) {
        fail(p, `\`to.operation\` must not be nil, found at rule ${i}`);
        return;
      }
      const op: Obj = obj(obj(to).operation);
      if (!OPERATION_FIELDS.some((f) => arr(op[f]).length > 0)) fail(p, `\`to.operation\` must not be empty, found at rule ${i}`);
      for (const f of ['ports', 'notPorts']) for (const m of badPorts(arr(op[f]))) fail(`${p}.${f}`, m);
      for (const f of OPERATION_FIELDS) for (const m of emptyValues(cap(f), arr(op[f]))) fail(`${p}.${f}`, m);
    });
    arr(raw.when).forEach((w, j) => {
      const cond = obj(w);
      const p = `${rp}.when[${j}]`;
      const k = str(cond.key);
      if (!k) {
        fail(`${p}.key`, '`key` must not be empty');
        return;
      }
      const values = arr(cond.values);
      const notValues = arr(cond.notValues);
      if (values.length === 0 && notValues.length === 0) {
        fail(p, `at least one of \`values\` or \`notValues\` must be set for key ${k}`);
        return;
      }
      if (has(cond, 'values')) for (const m of attributeErrors(k, values)) fail(`${p}.values`, `invalid \`value\` for \`key\` ${k}: ${m}`);
      if (has(cond, 'notValues')) for (const m of attributeErrors(k, notValues)) fail(`${p}.notValues`, `invalid \`notValue\` for \`key\` ${k}: ${m}`);
    });
  });
  return errs;
}
