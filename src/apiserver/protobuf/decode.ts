/**
 * Decodes Kubernetes protobuf request bodies into the JSON object Go's
 * encoding/json would have produced from the same typed object.
 *
 * The wire is read with protobufjs' Reader, but the walk is our own: driven by
 * the field tables in k8s-schema.ts, it fails on any field number it does not
 * know instead of skipping it, and it applies the Go JSON rules (omitempty,
 * pointers, inline structs, Time as RFC 3339, IntOrString, Quantity, []byte as
 * base64) that a generic protobuf-to-JSON mapping would get wrong.
 */
import { Buffer } from 'node:buffer';
import protobuf from 'protobufjs';
import type { KubeObject } from '../../store/kube-object.js';
import { type FieldModel, type MessageModel, parseMessages } from './descriptor.js';
import { CORE_V1_KINDS, K8S_MESSAGES } from './k8s-schema.js';

export const KUBE_PROTOBUF = 'application/vnd.kubernetes.protobuf';

/** The 4 bytes every Kubernetes protobuf body starts with: "k8s" and a zero byte. */
export const KUBE_PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufError extends Error {
  override name = 'ProtobufError';
}

const MODELS = parseMessages(K8S_MESSAGES);

function model(name: string): MessageModel {
  const m = MODELS.get(name);
  if (!m) throw new Error(`no message ${name}`);
  return m;
}

/** True for `application/vnd.kubernetes.protobuf`, with or without parameters. */
export function isKubeProtobuf(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return contentType.split(';')[0].trim().toLowerCase() === KUBE_PROTOBUF;
}

// ---------------------------------------------------------------- wire reading

type Scalar = string | number | boolean | Uint8Array;
interface MapEntry {
  key: string;
  value: Scalar | undefined;
}
type Raw = Scalar | MapEntry;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;

function wireTypeOf(type: string, scalar: boolean): number {
  if (!scalar || type === 'string' || type === 'bytes') return WIRE_LEN;
  if (type === 'double') return WIRE_FIXED64;
  return WIRE_VARINT;
}

function readScalar(r: protobuf.Reader, type: string, path: string): Scalar {
  switch (type) {
    case 'string':
      return r.string();
    case 'bytes':
      return Uint8Array.from(r.bytes());
    case 'bool':
      return r.bool();
    case 'int32':
      return r.int32();
    case 'double':
      return r.double();
    case 'int64': {
      const v: unknown = r.int64();
      const n = typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber();
      if (!Number.isSafeInteger(n)) throw new ProtobufError(`${path}: int64 value does not fit a JSON number`);
      return n;
    }
    default:
      // A message: its bytes, decoded later (and merged, if it occurs more than once).
      return Uint8Array.from(r.bytes());
  }
}

function describeWire(wt: number): string {
  return ['varint', '64-bit', 'length-delimited', 'group start', 'group end', '32-bit'][wt] ?? `invalid (${wt})`;
}

/** Reads one map entry message: key = 1 (string), value = 2. */
function readMapEntry(bytes: Uint8Array, f: FieldModel, path: string): MapEntry {
  const r = protobuf.Reader.create(bytes);
  const entry: MapEntry = { key: '', value: undefined };
  while (r.pos < r.len) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 1 && wt === WIRE_LEN) entry.key = r.string();
    else if (no === 2 && wt === wireTypeOf(f.type, f.scalar)) entry.value = readScalar(r, f.type, path);
    else throw new ProtobufError(`${path}: unexpected field ${no} (${describeWire(wt)}) in a map entry`);
  }
  return entry;
}

