/**
 * The structured-merge-diff operations server-side apply needs, over plain JSON plus the list
 * and map rules of schema.ts: ToFieldSet, Compare, Merge and RemoveItems.
 */
import { invalid } from './errors.js';
import { FieldSet, type Path, pathString } from './fieldset.js';
import { childPath, itemPath, type Schema } from './schema.js';
import { clone, deepEqual, getOwn, isObject, type JsonObject, setOwn } from './util.js';

/** Paths the server owns; they never appear in a manager's set (fieldmanager's stripMetaManager). */
const SERVER_OWNED: Path[] = [
  ['f:apiVersion'],
  ['f:kind'],
  ['f:metadata'],
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map((f) => [
    'f:metadata',
    `f:${f}`,
  ]),
];
const SERVER_OWNED_SET = FieldSet.of(...SERVER_OWNED);

export function stripServerOwned(set: FieldSet): FieldSet {
  return set.difference(SERVER_OWNED_SET);
}

/** The path element naming `item` (at `index`) in the list at `path` (`fpath` for error texts). */
export function itemElement(schema: Schema, path: string, fpath: Path, item: unknown, index: number): string {
  const type = schema.ssaList(path);
  if (type === 'set') return `v:${JSON.stringify(item)}`;
  if (type === 'atomic') return `i:${index}`;
  const where = `${pathString(fpath)}: element ${index}`;
  if (!isObject(item)) throw invalid(`${where}: associative list with keys may not have non-map elements`);
  const key: JsonObject = {};
  for (const k of [...type.keys].sort()) {
    const v = item[k] ?? type.defaults?.[k];
    if (v === undefined || v === null) {
      throw invalid(`${where}: associative list with keys has an element that omits key field "${k}" (and doesn't have default value)`);
    }
    key[k] = v;
  }
  return `k:${JSON.stringify(key)}`;
}

/** Items of a non-atomic list, indexed by path element (the first of duplicates wins). */
function indexItems(schema: Schema, path: string, fpath: Path, list: unknown[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  list.forEach((item, i) => {
    const pe = itemElement(schema, path, fpath, item, i);
    if (!out.has(pe)) out.set(pe, item);
  });
  return out;
}

const isEmptyish = (v: unknown): boolean =>
  v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);

// ---- ToFieldSet ----------------------------------------------------------------------------

/** The set of fields a (partial) object specifies: what an applier owns after applying it. */
export function toFieldSet(obj: unknown, schema: Schema): FieldSet {
  const set = new FieldSet();
  const walkValue = (v: unknown, path: string, fpath: Path): void => {
    if (isObject(v)) {
      if (schema.atomicMap(path) || Object.keys(v).length === 0) set.insert(fpath);
      else walkObject(v, path, fpath);
    } else if (Array.isArray(v)) {
      if (schema.ssaList(path) === 'atomic') {
        set.insert(fpath);
        return;
      }
      v.forEach((item, i) => {
        const ip = [...fpath, itemElement(schema, path, fpath, item, i)];
        set.insert(ip);
        if (isObject(item)) walkObject(item, itemPath(path), ip);
      });
    } else if (v !== undefined) {
      set.insert(fpath); // scalars and null
    }
  };
  const walkObject = (o: JsonObject, path: string, fpath: Path): void => {
    for (const [k, v] of Object.entries(o)) walkValue(v, childPath(path, k), [...fpath, `f:${k}`]);
  };
  if (isObject(obj)) walkObject(obj, '', []);
  return stripServerOwned(set);
}

// ---- Compare -------------------------------------------------------------------------------

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

type Shape = 'map' | 'list' | 'leaf';

function shapeOf(v: unknown, path: string, schema: Schema): Shape {
  if (isObject(v)) return schema.atomicMap(path) ? 'leaf' : 'map';
  if (Array.isArray(v)) return schema.ssaList(path) === 'atomic' ? 'leaf' : 'list';
  return 'leaf';
}

/** What changed from `lhs` to `rhs`, field by field (an added map or list item also adds itself). */
export function compare(lhs: unknown, rhs: unknown, schema: Schema): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  const walk = (l: unknown, r: unknown, path: string, fpath: Path, root: boolean): void => {
    const lAbsent = l === undefined || l === null;
    const rAbsent = r === undefined || r === null;
    const ls = lAbsent ? undefined : shapeOf(l, path, schema);
    const rs = rAbsent ? undefined : shapeOf(r, path, schema);
    const shape = ls ?? rs;
    const structured = shape !== 'leaf' && (ls === undefined || rs === undefined || ls === rs) && !(isEmptyish(l) && isEmptyish(r));
    if (!structured) {
      if (l === undefined && r === undefined) return;
      if (l === undefined) c.added.insert(fpath);
      else if (r === undefined) c.removed.insert(fpath);
      else if (!deepEqual(l, r)) c.modified.insert(fpath);
      return;
    }
    if (shape === 'map') {
      const lo = (lAbsent ? {} : l) as JsonObject;
      const ro = (rAbsent ? {} : r) as JsonObject;
      const keys = new Set([...Object.keys(ro), ...Object.keys(lo)]);
      for (const k of keys) walk(getOwn(lo, k), getOwn(ro, k), childPath(path, k), [...fpath, `f:${k}`], false);
    } else {
      const li = indexItems(schema, path, fpath, lAbsent ? [] : (l as unknown[]));
      const ri = indexItems(schema, path, fpath, rAbsent ? [] : (r as unknown[]));
      const pes = new Set([...ri.keys(), ...li.keys()]);
      for (const pe of pes) walk(li.get(pe), ri.get(pe), itemPath(path), [...fpath, pe], false);
    }
    if (root) return;
    if (lAbsent && !schema.alwaysPresent(path)) c.added.insert(fpath);
    else if (rAbsent) c.removed.insert(fpath);
  };
  walk(lhs, rhs, '', [], true);
  return {
    added: stripServerOwned(c.added),
    modified: stripServerOwned(c.modified),
    removed: stripServerOwned(c.removed),
  };
}

