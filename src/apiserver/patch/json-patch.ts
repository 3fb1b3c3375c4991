/**
 * RFC 6902 JSON patch with the semantics and error texts of gopkg.in/evanphx/json-patch.v4
 * (the library kube-apiserver applies application/json-patch+json with).
 *
 * kube answers a patch that does not decode with 400 BadRequest, and one that does not apply
 * with 422 Invalid. (Real kube hides the library's text behind "the server rejected our request
 * due to an error in our request"; we keep the specific text as the message.)
 */
import type { KubeObject } from '../admission/types.js';
import { badRequest, invalid, PatchError } from './errors.js';
import { clone, deepEqual, getOwn, isObject, type JsonObject, jsonTypeName, setOwn } from './util.js';

const MISSING = 'missing value';
const INVALID_INDEX = 'invalid index referenced';
const TEST_FAILED = 'test failed';

/** kube-apiserver's maxJSONPatchOperations. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;
/** kube-apiserver's JSONPatchMaxCopyBytes (evanphx's AccumulatedCopySizeLimit): bytes all copy ops may add. */
export const JSON_PATCH_MAX_COPY_BYTES = 3 * 1024 * 1024;

/** An error as the Go library would wrap it (errors.Wrapf: "msg: cause"). */
class OpError extends Error {}
const wrap = (msg: string, cause: string): OpError => new OpError(`${msg}: ${cause}`);

type Container = JsonObject | unknown[];

function decodeKey(k: string): string {
  return k.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** strconv.Atoi */
function atoi(key: string): number {
  if (!/^[+-]?\d+$/.test(key)) throw new OpError(`strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`);
  const n = Number(key);
  if (!Number.isSafeInteger(n)) throw new OpError(`strconv.Atoi: parsing ${JSON.stringify(key)}: value out of range`);
  return n;
}

function invalidIndex(idx: number): OpError {
  return wrap(`Unable to access invalid index: ${idx}`, INVALID_INDEX);
}

/** Resolves a negative index the way the library does (SupportNegativeIndices defaults to true). */
function arrayIndex(key: string, size: number): number {
  let idx = atoi(key);
  if (idx < 0) {
    if (idx < -size) throw invalidIndex(idx);
    idx += size;
  }
  return idx;
}

/** container.get: the value (undefined when null or absent), or throws. */
function get(c: Container, key: string): unknown {
  if (Array.isArray(c)) {
    const idx = arrayIndex(key, c.length);
    if (idx >= c.length) throw invalidIndex(atoi(key));
    return c[idx] ?? undefined;
  }
  if (!Object.hasOwn(c, key)) throw wrap(`unable to get nonexistent key: ${key}`, MISSING);
  return c[key] ?? undefined;
}

function add(c: Container, key: string, val: unknown): void {
  if (!Array.isArray(c)) {
    setOwn(c, key, val);
    return;
  }
  if (key === '-') {
    c.push(val);
    return;
  }
  let idx: number;
  try {
    idx = atoi(key);
  } catch (e) {
    throw wrap(`value was not a proper array index: '${key}'`, (e as Error).message);
  }
  const size = c.length + 1;
  if (idx >= size) throw invalidIndex(idx);
  if (idx < 0) {
    if (idx < -size) throw invalidIndex(idx);
    idx += size;
  }
  c.splice(idx, 0, val);
}

function set(c: Container, key: string, val: unknown): void {
  if (Array.isArray(c)) c[arrayIndex(key, c.length)] = val;
  else setOwn(c, key, val);
}

function remove(c: Container, key: string): void {
  if (!Array.isArray(c)) {
    if (!Object.hasOwn(c, key)) throw wrap(`unable to remove nonexistent key: ${key}`, MISSING);
    delete c[key];
    return;
  }
  const raw = atoi(key);
  if (raw >= c.length) throw invalidIndex(raw);
  c.splice(arrayIndex(key, c.length), 1);
}

/** findObject: the container holding the last path segment, or undefined. */
function findObject(doc: Container, path: string): [Container, string] | undefined {
  const split = path.split('/');
  if (split.length < 2) return undefined;
  let cur: Container = doc;
  for (const part of split.slice(1, -1)) {
    let next: unknown;
    try {
      next = get(cur, decodeKey(part));
    } catch {
      return undefined;
    }
    if (!Array.isArray(next) && !isObject(next)) return undefined;
    cur = next;
  }
  return [cur, decodeKey(split[split.length - 1] as string)];
}

interface Op {
  [k: string]: unknown;
}

function field(op: Op, name: 'path' | 'from'): string | undefined {
  const v = getOwn(op, name);
  return typeof v === 'string' ? v : undefined;
}

function missingField(name: 'path' | 'from'): string {
  return `operation missing ${name} field: ${MISSING}`;
}

/** The size evanphx's deepCopy counts for a copied value: its JSON encoding's length in bytes. */
function jsonSize(v: unknown): number {
  return v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v) ?? 'null');
}

interface State {
  doc: Container;
  /** Bytes added by copy operations so far. */
  copied: number;
}

