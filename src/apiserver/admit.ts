// The admission chain every write passes, in kube-apiserver's order:
// decode checks (kind, unknown fields, types) -> defaults -> built-in validation
// -> the checks real clusters run as validating webhooks (KubeVirt, Istio).
// Nothing is stored unless the whole chain passes.

import { fieldErrorMessage } from './admission/field-errors.js';
import { applyDefaults, validateObjectMeta, validatorsFor } from './admission/index.js';
import type { AdmissionContext, KubeObject } from './admission/types.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { checkStructure, pruneUnknownFields } from './schema/index.js';
import { status } from './status.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function parseFieldValidation(v: string | null): FieldValidation {
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw status.badRequest(`fieldValidation parameter unsupported: ${v}; valid values are Ignore, Warn, Strict`);
}

/** Checks apiVersion/kind against the endpoint the object was sent to. */
export function checkTypeMeta(def: ResourceDef, version: string, obj: KubeObject): void {
  const expected = apiVersionOf(def.group, version);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw status.badRequest(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
  }
  if (obj.kind !== undefined && obj.kind !== def.kind) {
    throw status.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${def.kind})`);
  }
  if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
    throw status.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expected})`);
  }
}

/**
 * Decoding as kube-apiserver does it: unknown fields are an error (Strict), a warning
 * (Warn) or silently dropped (Ignore); wrong JSON types are always an error.
 * Returns the object as it will be stored, without unknown fields.
 */
export function decode(def: ResourceDef, version: string, obj: KubeObject, mode: FieldValidation, warnings: string[]): KubeObject {
  const gvk = { group: def.group, version, kind: def.kind };
  const result = checkStructure(obj, gvk);
  if (result.errors.length > 0) {
    throw status.invalid({ group: def.group, resource: def.plural, kind: def.kind, name: obj.metadata?.name }, result.errors);
  }
  if (result.unknownFields.length === 0) return obj;
  const list = result.unknownFields.map((f) => `unknown field "${f}"`);
  if (mode === 'Strict') {
    throw status.badRequest(`${def.kind} in version "${version}" cannot be handled as a ${def.kind}: strict decoding error: ${list.join(', ')}`);
  }
  if (mode === 'Warn') warnings.push(...list);
  return pruneUnknownFields(obj, gvk);
}

export function defaults(def: ResourceDef, obj: KubeObject): void {
  applyDefaults(def.group, def.kind, obj);
}

/** Built-in validation (422 Invalid), then webhook-style checks (denials). */
export function validate(def: ResourceDef, obj: KubeObject, ctx: AdmissionContext): void {
  const target = { group: def.group, resource: def.plural, kind: def.kind, name: obj.metadata?.name };
  const validators = validatorsFor(def.group, def.kind);
  const builtIn = [
    ...validateObjectMeta(obj, { namespaced: def.namespaced, nameRule: def.nameRule }),
    ...validators.filter((v) => !v.webhook).flatMap((v) => v.validate(obj, ctx)),
  ];
  if (builtIn.length > 0) throw status.invalid(target, builtIn);
  for (const v of validators) {
    if (!v.webhook) continue;
    const errs = v.validate(obj, ctx);
    if (errs.length === 0) continue;
    const text = errs.map(fieldErrorMessage).join(', ');
    const istio = v.webhook === 'validation.istio.io';
    throw status.denied(v.webhook, istio ? `configuration is invalid: ${text}` : text, errs, !istio);
  }
}
