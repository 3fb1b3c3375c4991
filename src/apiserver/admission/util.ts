// Small helpers for reading untyped JSON objects safely.

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** The value as an object, or an empty one (read-only use). */
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
/** The value as an array, or an empty one (read-only use). */
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
/** Present and not null. */
export const has = (o: Obj, k: string): boolean => o[k] !== undefined && o[k] !== null;
export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Makes sure `o[k]` is an object and returns it (for defaulting). */
export function ensureObj(o: Obj, k: string): Obj {
  if (!isObj(o[k])) o[k] = {};
  return o[k] as Obj;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** Dotted paths of the leaves where two JSON values differ (for update diffs). */
export function diffPaths(a: unknown, b: unknown, path: string, out: string[] = [], limit = 10): string[] {
  if (out.length >= limit || deepEqual(a, b)) return out;
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diffPaths(a[k], b[k], `${path}.${k}`, out, limit);
  } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => {
      diffPaths(x, b[i], `${path}[${i}]`, out, limit);
    });
  } else {
    out.push(path);
  }
  return out;
}
