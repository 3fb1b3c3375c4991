/** Small JSON helpers shared by the patch implementations. */

export type JsonObject = { [k: string]: unknown };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `o[k]` if `o` has it as an own property, else undefined. Patches carry user-chosen keys, and
 * `o['__proto__']` (or `o['constructor']`) would otherwise read Object.prototype (or Object).
 */
export function getOwn(o: JsonObject, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

/**
 * Sets `o[k] = v` as an own enumerable data property, so that `__proto__`, `constructor` and the
 * like are ordinary keys (assigning `o.__proto__` would call Object.prototype's setter instead).
 * Keys nothing inherits take the fast plain assignment.
 */
export function setOwn(o: JsonObject, k: string, v: unknown): void {
  if (k in o && !Object.hasOwn(o, k)) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (structuredClone(v) as T);
}

/** Structural equality of decoded JSON values (a key holding `undefined` counts as absent). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The name Go's encoding/json uses for a JSON value's type in "cannot unmarshal X" errors. */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

/** Go's %v for a float64 (strconv 'g' with shortest precision: exponent form from 1e+06). */
function goFloat(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  if (n === 0) return '0';
  const [mant, e] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    return `${mant}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(n);
}

/** Go's fmt %v rendering of a value decoded from JSON into interface{} (used in kube error texts). */
export function goFmt(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goFmt).join(' ')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goFmt(v[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** Go's %q for a string (close enough: JSON string escaping). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
