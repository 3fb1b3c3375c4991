// Building blocks of Istio's config validation (istio/istio pkg/config/validation and its
// agent package), with Istio's own wording. The API server prefixes denials with
// `configuration is invalid: `.

import { type FieldError, fieldError } from './field-errors.js';
import { isIPv4, isIPv6 } from './names.js';
import { isObj, type Obj, str } from './util.js';

export const ISTIO_WEBHOOK = 'validation.istio.io';

/** One Istio validation error at a field. */
export const ie = (field: string, value: unknown, msg: string): FieldError => fieldError.invalid(field, value, msg);
export const ireq = (field: string, msg: string): FieldError => fieldError.required(field, msg);

const GO_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Go's time.ParseDuration ("1.5s", "10ms", "1h2m"); seconds, or undefined when malformed. */
export function parseGoDuration(s: string): number | undefined {
  // No real duration is this long; the cap also bounds the work a hostile one costs.
  if (s.length > 64) return undefined;
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  // One way to split digits from the unit: linear, no backtracking.
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * GO_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/** agent.ValidateDuration, for the string form durations take in Istio's CRDs. */
export function validateDuration(v: unknown, path: string): FieldError[] {
  const secs = typeof v === 'string' ? parseGoDuration(v) : undefined;
  if (secs === undefined) return [ie(path, v, 'must be a valid duration greater than 1ms')];
  if (secs < 0.001 - 1e-12) return [ie(path, v, 'duration must be greater than 1ms')];
  const ms = secs * 1000;
  if (Math.abs(ms - Math.round(ms)) > 1e-6) return [ie(path, v, 'only durations to ms precision are supported')];
  return [];
}

const dns1123Label = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
export const isIstioDNS1123Label = (v: string) => v.length <= 63 && dns1123Label.test(v);
const isWildcardLabel = (v: string) => v.length <= 63 && (v === '*' || /^\*?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(v));

function dnsPreconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name "${name}" too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

function validateDNS1123Labels(domain: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1];
  if (/^[+-]?\d+$/.test(tld)) return `domain name "${domain}" invalid (top level domain "${tld}" cannot be all-numeric)`;
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && parts[i] === '') return undefined;
    if (!isIstioDNS1123Label(parts[i])) return `domain name "${domain}" invalid (label "${parts[i]}" invalid)`;
  }
  return undefined;
}

/** agent.ValidateWildcardDomain: an FQDN whose first label may be a wildcard. */
export function validateWildcardDomain(domain: string): string | undefined {
  const pre = dnsPreconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isWildcardLabel(first)) return `domain name "${domain}" invalid (label "${first}" invalid)`;
  return dot < 0 ? undefined : validateDNS1123Labels(domain.slice(dot + 1));
}

export const validateFQDN = (fqdn: string) => dnsPreconditions(fqdn) ?? validateDNS1123Labels(fqdn);
export const isIP = (v: string) => isIPv4(v) || isIPv6(v);

export function validatePort(port: unknown, path: string): FieldError[] {
  const n = typeof port === 'number' ? port : Number.NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? [] : [ie(path, port, `port number ${String(port ?? 0)} must be in the range 1..65535`)];
}

export function validatePortName(name: string, path: string): FieldError[] {
  return isIstioDNS1123Label(name) ? [] : [ie(path, name, `invalid port name: ${name}`)];
}

const PROTOCOLS = ['tcp', 'udp', 'grpc', 'grpc-web', 'http', 'http_proxy', 'http2', 'https', 'tls', 'mongo', 'redis', 'mysql'];
export const isHTTPProtocol = (p: string) => ['http', 'http2', 'grpc', 'grpc-web', 'http_proxy'].includes(p.toLowerCase());
export const isTLSProtocol = (p: string) => ['https', 'tls'].includes(p.toLowerCase());

export function validateProtocol(p: unknown, path: string): FieldError[] {
  const s = str(p);
  return s === '' || PROTOCOLS.includes(s.toLowerCase()) ? [] : [ie(path, p, `unsupported protocol: ${s}`)];
}

/** ValidatePercent for the integer percentages (weights, ejection percents). */
export function validatePercent(v: unknown, path: string): FieldError[] {
  if (v === undefined || v === null) return [];
  const n = Number(v);
  return n >= 0 && n <= 100 ? [] : [ie(path, v, `percentage ${String(v)} is not in range 0..100`)];
}

/** validatePercentage for `{value: double}` percentages. */
export function validatePercentage(p: unknown, path: string): FieldError[] {
  if (!isObj(p)) return [];
  const v = typeof p.value === 'number' ? p.value : 0;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) {
    return [ie(`${path}.value`, v, `percentage ${String(v)} is neither 0.0, nor in range [0.0001, 100.0]`)];
  }
  return [];
}

const labelName = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const dnsName = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** labels.Instance.Validate: `invalid tag key: "k"` / `invalid tag value: "v"`. */
export function validateLabelsIstio(labels: unknown, path: string): FieldError[] {
  if (!isObj(labels)) return [];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const parts = k.split('/');
    const okKey =
      (parts.length === 1 && labelName.test(parts[0]) && parts[0].length <= 63) ||
      (parts.length === 2 && dnsName.test(parts[0]) && labelName.test(parts[1]) && parts[1].length <= 63);
    if (!okKey) errs.push(ie(path, k, `invalid tag key: ${JSON.stringify(k)}`));
    if (typeof v !== 'string' || v.length > 63 || !labelValue.test(v)) errs.push(ie(path, v, `invalid tag value: ${JSON.stringify(v)}`));
  }
  return errs;
}

/** validateWorkloadSelector (matchLabels) / the alpha selector (labels). */
export function validateSelector(selector: unknown, field: 'matchLabels' | 'labels', path: string): FieldError[] {
  if (!isObj(selector)) return [];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries((selector as Obj)[field] ?? {})) {
    const pair = JSON.stringify(`${k}=${String(v)}`);
    if (k === '') errs.push(ie(`${path}.${field}`, k, `empty key is not supported in selector: ${pair}`));
    if (k.includes('*') || String(v).includes('*')) errs.push(ie(`${path}.${field}`, k, `wildcard is not supported in selector: ${pair}`));
  }
  return errs;
}

/** Subset names are DNS-1123 labels. */
export function validateSubsetName(name: unknown, path: string): FieldError[] {
  const s = str(name);
  if (!s) return [ireq(path, 'subset name cannot be empty')];
  return isIstioDNS1123Label(s) ? [] : [ie(path, s, `subset name is invalid: ${s}`)];
}

export const notSupported = (path: string, v: unknown, allowed: string[]): FieldError[] =>
  v === undefined || v === null || allowed.includes(str(v)) ? [] : [fieldError.notSupported(path, v, allowed)];
