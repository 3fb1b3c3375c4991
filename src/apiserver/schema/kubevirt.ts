// Schemas of KubeVirt's kinds, from kubevirt.gen.json: KubeVirt's published OpenAPI,
// cut down and made structural by scripts/gen-kubevirt-schema.mjs (no npm package
// carries it). Here its `$ref`s are resolved into one shared tree per definition.

import { objectMetaSchema } from './core.js';
import { kindSchema, type Schema } from './json-schema.js';
import generated from './kubevirt.gen.json' with { type: 'json' };

interface Generated {
  roots: Record<string, string>;
  objectMeta: string;
  definitions: Record<string, Schema>;
}

const gen = generated as unknown as Generated;
const REF = '#/definitions/';
const resolved = new Map<string, Schema>();

function definition(name: string): Schema {
  if (name === gen.objectMeta) return objectMetaSchema();
  const done = resolved.get(name);
  if (done) return done;
  const raw = gen.definitions[name];
  if (!raw) throw new Error(`kubevirt.gen.json has no definition ${name}`);
  // Registered before its children resolve, so a (so far hypothetical) recursive
  // definition would point back at itself instead of looping.
  const schema: Schema = {};
  resolved.set(name, schema);
  Object.assign(schema, resolve(raw));
  return schema;
}

function resolve(s: Schema): Schema {
  if (typeof s.$ref === 'string') return definition(s.$ref.slice(REF.length));
  const out: Schema = { ...s };
  if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, resolve(v)]));
  if (s.items) out.items = resolve(s.items);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') out.additionalProperties = resolve(s.additionalProperties);
  if (s.oneOf) out.oneOf = s.oneOf.map(resolve);
  if (s.anyOf) out.anyOf = s.anyOf.map(resolve);
  return out;
}

export const KUBEVIRT_GROUP = 'kubevirt.io';
export const KUBEVIRT_VERSION = 'v1';

export function kubevirtKindSchema(kind: string): Schema | undefined {
  const root = Object.hasOwn(gen.roots, kind) ? gen.roots[kind] : undefined;
  if (!root) return undefined;
  const schema = definition(root);
  return kindSchema(objectMetaSchema(), schema.properties ?? {}, schema.required ?? []);
}
