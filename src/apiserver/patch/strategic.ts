/**
 * Strategic merge patch, following k8s.io/apimachinery/pkg/util/strategicpatch
 * (StrategicMergeMapPatch: mergeMap / mergeSlice / mergePatchIntoOriginal), driven by the
 * merge-key table in schema.ts instead of Go struct tags.
 */
import type { KubeObject } from '../admission/types.js';
import { badRequest, invalid, PatchError } from './errors.js';
import { childPath, type GroupKind, isBuiltinGroup, itemPath, type Schema, schemaFor } from './schema.js';
import { badArgType, badPatchType, DIRECTIVE, elementKind, goType, type Kind, noMergeKey, normalizeElementOrder, partition, SmpError } from './smp-list.js';
import { clone, getOwn, goFmt, isObject, type JsonObject, jsonTypeName, setOwn } from './util.js';

const RETAIN_KEYS = '$retainKeys';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList';
const SET_ORDER = '$setElementOrder';

/** mergepatch errors kube answers 400 for (interpretStrategicMergePatchError). */
const ERR_PRIMITIVE_LIST = 'invalid patch format of primitive list';
const ERR_RETAIN_KEYS = 'invalid patch format of retainKeys';
const ERR_SET_ORDER = 'invalid patch format of setElementOrder list';
const BAD_REQUEST = new Set([ERR_PRIMITIVE_LIST, ERR_RETAIN_KEYS, ERR_SET_ORDER]);

class Merger {
  constructor(private readonly schema: Schema) {}

  /** A patch value for a field the original lacks: the patch applied to nothing (directives resolved). */
  fresh(v: unknown, path: string): unknown {
    if (isObject(v)) return this.mergeMap({}, v, path);
    if (Array.isArray(v)) {
      const rule = this.schema.list(path)?.smp;
      if (rule) return this.mergeSlice([], v, path, rule.mergeKey ?? '');
      return v.map((x) => (isObject(x) ? (this.mergeMap({}, x, itemPath(path)) ?? {}) : x));
    }
    return v;
  }

  /** mergeMap; undefined means `$patch: delete` (the caller drops the field). */
  mergeMap(original: JsonObject, patch: JsonObject, path: string): JsonObject | undefined {
    if (Object.hasOwn(patch, DIRECTIVE)) {
      const directive = patch[DIRECTIVE];
      if (directive === 'delete') return undefined;
      if (directive === 'replace') {
        const { [DIRECTIVE]: _, ...rest } = patch;
        return this.mergeMap({}, rest, path);
      }
      // kube rejects `$patch: merge` in a map; we take it as the default strategy it names.
      if (directive !== 'merge') throw badPatchType(directive, patch);
      delete patch[DIRECTIVE];
    }
    this.applyRetainKeys(original, patch);
    this.mergeSetElementOrder(original, patch, path);

    for (const k of Object.keys(patch)) {
      const patchV = patch[k];
      if (k.startsWith(DELETE_PRIMITIVE)) {
        this.deleteFromPrimitiveList(original, k, patchV, path);
        continue;
      }
      if (k.startsWith('$')) continue; // unknown directives are dropped, as decoding into a Go type would
      const p = childPath(path, k);
      if (patchV === null || patchV === undefined) {
        delete original[k];
        continue;
      }
      // Own keys only, read and written: `__proto__` is a field like any other.
      const orig = getOwn(original, k);
      if (orig === undefined || orig === null || goType(orig) !== goType(patchV)) {
        const v = this.fresh(patchV, p);
        if (v === undefined) delete original[k];
        else setOwn(original, k, v);
      } else if (isObject(orig)) {
        const merged = this.mergeMap(orig, patchV as JsonObject, p);
        if (merged === undefined) delete original[k];
        else setOwn(original, k, merged);
      } else if (Array.isArray(orig)) {
        setOwn(original, k, this.mergeList(orig, patchV as unknown[], p));
      } else {
        setOwn(original, k, patchV);
      }
    }
    return original;
  }

  /** mergeSliceHandler: merge by key when the field's strategy says so, else replace. */
  mergeList(original: unknown[], patch: unknown[], path: string): unknown[] {
    const rule = this.schema.list(path)?.smp;
    if (rule) return this.mergeSlice(original, patch, path, rule.mergeKey ?? '');
    return this.fresh(patch, path) as unknown[];
  }