// ---- Merge ---------------------------------------------------------------------------------

type Walk = (l: unknown, r: unknown, path: string, fpath: Path) => unknown;

/** Merges the applied configuration `rhs` into `lhs` (granular maps, keyed/set lists; atomic replaced). */
export function merge(lhs: unknown, rhs: unknown, schema: Schema): unknown {
  const walk: Walk = (l, r, path, fpath) => {
    if (r === undefined) return clone(l);
    if (l === undefined || l === null) return clone(r);
    if (isObject(l) && isObject(r) && !schema.atomicMap(path)) {
      // Own keys only, read and written (`__proto__` is a field name like any other).
      const out: JsonObject = {};
      for (const k of Object.keys(l)) setOwn(out, k, clone(l[k]));
      for (const [k, v] of Object.entries(r)) setOwn(out, k, walk(getOwn(l, k), v, childPath(path, k), [...fpath, `f:${k}`]));
      return out;
    }
    if (Array.isArray(l) && Array.isArray(r) && schema.ssaList(path) !== 'atomic') {
      return mergeList(schema, l, r, path, fpath, walk);
    }
    return clone(r);
  };
  return walk(lhs, rhs, '', []);
}

/**
 * mergingWalker.visitListItems: live-only items keep their places; items the applied list
 * names come out in the applied order, merged with their live counterparts.
 */
function mergeList(schema: Schema, lhs: unknown[], rhs: unknown[], path: string, fpath: Path, walk: Walk): unknown[] {
  const lPEs = lhs.map((item, i) => itemElement(schema, path, fpath, item, i));
  const rPEs = rhs.map((item, i) => itemElement(schema, path, fpath, item, i));
  const byPE = (pes: string[], items: unknown[]) => {
    const m = new Map<string, unknown>();
    pes.forEach((pe, i) => {
      if (!m.has(pe)) m.set(pe, items[i]);
    });
    return m;
  };
  const lByPE = byPE(lPEs, lhs);
  const rByPE = byPE(rPEs, rhs);
  const shared = rPEs.filter((pe) => lByPE.has(pe));
  let sharedAt = 0;
  const shift = (): string | undefined => shared[sharedAt++];
  let nextShared = shift();
  const mergedRHS = new Set<string>();
  const out: unknown[] = [];
  const item = (pe: string) => walk(lByPE.get(pe), rByPE.get(pe), itemPath(path), [...fpath, pe]);
  let li = 0;
  let ri = 0;
  while (li < lPEs.length || ri < rPEs.length) {
    if (li < lPEs.length && ri < rPEs.length) {
      const pe = lPEs[li] as string;
      if (pe === rPEs[ri]) {
        mergedRHS.add(pe);
        out.push(item(pe));
        li++;
        ri++;
        nextShared = shift();
        continue;
      }
      if (rByPE.has(pe) && nextShared !== undefined && nextShared !== pe) {
        li++; // a shared item, but not the one due now
        continue;
      }
    }
    if (li < lPEs.length) {
      const pe = lPEs[li] as string;
      if (!rByPE.has(pe)) {
        out.push(clone(lhs[li]));
        li++;
        continue;
      }
      if (mergedRHS.has(pe)) {
        li++;
        continue;
      }
    }
    if (ri < rPEs.length) {
      const pe = rPEs[ri] as string;
      mergedRHS.add(pe);
      out.push(item(pe));
      ri++;
      if (nextShared === pe) nextShared = shift();
    }
  }
  return out;
}

// ---- RemoveItems ---------------------------------------------------------------------------

/** Removes from `obj` (in place) every field and list item that is a member of `set`. */
export function removeItems(obj: unknown, set: FieldSet, schema: Schema): void {
  const size = (v: unknown) => (Array.isArray(v) ? v.length : isObject(v) ? Object.keys(v).length : -1);
  const walk = (v: unknown, s: FieldSet, path: string, fpath: Path, depth: number): void => {
    if (isObject(v)) {
      for (const k of Object.keys(v)) {
        const c = s.child(`f:${k}`);
        if (!c) continue;
        if (c.member) {
          delete v[k];
          continue;
        }
        const before = size(v[k]);
        walk(v[k], c, childPath(path, k), [...fpath, `f:${k}`], depth + 1);
        // A map or list emptied by removal goes too (as omitempty would drop it), below the top level.
        if (depth > 0 && before > 0 && size(v[k]) === 0) delete v[k];
      }
    } else if (Array.isArray(v) && schema.ssaList(path) !== 'atomic') {
      const kept: unknown[] = [];
      v.forEach((item, i) => {
        const pe = itemElement(schema, path, fpath, item, i);
        const c = s.child(pe);
        if (c?.member) return;
        if (c) walk(item, c, itemPath(path), [...fpath, pe], depth + 1);
        kept.push(item);
      });
      v.splice(0, v.length, ...kept);
    }
  };
  walk(obj, set, '', [], 0);
}
