/**
 * The list side of strategic merge patch: element kinds, kube's error texts, and the ordering
 * helpers of k8s.io/apimachinery/pkg/util/strategicpatch (normalizeElementOrder and friends).
 *
 * Go's helpers look every item up with index(), a linear scan, inside a sort: O(n²) lookups
 * per list, and O(n³) with the insertion sort this module used to emulate sort.SliceStable with.
 * Here each list is indexed once (merge-key value, or the scalar itself, to first position) and
 * the orderings are computed in O(n log n), with the same results.
 */
import { getOwn, goFmt, isObject, type JsonObject } from './util.js';

export const DIRECTIVE = '$patch';

export class SmpError extends Error {}

export const noMergeKey = (m: unknown, key: string) => new SmpError(`map: ${goFmt(m)} does not contain declared merge key: ${key}`);
export const badPatchType = (t: unknown, m: unknown) => new SmpError(`unknown patch type: ${goFmt(t)} in map: ${goFmt(m)}`);
export const goType = (v: unknown): string =>
  isObject(v)
    ? 'map[string]interface {}'
    : Array.isArray(v)
      ? '[]interface {}'
      : v === null
        ? '<nil>'
        : typeof v === 'number'
          ? 'float64'
          : typeof v === 'boolean'
            ? 'bool'
            : 'string';
export const badArgType = (expected: string, v: unknown) => new SmpError(`expected a ${expected}, but received a ${goType(v)}`);

export type Kind = 'map' | 'scalar';

/** sliceElementType: every element must have the same JSON type, and not be a list. */
export function elementKind(...lists: unknown[][]): Kind | undefined {
  let prev: string | undefined;
  for (const list of lists) {
    for (const v of list) {
      const t = goType(v);
      if (prev === undefined) {
        if (Array.isArray(v)) throw new SmpError('lists of lists are not supported');
        prev = t;
      } else if (prev !== t) {
        throw new SmpError(`list element types are not identical: ${goFmt(lists)}`);
      }
    }
  }
  return prev === undefined ? undefined : prev === 'map[string]interface {}' ? 'map' : 'scalar';
}

/** What index() compares items by: a map's merge-key value, or the item itself. */
export function keyOf(x: unknown, mergeKey: string, kind: Kind): unknown {
  return kind === 'map' ? (isObject(x) ? getOwn(x, mergeKey) : undefined) : x;
}

/**
 * index(), precomputed for a whole list: each key's first position. (Map keys compare as Go's
 * interface == does for JSON scalars; two maps or lists as keys never match, unless identical.)
 */
export function positions(list: unknown[], mergeKey: string, kind: Kind): Map<unknown, number> {
  const out = new Map<unknown, number>();
  list.forEach((x, i) => {
    const k = keyOf(x, mergeKey, kind);
    if (!out.has(k)) out.set(k, i);
  });
  return out;
}

export function validateMergeKeys(mergeKey: string, ...lists: unknown[][]): void {
  for (const list of lists) {
    for (const item of list) {
      if (!isObject(item)) throw badArgType('map[string]interface {}', item);
      if (!Object.hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
    }
  }
}

/**
 * The result of a stable insertion sort of `items` with Go's lenient less(a, b): "a before b"
 * when both are in `order` and a comes first there, and *always* when either is not in `order`.
 *
 * Items in `order` come out stably sorted by position. An item not in `order` is moved to the
 * front when it is inserted, and from then on stays just before the item that was first at that
 * moment (later items are inserted right after an item, never between it and what precedes it);
 * such items gathered before the same item keep reverse arrival order, and those that arrived
 * before any item in `order` end the list.
 */
function lenientStableSort(items: unknown[], pos: Map<unknown, number>, mergeKey: string, kind: Kind): unknown[] {
  const known: Array<{ item: unknown; at: number; seq: number }> = [];
  const before = new Map<number, unknown[]>(); // seq of the item they precede (-1: the end) -> items, in arrival order
  let first: { at: number; seq: number } | undefined;
  for (const item of items) {
    const at = pos.get(keyOf(item, mergeKey, kind));
    if (at === undefined) {
      const seq = first?.seq ?? -1;
      const block = before.get(seq);
      if (block) block.push(item);
      else before.set(seq, [item]);
      continue;
    }
    const entry = { item, at, seq: known.length };
    known.push(entry);
    if (!first || at < first.at) first = entry;
  }
  known.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const out: unknown[] = [];
  const flush = (seq: number) => {
    const block = before.get(seq);
    if (block) for (let i = block.length - 1; i >= 0; i--) out.push(block[i]);
  };
  for (const e of known) {
    flush(e.seq);
    out.push(e.item);
  }
  flush(-1);
  return out;
}

/** normalizeSliceOrder: sort `toSort` by `order` (stable, with Go's lenient less()); `$patch: delete` items last. */
export function normalizeSliceOrder(toSort: unknown[], order: unknown[], mergeKey: string, kind: Kind): unknown[] {
  let items = toSort;
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    validateMergeKeys(mergeKey, toSort, order);
    items = toSort.filter((v) => (v as JsonObject)[DIRECTIVE] !== 'delete');
    toDelete = toSort.filter((v) => (v as JsonObject)[DIRECTIVE] === 'delete');
  }
  return [...lenientStableSort(items, positions(order, mergeKey, kind), mergeKey, kind), ...toDelete];
}

/** mergeSortedSlice: interleave server-only items (left) with patch items (right). */
function mergeSorted(left: unknown[], right: unknown[], serverOrder: unknown[], mergeKey: string, kind: Kind): unknown[] {
  const pos = positions(serverOrder, mergeKey, kind);
  const at = (x: unknown): number => pos.get(keyOf(x, mergeKey, kind)) ?? -1;
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = at(left[i]);
      const ri = at(right[j]);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

export function normalizeElementOrder(
  patch: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: Kind,
): unknown[] {
  const p = normalizeSliceOrder(patch, patchOrder, mergeKey, kind);
  const s = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  return mergeSorted(s, p, serverOrder, mergeKey, kind);
}

/** Splits `merged` into items present in `by` and the rest (server-only). */
export function partition(merged: unknown[], by: unknown[], mergeKey: string, kind: Kind): [unknown[], unknown[]] {
  const inBy = positions(by, mergeKey, kind);
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const v of merged) {
    if (kind === 'map') {
      if (!isObject(v)) throw badArgType('map[string]interface {}', v);
      if (!Object.hasOwn(v, mergeKey)) throw noMergeKey(v, mergeKey);
    }
    (inBy.has(keyOf(v, mergeKey, kind)) ? inPatch : serverOnly).push(v);
  }
  return [inPatch, serverOnly];
}
