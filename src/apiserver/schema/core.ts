// Schemas of the built-in kinds (core/v1, discovery.k8s.io/v1) and of ObjectMeta,
// built from maintained packages rather than written by hand:
// - the fields and their JSON types come from @kubernetes/client-node's generated
//   models (`attributeTypeMap`: JSON name, TypeScript type, OpenAPI format);
// - which fields are required, which strings are enums, and which strings are really
//   resource quantities come from kubernetes-models' compiled validators, read by
//   asking them: validating `{}` names the required fields, a property set to a value
//   no enum holds names the allowed values, a number where client-node says string
//   passes only for a Quantity.

import { createRequire } from 'node:module';
import { integerSchema, intOrStringSchema, kindSchema, preservedObjectSchema, quantitySchema, type Schema, stringSchema } from './json-schema.js';

const require = createRequire(import.meta.url);

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}

interface ModelClass {
  attributeTypeMap: Attribute[];
}

/**
 * One generated model of client-node. Each model is a small ES module of its own;
 * loading just the ones a kind needs keeps startup fast (the package's index pulls in
 * ~750 models, and on Node 20 its HTTP client fails to load at all). Requiring an ES
 * module needs Node >= 20.19.
 */
function modelClass(name: string): ModelClass | undefined {
  if (!process.features.require_module) {
    throw new Error('virtmesh needs Node.js >= 20.19 (require() of ES modules) to load the Kubernetes schemas');
  }
  try {
    const mod = require(`@kubernetes/client-node/dist/gen/models/${name}.js`) as Record<string, ModelClass | undefined>;
    return mod[name];
  } catch (err) {
    if ((err as { code?: string }).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** What kubernetes-models' validator of one definition says beyond the JSON types. */
interface Facts {
  required: string[];
  enums: Map<string, string[]>;
  itemEnums: Map<string, string[]>;
  quantities: Set<string>;
}

type ValidatingModel = new (data: Record<string, unknown>) => { validate(): void };

interface AjvError {
  instancePath: string;
  keyword: string;
  params: { missingProperty?: string; allowedValues?: unknown[] };
}

// kubernetes-models' own copy of @kubernetes-models/apimachinery is the one that
// carries validators for the meta types.
const kmRequire = createRequire(require.resolve('kubernetes-models'));

/** client-node's name (V1ServicePort, CoreV1EndpointPort, DiscoveryV1EndpointPort) -> kubernetes-models' model. */
function validatingModel(className: string): ValidatingModel | undefined {
  const m = /^(Core|Discovery)?V1(\w+)$/.exec(className);
  if (!m) return undefined;
  const [, group, name] = m;
  const candidates = {
    Core: [`kubernetes-models/v1/${name}`],
    Discovery: [`kubernetes-models/discovery.k8s.io/v1/${name}`],
    '': [`kubernetes-models/v1/${name}`, `kubernetes-models/discovery.k8s.io/v1/${name}`, `@kubernetes-models/apimachinery/apis/meta/v1/${name}`],
  }[group ?? ''];
  for (const id of candidates ?? []) {
    try {
      const model = (kmRequire(id) as Record<string, ValidatingModel | undefined>)[name];
      if (model) return model;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
    }
  }
  return undefined;
}

function validationErrors(model: ValidatingModel, data: Record<string, unknown>): AjvError[] {
  try {
    new model(data).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!Array.isArray(errors)) throw err;
    return errors;
  }
}

/** Names core/v1 gives its ResourceList (name -> Quantity) fields, for fields newer than kubernetes-models. */
const RESOURCE_LISTS = new Set(['limits', 'requests', 'overhead', 'allocatedResources', 'capacity', 'allocatable', 'hard', 'used']);

const paths = (errors: AjvError[]) => new Set(errors.map((e) => e.instancePath));

/** A string no enum allows and no format accepts. */
const NOT_A_VALUE = '\u0000';

function probe(className: string, attributes: Attribute[]): Facts {
  const facts: Facts = { required: [], enums: new Map(), itemEnums: new Map(), quantities: new Set() };
  const model = validatingModel(className);
  if (!model) return facts;
  for (const e of validationErrors(model, {})) {
    if (e.keyword === 'required' && e.instancePath === '' && e.params.missingProperty) facts.required.push(e.params.missingProperty);
  }
  const strings = attributes.filter((a) => a.type === 'string').map((a) => a.baseName);
  const stringLists = attributes.filter((a) => a.type === 'Array<string>').map((a) => a.baseName);
  const stringMaps = attributes.filter((a) => a.type === '{ [key: string]: string; }').map((a) => a.baseName);
  // Enums: every string holds NOT_A_VALUE. Quantity maps: every map holds a number.
  const odd: Record<string, unknown> = {};
  for (const p of strings) odd[p] = NOT_A_VALUE;
  for (const p of stringLists) odd[p] = [NOT_A_VALUE];
  for (const p of stringMaps) odd[p] = { [NOT_A_VALUE]: 1 };
  const complaints = new Set<string>();
  for (const e of validationErrors(model, odd)) {
    complaints.add(e.instancePath);
    const allowed = e.keyword === 'enum' ? e.params.allowedValues?.map(String) : undefined;
    if (!allowed) continue;
    const [, prop, item] = e.instancePath.split('/');
    if (item === undefined) facts.enums.set(prop, allowed);
    else if (item === '0') facts.itemEnums.set(prop, allowed);
  }
  // Quantity scalars: every string holds a number. A field kubernetes-models does
  // not know (it follows an older Kubernetes) accepts anything, so a quantity must
  // also be seen to reject a boolean.
  const rejected = paths(validationErrors(model, Object.fromEntries(strings.map((p) => [p, 1]))));
  const known = paths(validationErrors(model, Object.fromEntries([...strings, ...stringMaps].map((p) => [p, true]))));
  for (const p of strings) if (known.has(`/${p}`) && !rejected.has(`/${p}`)) facts.quantities.add(p);
  for (const p of stringMaps) {
    const quantities = known.has(`/${p}`) ? !complaints.has(`/${p}/${NOT_A_VALUE}`) : RESOURCE_LISTS.has(p);
    if (quantities) facts.quantities.add(p);
  }
  return facts;
}

/**
 * Fields the OpenAPI marks required (a Go field without omitempty) that kube-apiserver
 * accepts absent: an EndpointSlice of a Service with no ready pods has no endpoints.
 */
const NOT_REQUIRED: Record<string, string[] | undefined> = { V1EndpointSlice: ['endpoints'] };

const built = new Map<string, Schema>();
const building = new Set<string>();

/** The schema of one client-node model, shared by every field of that type. */
export function classSchema(className: string): Schema {
  const done = built.get(className);
  if (done) return done;
  // No type the served kinds reach is recursive; should one become so, its inner
  // occurrence accepts any object rather than looping.
  if (building.has(className)) return preservedObjectSchema();
  const cls = modelClass(className);
  if (!cls) throw new Error(`@kubernetes/client-node has no model ${className}`);
  building.add(className);
  try {
    const facts = probe(className, cls.attributeTypeMap);
    const properties: Record<string, Schema> = {};
    for (const a of cls.attributeTypeMap) properties[a.baseName] = attributeSchema(a, facts);
    const schema: Schema = { type: 'object', properties };
    const required = facts.required.filter((r) => Object.hasOwn(properties, r) && !NOT_REQUIRED[className]?.includes(r));
    if (required.length > 0) schema.required = required;
    built.set(className, schema);
    return schema;
  } finally {
    building.delete(className);
  }
}

function attributeSchema(a: Attribute, facts: Facts): Schema {
  const quantity = facts.quantities.has(a.baseName);
  const schema = typeSchema(a.type, a.format, quantity);
  const enumValues = facts.enums.get(a.baseName);
  if (enumValues && schema.type === 'string') return { ...schema, enum: enumValues };
  const itemEnum = facts.itemEnums.get(a.baseName);
  if (itemEnum && schema.items?.type === 'string') return { ...schema, items: { ...schema.items, enum: itemEnum } };
  return schema;
}

/** A client-node TypeScript type ("Array<V1Container>", "{ [key: string]: string; }", "number"...) as a schema. */
function typeSchema(type: string, format: string, quantity: boolean): Schema {
  const list = /^Array<(.+)>$/.exec(type);
  if (list) return { type: 'array', items: typeSchema(list[1], format, quantity) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return { type: 'object', additionalProperties: typeSchema(map[1], format, quantity) };
  switch (type) {
    case 'string':
      if (quantity) return quantitySchema();
      return format ? { type: 'string', format } : stringSchema();
    case 'number':
      return format === 'int32' || format === 'int64' ? integerSchema(format) : { type: 'number', format: format || 'double' };
    case 'boolean':
      return { type: 'boolean' };
    case 'Date':
    case 'V1MicroTime':
      return { type: 'string', format: 'date-time' };
    case 'IntOrString':
      return intOrStringSchema();
    case 'object':
      return preservedObjectSchema();
    case 'any':
      // FieldsV1 and the like: any JSON value.
      return { 'x-kubernetes-preserve-unknown-fields': true };
    default:
      return classSchema(type);
  }
}

/** ObjectMeta, as every kind (built-in or custom) uses it. */
export function objectMetaSchema(): Schema {
  return classSchema('V1ObjectMeta');
}

/** A built-in kind's schema: V1Pod, CoreV1Event, V1EndpointSlice... */
export function coreKindSchema(className: string): Schema {
  const schema = classSchema(className);
  // The API server takes apiVersion, kind and metadata from the request path and fills
  // them in itself, so they are never "required" in the body.
  const required = (schema.required ?? []).filter((r) => r !== 'apiVersion' && r !== 'kind' && r !== 'metadata');
  const properties = { ...schema.properties };
  // kube-apiserver checks a built-in kind with Go code, not with its OpenAPI: a status
  // (kubelet's, a controller's) need not carry every field the OpenAPI calls required.
  if (properties.status) properties.status = withoutRequired(properties.status);
  return kindSchema(objectMetaSchema(), properties, required);
}

const relaxed = new WeakMap<Schema, Schema>();

/** A copy of a schema tree without `required`, sharing what it shared. */
function withoutRequired(s: Schema): Schema {
  const done = relaxed.get(s);
  if (done) return done;
  const { required: _, ...copy } = s;
  relaxed.set(s, copy);
  if (s.properties) copy.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, withoutRequired(v)]));
  if (s.items) copy.items = withoutRequired(s.items);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') copy.additionalProperties = withoutRequired(s.additionalProperties);
  return copy;
}