  mergeSlice(original: unknown[], patch: unknown[], path: string, mergeKey: string): unknown[] {
    if (original.length === 0 && patch.length === 0) return original;
    const kind = elementKind(original, patch) as Kind;
    let merged: unknown[];
    let orig = original;
    let items = patch;
    if (kind === 'scalar') {
      merged = [...original];
      const seen = new Set(merged);
      for (const v of patch) {
        if (seen.has(v)) continue;
        seen.add(v);
        merged.push(v);
      }
    } else {
      if (!mergeKey) throw new SmpError('cannot merge lists without merge key for type struct');
      [orig, items] = this.specialElements(original, patch, path, mergeKey);
      merged = [...orig];
      // Merge-key value -> position of the first merged item carrying it.
      const byKey = new Map<unknown, number>();
      merged.forEach((v, i) => {
        if (!isObject(v)) throw new SmpError(`value for key ${i} is not a map.`);
        if (Object.hasOwn(v, mergeKey) && !byKey.has(v[mergeKey])) byKey.set(v[mergeKey], i);
      });
      for (const v of items) {
        const item = v as JsonObject;
        if (!Object.hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
        const at = byKey.get(item[mergeKey]);
        if (at !== undefined) merged[at] = this.mergeMap(merged[at] as JsonObject, item, itemPath(path)) ?? {};
        else {
          byKey.set(item[mergeKey], merged.length);
          merged.push(this.mergeMap({}, item, itemPath(path)) ?? {});
        }
      }
    }
    const [inPatch, serverOnly] = partition(merged, items, mergeKey, kind);
    return normalizeElementOrder(inPatch, serverOnly, items, orig, mergeKey, kind);
  }

  /** mergeSliceWithSpecialElements: `$patch: delete` items remove, `$patch: replace` replaces the list. */
  specialElements(original: unknown[], patch: unknown[], path: string, mergeKey: string): [unknown[], unknown[]] {
    const plain: unknown[] = [];
    const deleted = new Set<unknown>();
    let replace = false;
    for (const v of patch) {
      const item = v as JsonObject;
      if (!Object.hasOwn(item, DIRECTIVE)) {
        plain.push(v);
        continue;
      }
      const directive = item[DIRECTIVE];
      if (directive === 'delete') {
        if (!Object.hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
        deleted.add(item[mergeKey]);
      } else if (directive === 'replace') {
        replace = true;
      } else if (directive === 'merge') {
        // kube answers "merging lists cannot yet be specified in the patch"; we merge the element as usual.
        const { [DIRECTIVE]: _, ...rest } = item;
        plain.push(rest);
      } else {
        throw badPatchType(directive, item);
      }
    }
    if (replace) return [plain.map((x) => this.mergeMap({}, x as JsonObject, itemPath(path)) ?? {}), []];
    const orig = deleted.size === 0 ? [...original] : original.filter((o) => !(isObject(o) && Object.hasOwn(o, mergeKey) && deleted.has(o[mergeKey])));
    return [orig, plain];
  }

  deleteFromPrimitiveList(original: JsonObject, key: string, patchV: unknown, path: string): void {
    const [prefix, field] = splitDirective(key);
    if (prefix !== DELETE_PRIMITIVE || field === undefined) throw new SmpError(ERR_PRIMITIVE_LIST);
    if (!Array.isArray(patchV)) throw new SmpError(ERR_PRIMITIVE_LIST);
    const orig = getOwn(original, field);
    // kube would store the deletion list itself when the field is absent; deleting from nothing is a no-op.
    if (!Array.isArray(orig) || !this.schema.list(childPath(path, field))?.smp) return;
    const drop = new Set(patchV);
    setOwn(
      original,
      field,
      orig.filter((v) => !drop.has(v)),
    );
  }

  applyRetainKeys(original: JsonObject, patch: JsonObject): void {
    if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
    const list = patch[RETAIN_KEYS];
    delete patch[RETAIN_KEYS];
    if (!Array.isArray(list)) throw new SmpError(ERR_RETAIN_KEYS);
    const keep = new Set<unknown>(list);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER)) continue;
      if (!keep.has(k)) throw new SmpError(ERR_RETAIN_KEYS);
    }
    for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
  }

  /** mergePatchIntoOriginal: merges each list named by `$setElementOrder/<list>`, then orders it. */
  mergeSetElementOrder(original: JsonObject, patch: JsonObject, path: string): void {
    for (const key of Object.keys(patch)) {
      if (!key.startsWith(SET_ORDER)) continue;
      const order = patch[key];
      delete patch[key];
      if (!Array.isArray(order)) throw badArgType('[]interface {}', order);
      const [prefix, field] = splitDirective(key);
      if (prefix !== SET_ORDER || field === undefined) throw new SmpError(ERR_SET_ORDER);
      const p = childPath(path, field);
      const origList = getOwn(original, field);
      const patchList = getOwn(patch, field);
      if (origList !== undefined && origList !== null && !Array.isArray(origList)) throw badArgType('[]interface {}', origList);
      if (patchList !== undefined && patchList !== null && !Array.isArray(patchList)) throw badArgType('[]interface {}', patchList);
      const origArr = (origList ?? undefined) as unknown[] | undefined;
      const patchArr = (patchList ?? undefined) as unknown[] | undefined;
      const mergeKey = this.schema.list(p)?.smp?.mergeKey ?? '';
      validateSetOrder(patchArr ?? [], order, mergeKey);
      if (!origArr && !patchArr) continue;
      let merged: unknown[];
      if (origArr && patchArr) merged = this.mergeList(origArr, patchArr, p);
      else if (patchArr) merged = this.fresh(patchArr, p) as unknown[];
      else merged = origArr as unknown[];
      delete patch[field];
      const kind = elementKind(origArr ?? [], patchArr ?? []);
      if (!kind || merged.length === 0) {
        setOwn(original, field, merged);
        continue;
      }
      const [inOrder, serverOnly] = partition(merged, order, mergeKey, kind);
      setOwn(original, field, normalizeElementOrder(inOrder, serverOnly, order, origArr ?? [], mergeKey, kind));
    }
  }
}

