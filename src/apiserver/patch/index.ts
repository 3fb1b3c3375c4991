/**
 * Every patch kind kube-apiserver accepts, with its semantics and error texts:
 * JSON patch (RFC 6902), JSON merge patch (RFC 7386), strategic merge patch and server-side
 * apply, plus the managedFields bookkeeping of non-apply writes.
 */

export { type ApplyOptions, BEFORE_FIRST_APPLY, serverSideApply } from './apply.js';
export { PatchError, type PatchErrorCause, type PatchErrorReason, type PatchErrorStatus } from './errors.js';
export { applyJsonPatch } from './json-patch.js';
export { recordUpdate } from './managed-fields.js';
export { applyMergePatch } from './merge-patch.js';
export { type GroupKind, KIND_RULES, type ListRule, METADATA_LISTS } from './schema.js';
export { applyStrategicMergePatch } from './strategic.js';

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

const CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/**
 * The patch type a request's Content-Type names (parameters such as `; charset=utf-8` ignored),
 * or undefined for anything else, application/apply-patch+cbor included.
 */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  if (!contentType) return undefined;
  const media = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return CONTENT_TYPES[media];
}
