// ObjectMeta validation as apimachinery's ValidateObjectMeta does it, for every kind.

import { splitApiVersion } from '../resources.js';
import { type FieldError, fieldError } from './field-errors.js';
import { invalidEach, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isQualifiedName, validateLabels } from './names.js';
import type { KubeObject } from './types.js';

export type NameRule = 'subdomain' | 'label' | 'dns1035';

/** Total size of all annotation keys and values: 256 KiB. */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

const nameCheck: Record<NameRule, (v: string) => string[]> = {
  subdomain: isDNS1123Subdomain,
  label: isDNS1123Label,
  dns1035: isDNS1035Label,
};

/** generateName may end in '-': kube masks a trailing dash before checking. */
const maskTrailingDash = (name: string) => (name.length > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name);

const standardFinalizers = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

/**
 * Checks metadata the way kube-apiserver does for every object. Services are named by
 * DNS-1035 labels in Kubernetes (ValidateServiceName), so a `label` rule on a Service
 * is checked as DNS-1035 (must start with a letter), with kube's message for it.
 */
export function validateObjectMeta(obj: KubeObject, opts: { namespaced: boolean; nameRule: NameRule }): FieldError[] {
  const errs: FieldError[] = [];
  const meta = obj.metadata ?? {};
  let rule = opts.nameRule;
  if (rule === 'label' && obj.kind === 'Service' && (obj.apiVersion === undefined || obj.apiVersion === 'v1')) rule = 'dns1035';
  const check = nameCheck[rule];

  const generateName = typeof meta.generateName === 'string' ? meta.generateName : '';
  if (generateName) {
    errs.push(...invalidEach('metadata.generateName', generateName, check(maskTrailingDash(generateName))));
  }
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (!name) {
    if (!generateName) errs.push(fieldError.required('metadata.name', 'name or generateName is required'));
  } else {
    errs.push(...invalidEach('metadata.name', name, check(name)));
  }

  if (opts.namespaced) {
    const ns = typeof meta.namespace === 'string' ? meta.namespace : '';
    if (!ns) errs.push(fieldError.required('metadata.namespace'));
    else errs.push(...invalidEach('metadata.namespace', ns, isDNS1123Label(ns)));
  }
  // A namespace on a cluster-scoped object is not an error: kube-apiserver clears it before validating.

  errs.push(...validateLabels(meta.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(meta.annotations, 'metadata.annotations'));
  errs.push(...validateFinalizers(meta.finalizers, 'metadata.finalizers'));
  errs.push(...validateOwnerReferences(meta.ownerReferences, 'metadata.ownerReferences'));
  return errs;
}

/** apimachinery's ValidateOwnerReferences: every part of a reference set, Events never owners, one controller. */
export function validateOwnerReferences(refs: unknown, path: string): FieldError[] {
  if (!Array.isArray(refs)) return [];
  const errs: FieldError[] = [];
  let firstController = '';
  for (const ref of refs as Array<Record<string, unknown>>) {
    const text = (k: string) => (typeof ref?.[k] === 'string' ? (ref[k] as string) : '');
    const apiVersion = text('apiVersion');
    const { version } = splitApiVersion(apiVersion);
    if (!version) errs.push(fieldError.invalid(`${path}.apiVersion`, apiVersion, 'version must not be empty'));
    if (!text('kind')) errs.push(fieldError.invalid(`${path}.kind`, text('kind'), 'kind must not be empty'));
    if (!text('name')) errs.push(fieldError.invalid(`${path}.name`, text('name'), 'name must not be empty'));
    if (!text('uid')) errs.push(fieldError.invalid(`${path}.uid`, text('uid'), 'uid must not be empty'));
    if (apiVersion === 'v1' && text('kind') === 'Event') errs.push(fieldError.invalid(path, ref, '/v1, Kind=Event is disallowed from being an owner'));
    if (ref?.controller === true) {
      const current = `${text('kind')}/${text('name')}`;
      if (firstController) {
        errs.push(
          fieldError.invalid(
            path,
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`,
          ),
        );
      } else firstController = current;
    }
  }
  return errs;
}

export function validateAnnotations(annotations: unknown, path: string): FieldError[] {
  if (typeof annotations !== 'object' || annotations === null) return [];
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    // QualifiedName, except that case does not matter.
    errs.push(...invalidEach(path, k, isQualifiedName(k.toLowerCase())));
    size += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) errs.push(fieldError.tooLong(path, '', TOTAL_ANNOTATION_SIZE_LIMIT));
  return errs;
}

/** A finalizer is a qualified name; a bare name must be one of the standard ones. */
export function validateFinalizerName(name: string, path: string): FieldError[] {
  const errs = invalidEach(path, name, isQualifiedName(name));
  if (errs.length === 0 && !name.includes('/') && !standardFinalizers.has(name)) {
    errs.push(fieldError.invalid(path, name, 'name is neither a standard finalizer name nor is it fully qualified'));
  }
  return errs;
}

export function validateFinalizers(finalizers: unknown, path: string): FieldError[] {
  if (!Array.isArray(finalizers)) return [];
  const errs: FieldError[] = [];
  for (const f of finalizers) if (typeof f === 'string') errs.push(...validateFinalizerName(f, path));
  if (finalizers.includes('orphan') && finalizers.includes('foregroundDeletion')) {
    errs.push(fieldError.invalid(path, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return errs;
}