function splitDirective(key: string): [string, string | undefined] {
  const i = key.indexOf('/');
  return i < 0 ? [key, undefined] : [key.slice(0, i), key.slice(i + 1)];
}

/** validatePatchWithSetOrderList: patch items must appear in the order list, in the same relative order. */
function validateSetOrder(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? patchList.filter((v) => !(isObject(v) && v[DIRECTIVE] === 'delete')) : patchList;
  const keyOf = (v: unknown): unknown => {
    if (!mergeKey) return v;
    if (!isObject(v)) throw badArgType('map[string]interface {}', v);
    if (!Object.hasOwn(v, mergeKey)) throw noMergeKey(v, mergeKey);
    return v[mergeKey];
  };
  let pi = 0;
  let oi = 0;
  while (pi < nonDelete.length && oi < order.length) {
    if (isObject(nonDelete[pi]) && Object.hasOwn(nonDelete[pi] as JsonObject, DIRECTIVE)) {
      pi++;
      continue;
    }
    if (keyOf(nonDelete[pi]) === keyOf(order[oi])) pi++;
    oi++;
  }
  if (pi < nonDelete.length) {
    throw new SmpError(`The order in patch list:\n${goFmt(patchList)}\n doesn't match ${SET_ORDER} list:\n${goFmt(order)}\n`);
  }
}

/** Removes directive keys ($patch, $retainKeys, $setElementOrder/…, $deleteFromPrimitiveList/…) left anywhere. */
function stripDirectives(v: unknown): void {
  if (Array.isArray(v)) v.forEach(stripDirectives);
  else if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (k.startsWith('$')) delete v[k];
      else stripDirectives(v[k]);
    }
  }
}

export const UNSUPPORTED_SMP_MESSAGE =
  'the body of the request was in an unknown format - accepted media types include: ' +
  'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml';

export const DELETE_OBJECT_MESSAGE =
  'a strategic merge patch cannot delete the whole object: "$patch": "delete" is not allowed at the top level of the patch (send a DELETE request instead)';

/** Applies a strategic merge patch to a copy of `obj`, for a built-in (core/v1, discovery/v1) kind. */
export function applyStrategicMergePatch(obj: KubeObject, patch: unknown, gk: GroupKind): KubeObject {
  if (!isBuiltinGroup(gk.group)) throw new PatchError(415, UNSUPPORTED_SMP_MESSAGE);
  if (!isObject(patch)) {
    throw badRequest(`json: cannot unmarshal ${jsonTypeName(patch)} into Go value of type map[string]interface {}`);
  }
  // kube's mergeMap answers a top-level `$patch: delete` with an empty object, which its checkName
  // then rejects (400): a patch cannot delete the object. Say so plainly instead of emptying it.
  if (getOwn(patch, DIRECTIVE) === 'delete') throw badRequest(DELETE_OBJECT_MESSAGE);
  const merger = new Merger(schemaFor(gk));
  let out: JsonObject | undefined;
  try {
    out = merger.mergeMap(clone(obj) as JsonObject, clone(patch), '');
  } catch (e) {
    if (!(e instanceof SmpError)) throw e;
    // kube: 400 for malformed directives, 422 for lists of lists, 500 for the rest (we say 422).
    throw BAD_REQUEST.has(e.message) ? badRequest(e.message) : invalid(e.message);
  }
  if (!out) throw badRequest(DELETE_OBJECT_MESSAGE);
  stripDirectives(out);
  return out as KubeObject;
}