/** Collects the raw values of every field of one message, refusing unknown field numbers. */
function readFields(m: MessageModel, bytes: Uint8Array, path: string): Map<FieldModel, Raw[]> {
  const out = new Map<FieldModel, Raw[]>();
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 0) throw new ProtobufError(`${path}: invalid field number 0`);
    const f = m.byId.get(no);
    if (!f) {
      throw new ProtobufError(`${path || m.name}: unknown field number ${no} (${describeWire(wt)}) in ${m.name}; this server does not decode it`);
    }
    const where = `${path}.${f.name}`;
    const list = out.get(f) ?? [];
    out.set(f, list);
    const expected = wireTypeOf(f.type, f.scalar);
    if (f.map) {
      if (wt !== WIRE_LEN) throw new ProtobufError(`${where}: map entry with ${describeWire(wt)} wire type`);
      list.push(readMapEntry(r.bytes(), f, where));
    } else if (wt === expected) {
      list.push(readScalar(r, f.type, where));
    } else if (f.repeated && f.scalar && wt === WIRE_LEN && expected !== WIRE_LEN) {
      // A packed repeated number.
      const end = r.uint32() + r.pos;
      while (r.pos < end) list.push(readScalar(r, f.type, where));
      if (r.pos !== end) throw new ProtobufError(`${where}: packed field overruns its length`);
    } else {
      throw new ProtobufError(`${where}: ${describeWire(wt)} wire type where ${describeWire(expected)} was expected`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- Go JSON rules

const EMPTY = new Uint8Array(0);

function zeroScalar(type: string): Scalar {
  switch (type) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'bytes':
      return EMPTY;
    default:
      return 0;
  }
}

function isZero(v: Scalar): boolean {
  return v === '' || v === 0 || v === false || (v instanceof Uint8Array && v.length === 0);
}

function scalarJson(v: Scalar): unknown {
  return v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v;
}

function concat(chunks: Raw[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  return Buffer.concat(chunks as Uint8Array[]);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Go's zero time.Time as Unix seconds (0001-01-01T00:00:00Z). */
const GO_ZERO_TIME_SECONDS = -62135596800;

/** metav1.Time / MicroTime: an empty message is the zero time, which Go writes as null. */
function timeJson(name: 'Time' | 'MicroTime', bytes: Uint8Array, path: string): string | null {
  if (bytes.length === 0) return null;
  const fields = readFields(model(name), bytes, path);
  let seconds = 0;
  let nanos = 0;
  for (const [f, vals] of fields) {
    const v = vals[vals.length - 1] as number;
    if (f.name === 'seconds') seconds = v;
    else nanos = v;
  }
  if (seconds === GO_ZERO_TIME_SECONDS && nanos === 0) return null;
  if (nanos < 0 || nanos > 999_999_999) throw new ProtobufError(`${path}: nanos out of range`);
  const d = new Date(seconds * 1000);
  const year = d.getUTCFullYear();
  if (Number.isNaN(year) || year < 0 || year > 9999) throw new ProtobufError(`${path}: time outside years 0-9999`);
  const base =
    `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` + `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  // Time is RFC 3339 to the second; MicroTime keeps six fractional digits.
  return name === 'Time' ? `${base}Z` : `${base}.${pad(Math.floor(nanos / 1000), 6)}Z`;
}

function specialJson(name: string, bytes: Uint8Array, path: string): { special: true; value: unknown } | undefined {
  switch (name) {
    case 'Time':
    case 'MicroTime':
      return { special: true, value: timeJson(name, bytes, path) };
    case 'IntOrString': {
      const o = messageObject(model(name), bytes, path, true);
      const type = (o.type as number | undefined) ?? 0;
      if (type === 0) return { special: true, value: (o.intVal as number | undefined) ?? 0 };
      if (type === 1) return { special: true, value: (o.strVal as string | undefined) ?? '' };
      throw new ProtobufError(`${path}: IntOrString with type ${type}`);
    }
    case 'Quantity': {
      // Passed through as sent; an unset Quantity is written "0" by Go.
      const o = messageObject(model(name), bytes, path, true);
      return { special: true, value: (o.string as string | undefined) || '0' };
    }
    case 'FieldsV1': {
      const o = messageObject(model(name), bytes, path, true);
      const raw = o.Raw as Uint8Array | undefined;
      if (raw === undefined) return { special: true, value: null };
      try {
        return { special: true, value: JSON.parse(Buffer.from(raw).toString('utf8')) };
      } catch {
        throw new ProtobufError(`${path}: fieldsV1 does not hold JSON`);
      }
    }
    default:
      return undefined;
  }
}

/** The JSON value of a message: an object, or for the special types their scalar form. */
function messageJson(name: string, bytes: Uint8Array, path: string): unknown {
  const special = specialJson(name, bytes, path);
  if (special) return special.value;
  return messageObject(model(name), bytes, path, false);
}

/**
 * The JSON object of a message. With `raw`, the object instead holds the last value
 * of each field that was on the wire, undecorated (for the special types above).
 */
function messageObject(m: MessageModel, bytes: Uint8Array, path: string, raw: boolean): Record<string, unknown> {
  const fields = readFields(m, bytes, path);
  const out: Record<string, unknown> = {};
  for (const f of m.fields) {
    const vals = fields.get(f) ?? [];
    const where = `${path}.${f.name}`;
    if (raw) {
      if (vals.length) out[f.name] = vals[vals.length - 1];
      continue;
    }
    if (f.map) {
      const entries = (vals as MapEntry[]).slice();
      if (!entries.length) {
        if (f.always) out[f.name] = null;
        continue;
      }
      const obj: Record<string, unknown> = {};
      const byKey = new Map<string, Scalar | undefined>();
      for (const e of entries) byKey.set(e.key, e.value);
      for (const key of [...byKey.keys()].sort()) {
        const v = byKey.get(key);
        const at = `${where}[${JSON.stringify(key)}]`;
        // Map keys are data: "__proto__" is a legal ConfigMap key and must stay an own property.
        const value = f.scalar ? scalarJson(v ?? zeroScalar(f.type)) : messageJson(f.type, (v as Uint8Array | undefined) ?? EMPTY, at);
        Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
      }
      out[f.name] = obj;
      continue;
    }
    if (f.repeated) {
      if (!vals.length) {
        if (f.always) out[f.name] = null;
        continue;
      }
      out[f.name] = vals.map((v, i) => (f.scalar ? scalarJson(v as Scalar) : messageJson(f.type, v as Uint8Array, `${where}[${i}]`)));
      continue;
    }
    const present = vals.length > 0;
    if (f.pointer && !present) {
      if (f.always) out[f.name] = null;
      continue;
    }
    if (f.scalar) {
      const v = present ? (vals[vals.length - 1] as Scalar) : zeroScalar(f.type);
      if (!f.pointer && !f.always && isZero(v)) continue;
      out[f.name] = scalarJson(v);
      continue;
    }
    // A struct (Go's omitempty never drops a struct) or a present pointer to one.
    const value = messageJson(f.type, present ? concat(vals) : EMPTY, where);
    if (f.inline && value && typeof value === 'object') Object.assign(out, value);
    else out[f.name] = value;
  }
  return out;
}

// ---------------------------------------------------------------- the request body

interface UnknownEnvelope {
  apiVersion: string;
  kind: string;
  raw: Uint8Array;
  contentEncoding: string;
  contentType: string;
}

function readEnvelope(body: Uint8Array): UnknownEnvelope {
  const env: UnknownEnvelope = { apiVersion: '', kind: '', raw: EMPTY, contentEncoding: '', contentType: '' };
  const fields = readFields(model('Unknown'), body, 'Unknown');
  for (const [f, vals] of fields) {
    const last = vals[vals.length - 1];
    if (f.name === 'typeMeta') {
      const tm = readFields(model('TypeMeta'), concat(vals), 'Unknown.typeMeta');
      for (const [g, v] of tm) {
        if (g.name === 'apiVersion') env.apiVersion = v[v.length - 1] as string;
        else env.kind = v[v.length - 1] as string;
      }
    } else if (f.name === 'raw') env.raw = last as Uint8Array;
    else if (f.name === 'contentEncoding') env.contentEncoding = last as string;
    else if (f.name === 'contentType') env.contentType = last as string;
  }
  return env;
}

/** The message that carries a kind, or undefined when this server does not decode it. */
function messageFor(apiVersion: string, kind: string): string | undefined {
  if (kind === 'DeleteOptions') return 'DeleteOptions'; // sent under whichever group version is targeted
  if (apiVersion === 'v1' && CORE_V1_KINDS.includes(kind)) return kind;
  return undefined;
}

/**
 * Decodes a Kubernetes protobuf request body (the "k8s\0" magic + runtime.Unknown envelope
 * with typeMeta {apiVersion, kind} and raw) into the JSON object the server would have
 * received as JSON. Throws ProtobufError (message says what) for an unsupported kind or
 * a malformed body.
 */
export function decodeKubeProtobuf(body: Buffer): KubeObject {
  if (body.length < KUBE_PROTOBUF_MAGIC.length || !KUBE_PROTOBUF_MAGIC.equals(body.subarray(0, 4))) {
    throw new ProtobufError('not a Kubernetes protobuf body: it does not start with the "k8s\\0" magic bytes');
  }
  try {
    const env = readEnvelope(body.subarray(4));
    if (!env.kind) throw new ProtobufError('the protobuf envelope names no kind');
    if (env.contentEncoding) {
      throw new ProtobufError(`unsupported protobuf content encoding ${JSON.stringify(env.contentEncoding)}`);
    }
    if (env.contentType && env.contentType !== KUBE_PROTOBUF) {
      throw new ProtobufError(`unsupported content type ${JSON.stringify(env.contentType)} inside the protobuf envelope`);
    }
    const message = messageFor(env.apiVersion, env.kind);
    if (!message) {
      throw new ProtobufError(`unsupported kind ${env.kind} in ${env.apiVersion || '(no apiVersion)'} for protobuf bodies; send it as JSON`);
    }
    const obj = messageObject(model(message), env.raw, env.kind, false);
    const typeMeta: KubeObject = { kind: env.kind };
    if (env.apiVersion) typeMeta.apiVersion = env.apiVersion;
    return { ...typeMeta, ...obj } as KubeObject;
  } catch (err) {
    if (err instanceof ProtobufError) throw err;
    // protobufjs' Reader throws RangeError on truncated input.
    throw new ProtobufError(`malformed protobuf body: ${(err as Error).message}`);
  }
}