function applyOp(holder: State, op: Op): void {
  const opName = getOwn(op, 'op');
  const kind = typeof opName === 'string' ? opName : 'unknown';
  const path = field(op, 'path');
  const opValue = getOwn(op, 'value');
  const value = opValue === undefined ? null : clone(opValue);
  const doc = holder.doc;
  switch (kind) {
    case 'add': {
      if (path === undefined) throw wrap('add operation failed to decode path', MISSING);
      const found = findObject(doc, path);
      if (!found) throw wrap(`add operation does not apply: doc is missing path: "${path}"`, MISSING);
      try {
        add(found[0], found[1], value);
      } catch (e) {
        throw wrap(`error in add for path: '${path}'`, (e as Error).message);
      }
      return;
    }
    case 'remove': {
      if (path === undefined) throw wrap('remove operation failed to decode path', MISSING);
      const found = findObject(doc, path);
      if (!found) throw wrap(`remove operation does not apply: doc is missing path: "${path}"`, MISSING);
      try {
        remove(found[0], found[1]);
      } catch (e) {
        throw wrap(`error in remove for path: '${path}'`, (e as Error).message);
      }
      return;
    }
    case 'replace': {
      if (path === undefined) throw wrap('replace operation failed to decode path', missingField('path'));
      if (path === '') {
        if (!Array.isArray(value) && !isObject(value)) throw new OpError('replace operation value must be object or array');
        holder.doc = value;
        return;
      }
      const found = findObject(doc, path);
      if (!found) throw wrap(`replace operation does not apply: doc is missing path: ${path}`, MISSING);
      try {
        get(found[0], found[1]);
      } catch {
        throw wrap(`replace operation does not apply: doc is missing key: ${path}`, MISSING);
      }
      set(found[0], found[1], value);
      return;
    }
    case 'move': {
      const from = field(op, 'from');
      if (from === undefined) throw wrap('move operation failed to decode from', missingField('from'));
      const src = findObject(doc, from);
      if (!src) throw wrap(`move operation does not apply: doc is missing from path: ${from}`, MISSING);
      let val: unknown;
      try {
        val = get(src[0], src[1]);
        remove(src[0], src[1]);
      } catch (e) {
        throw wrap(`error in move for path: '${src[1]}'`, (e as Error).message);
      }
      if (path === undefined) throw wrap('move operation failed to decode path', missingField('path'));
      const dst = findObject(doc, path);
      if (!dst) throw wrap(`move operation does not apply: doc is missing destination path: ${path}`, MISSING);
      try {
        add(dst[0], dst[1], val ?? null);
      } catch (e) {
        throw wrap(`error in move for path: '${path}'`, (e as Error).message);
      }
      return;
    }
    case 'copy': {
      const from = field(op, 'from');
      if (from === undefined) throw wrap('copy operation failed to decode from', missingField('from'));
      const src = findObject(doc, from);
      if (!src) throw wrap(`copy operation does not apply: doc is missing from path: ${from}`, MISSING);
      let val: unknown;
      try {
        val = get(src[0], src[1]);
      } catch (e) {
        throw wrap(`error in copy for from: '${from}'`, (e as Error).message);
      }
      if (path === undefined) throw wrap('copy operation failed to decode path', MISSING);
      const dst = findObject(doc, path);
      if (!dst) throw wrap(`copy operation does not apply: doc is missing destination path: ${path}`, MISSING);
      // Checked before copying, so a chain of copies cannot double the document op after op.
      holder.copied += jsonSize(val);
      if (holder.copied > JSON_PATCH_MAX_COPY_BYTES) {
        throw new OpError(
          `Unable to complete the copy, the accumulated size increase of copy is ${holder.copied}, exceeding the limit ${JSON_PATCH_MAX_COPY_BYTES}`,
        );
      }
      try {
        add(dst[0], dst[1], clone(val) ?? null);
      } catch (e) {
        throw wrap('error while adding value during copy', (e as Error).message);
      }
      return;
    }
    case 'test': {
      if (path === undefined) throw wrap('test operation failed to decode path', missingField('path'));
      if (path === '') {
        if (deepEqual(doc, value)) return;
        throw wrap(`testing value ${path} failed`, TEST_FAILED);
      }
      const found = findObject(doc, path);
      if (!found) throw wrap(`test operation does not apply: is missing path: ${path}`, MISSING);
      let val: unknown;
      try {
        val = get(found[0], found[1]);
      } catch (e) {
        if (!Array.isArray(found[0]))
          val = undefined; // a missing key reads as null
        else throw wrap(`error in test for path: '${path}'`, (e as Error).message);
      }
      if (val === undefined ? value === null : deepEqual(val, value)) return;
      throw wrap(`testing value ${path} failed`, TEST_FAILED);
    }
    default:
      throw new OpError(`Unexpected kind: ${kind}`);
  }
}

/** Applies an RFC 6902 patch (already JSON-decoded) to a copy of `obj`. */
export function applyJsonPatch(obj: KubeObject, ops: unknown): KubeObject {
  if (!Array.isArray(ops)) {
    throw badRequest(`json: cannot unmarshal ${jsonTypeName(ops)} into Go value of type jsonpatch.Patch`);
  }
  for (const op of ops) {
    if (!isObject(op) && op !== null) {
      throw badRequest(`json: cannot unmarshal ${jsonTypeName(op)} into Go value of type jsonpatch.Operation`);
    }
  }
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new PatchError(
      413,
      `Request entity too large: The allowed operations in the patch (${ops.length}) exceeds the maximum (${MAX_JSON_PATCH_OPERATIONS})`,
    );
  }
  const holder: State = { doc: clone(obj) as JsonObject, copied: 0 };
  for (const op of ops) {
    try {
      applyOp(holder, (op ?? {}) as Op);
    } catch (e) {
      if (e instanceof OpError) throw invalid(e.message);
      throw e;
    }
  }
  if (!isObject(holder.doc)) {
    throw invalid(`json: cannot unmarshal ${jsonTypeName(holder.doc)} into Go value of type map[string]interface {}`);
  }
  return holder.doc as KubeObject;
}
