/** RFC 7386 JSON merge patch, as evanphx/json-patch's MergePatch applies it for kube. */
import type { KubeObject } from '../admission/types.js';
import { badRequest } from './errors.js';
import { clone, getOwn, isObject, type JsonObject, setOwn } from './util.js';

/** Drops null-valued keys from objects, recursively (arrays keep their null elements). */
export function pruneNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(pruneNulls);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) setOwn(out, k, pruneNulls(x));
  return out;
}

function mergeInto(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return pruneNulls(clone(patch));
  const out: JsonObject = isObject(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    // Own keys only: `__proto__` is a key like any other (reading it must not reach Object.prototype).
    if (v === null) delete out[k];
    else if (v !== undefined) setOwn(out, k, mergeInto(getOwn(out, k), v));
  }
  return out;
}

/** Applies a JSON merge patch to a copy of `obj`: objects merge, null deletes, anything else replaces. */
export function applyMergePatch(obj: KubeObject, patch: unknown): KubeObject {
  // A patch that is not an object (null, a scalar, an array) is evanphx's ErrBadJSONPatch.
  if (!isObject(patch)) throw badRequest('Invalid JSON Patch');
  return mergeInto(clone(obj), patch) as KubeObject;
}
