// The structural schema of every kind the API server serves, and the checks
// kube-apiserver makes with it on every write: unknown fields (an error, a warning or
// silently pruned, by fieldValidation) and JSON type errors.
//
// Sources, all upstream's rather than written here:
// - core/v1 and discovery.k8s.io/v1: @kubernetes/client-node's models, with required
//   fields, enums and quantities from kubernetes-models (core.ts);
// - Istio: Istio's own CRDs, generated into istio.gen.json (istio.ts);
// - KubeVirt: its published OpenAPI, generated into kubevirt.gen.json (kubevirt.ts);
// - NetworkAttachmentDefinition: its one-field spec, below.
// Each kind's schema is built and compiled the first time it is used, then cached.

import type { FieldError } from '../admission/field-errors.js';
import type { KubeObject } from '../admission/types.js';
import { coreKindSchema, objectMetaSchema } from './core.js';
import { ISTIO_KINDS, istioKindSchema } from './istio.js';
import { deepFreeze, kindSchema, type Schema } from './json-schema.js';
import { KUBEVIRT_GROUP, KUBEVIRT_VERSION, kubevirtKindSchema } from './kubevirt.js';
import { check, compile, type Findings, type Node, prune } from './walker.js';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface StructuralResult {
  /** Paths of fields the schema does not know, in kube-apiserver's notation: "spec.domain.bogusField", "spec.ports[0].bogus", "metadata.labelz". */
  unknownFields: string[];
  /** Type errors and missing required fields, as FieldErrors (field path notation as above). */
  errors: FieldError[];
}

const key = (group: string, version: string, kind: string) => `${group}/${version}/${kind}`;

const builders = new Map<string, () => Schema | undefined>();

const CORE: Record<string, string> = {
  Namespace: 'V1Namespace',
  Pod: 'V1Pod',
  Service: 'V1Service',
  Endpoints: 'V1Endpoints',
  Event: 'CoreV1Event',
  ConfigMap: 'V1ConfigMap',
  Secret: 'V1Secret',
  ServiceAccount: 'V1ServiceAccount',
  Node: 'V1Node',
};
for (const [kind, className] of Object.entries(CORE)) builders.set(key('', 'v1', kind), () => coreKindSchema(className));
builders.set(key('discovery.k8s.io', 'v1', 'EndpointSlice'), () => coreKindSchema('V1EndpointSlice'));
builders.set(key('k8s.cni.cncf.io', 'v1', 'NetworkAttachmentDefinition'), () =>
  // Multus' CRD: the spec is one string, the CNI configuration as JSON.
  kindSchema(objectMetaSchema(), { spec: { type: 'object', properties: { config: { type: 'string' } } } }),
);
for (const kind of ['VirtualMachineInstance', 'VirtualMachine']) {
  builders.set(key(KUBEVIRT_GROUP, KUBEVIRT_VERSION, kind), () => kubevirtKindSchema(kind));
}
for (const [kind, { group, versions }] of Object.entries(ISTIO_KINDS)) {
  for (const version of versions) builders.set(key(group, version, kind), () => istioKindSchema(group, version, kind));
}

interface Compiled {
  schema: Schema;
  node: Node;
}

const cache = new Map<string, Compiled>();

function compiled(gvk: GroupVersionKind): Compiled {
  const k = key(gvk.group, gvk.version, gvk.kind);
  let c = cache.get(k);
  if (!c) {
    const schema = builders.get(k)?.();
    if (!schema) throw new Error(`no schema for ${gvk.kind} in ${gvk.group ? `${gvk.group}/` : ''}${gvk.version}`);
    c = { schema: deepFreeze(schema), node: compile(schema) };
    cache.set(k, c);
  }
  return c;
}

/** True when the server knows this gvk. */
export function hasSchema(gvk: GroupVersionKind): boolean {
  return builders.has(key(gvk.group, gvk.version, gvk.kind));
}

/** Validate a whole object (apiVersion/kind/metadata/spec/status...) against its kind's schema. */
export function checkStructure(obj: KubeObject, gvk: GroupVersionKind): StructuralResult {
  const findings: Findings = { unknownFields: [], errors: [] };
  check(obj, compiled(gvk).node, '', findings);
  return findings;
}

/** A deep copy of obj with every unknown field removed (what the server stores when fieldValidation is Ignore/Warn). */
export function pruneUnknownFields(obj: KubeObject, gvk: GroupVersionKind): KubeObject {
  return prune(obj, compiled(gvk).node) as KubeObject;
}

/**
 * The JSON (OpenAPI v3 style) schema of the kind, self-contained (no $ref), for serving
 * under /openapi/v3. Throws for an unknown gvk. The schema is shared and frozen: copy
 * before changing it. Types shared between fields are shared objects in it.
 */
export function schemaFor(gvk: GroupVersionKind): Record<string, unknown> {
  return compiled(gvk).schema;
}
