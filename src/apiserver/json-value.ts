// Request bodies become plain JSON before anything else reads them: own-property
// objects (so keys like "__proto__" are ordinary data), finite numbers, no cycles, no
// Buffers or Dates, and bounded nesting. YAML can express all of those (anchors make
// cycles, .nan/.inf, !!binary); kube-apiserver's decoder refuses them too.

import { status } from './status.js';

/** Deeper than any Kubernetes object needs; recursive code past the parser stays far from the stack limit. */
export const MAX_BODY_DEPTH = 1000;

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy of `input` as plain JSON, or a 400 saying what is wrong with it. Iterative: no stack limit of its own. */
export function toJsonValue(input: unknown): unknown {
  const bad = (why: string) => status.badRequest(`the body of the request could not be decoded: ${why}`);
  const root: { value?: unknown } = {};
  // Each task copies one value into a slot; `path` holds the objects being copied above it (cycle check).
  const tasks: Array<{ value: unknown; set: (v: unknown) => void; depth: number; path: Set<object> }> = [
    { value: input, set: (v) => (root.value = v), depth: 0, path: new Set() },
  ];
  while (tasks.length > 0) {
    const { value, set, depth, path } = tasks.pop() as (typeof tasks)[number];
    if (value === null || typeof value === 'string' || typeof value === 'boolean') {
      set(value);
      continue;
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw bad(`${value} is not a JSON number`);
      set(value);
      continue;
    }
    if (typeof value !== 'object') throw bad(`a ${typeof value} is not a JSON value`);
    if (depth >= MAX_BODY_DEPTH) throw bad(`the object nests deeper than ${MAX_BODY_DEPTH} levels`);
    if (path.has(value)) throw bad('the document refers to itself (a cycle)');
    const inner = new Set(path).add(value);
    if (Array.isArray(value)) {
      const out: unknown[] = new Array(value.length);
      set(out);
      for (const [i, item] of value.entries()) tasks.push({ value: item, set: (v) => (out[i] = v), depth: depth + 1, path: inner });
      continue;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw bad(`a ${proto?.constructor?.name ?? 'non-plain'} value is not JSON`);
    const out: Record<string, unknown> = {};
    set(out);
    for (const key of Object.keys(value)) {
      setOwn(out, key, null); // in order now; the value is filled in when its task runs
      tasks.push({ value: (value as Record<string, unknown>)[key], set: (v) => setOwn(out, key, v), depth: depth + 1, path: inner });
    }
  }
  return root.value;
}
