// The one schema shape every source (client-node models, Istio's CRDs, KubeVirt's
// OpenAPI) is turned into: OpenAPI v3 as a CRD's openAPIV3Schema writes it, with
// kube's structural extensions. Sub-schemas may be shared between parents (a DAG,
// never a cycle), so a schema serialises without `$ref`.

export interface Schema {
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  /** A map: every key allowed, each value checked against this schema. */
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  oneOf?: Schema[];
  anyOf?: Schema[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  [extension: string]: unknown;
}

export const stringSchema = (): Schema => ({ type: 'string' });

/** int32/int64 fields; kube's type names distinguish integer from number. */
export const integerSchema = (format?: string): Schema => (format ? { type: 'integer', format } : { type: 'integer' });

/** IntOrString, written as controller-gen writes it into a CRD. */
export const intOrStringSchema = (): Schema => ({
  'x-kubernetes-int-or-string': true,
  anyOf: [{ type: 'integer' }, { type: 'string' }],
});

/**
 * resource.Quantity as kube-apiserver's own OpenAPI v3 serves it (`oneOf` string or
 * number): "1024M", "0.5" and 2 are all quantities.
 */
export const quantitySchema = (): Schema => ({ oneOf: [{ type: 'string' }, { type: 'number' }], format: 'quantity' });

/** An object whose content is not described (a CRD's status, RawExtension, FieldsV1). */
export const preservedObjectSchema = (): Schema => ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });

export const stringMapSchema = (): Schema => ({ type: 'object', additionalProperties: { type: 'string' } });

/**
 * A kind's top-level schema: apiVersion, kind and metadata are always known, metadata
 * is the shared ObjectMeta, the rest comes from the kind's own schema.
 */
export function kindSchema(objectMeta: Schema, fields: Record<string, Schema>, required: string[] = []): Schema {
  const schema: Schema = {
    type: 'object',
    properties: { apiVersion: stringSchema(), kind: stringSchema(), metadata: objectMeta, ...withoutTypeMeta(fields) },
  };
  if (required.length > 0) schema.required = required;
  return schema;
}

function withoutTypeMeta(fields: Record<string, Schema>): Record<string, Schema> {
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = fields;
  return rest;
}

/** Freezes a schema tree, so one cached instance can be handed to every caller. */
export function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v, seen);
  return Object.freeze(value);
}
