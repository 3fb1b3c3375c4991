// Checking and pruning a JSON value against a structural schema, the way
// kube-apiserver treats custom resources: an object with `properties` is closed
// (other keys are unknown fields) unless it is a map (`additionalProperties`) or says
// `x-kubernetes-preserve-unknown-fields`; types are JSON's, with integer apart from
// number; null stands for "absent" where a field is optional.
//
// Schemas are compiled once into plain nodes, so a check is one walk of the object.

import { child, type FieldError, fieldError, index } from '../admission/field-errors.js';
import type { Schema } from './json-schema.js';

/** A node's kind; 'union' is one of several JSON types (int-or-string, quantities). */
type T = 'any' | 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'union';

export interface Node {
  t: T;
  nullable: boolean;
  /** The expected type as the error message names it: "integer", "object", "integer,string". */
  typeName: string;
  props: Map<string, Node> | undefined;
  /** A map's value schema. */
  additional: Node | undefined;
  preserve: boolean;
  required: readonly string[];
  items: Node | undefined;
  enumValues: readonly unknown[] | undefined;
  /** For 'union': the JSON types accepted ("number" accepts integers too). */
  union: readonly string[];
  /** For 'integer': the largest magnitude the format holds (int32, or int64 as far as JSON numbers are exact). */
  maxMagnitude: number;
}

export interface Findings {
  unknownFields: string[];
  errors: FieldError[];
}

const compiled = new WeakMap<Schema, Node>();
const ANY: Node = makeNode('any', '');

function makeNode(t: T, typeName: string): Node {
  return {
    t,
    typeName,
    nullable: false,
    props: undefined,
    additional: undefined,
    preserve: false,
    required: [],
    items: undefined,
    enumValues: undefined,
    union: [],
    maxMagnitude: Number.MAX_SAFE_INTEGER,
  };
}

const NON_OBJECT_TYPES = new Set<string>(['string', 'integer', 'number', 'boolean', 'array']);

/** The JSON types of `oneOf: [{type: string}, {type: number}]`, or undefined if the branches say more than a type. */
function branchTypes(branches: Schema[] | undefined): string[] | undefined {
  if (!branches || branches.length === 0) return undefined;
  const types: string[] = [];
  for (const b of branches) {
    if (typeof b.type !== 'string' || Object.keys(b).some((k) => k !== 'type' && k !== 'format')) return undefined;
    types.push(b.type);
  }
  return types;
}

/** Compiles a schema (memoised per schema object, so shared definitions compile once). */
export function compile(schema: Schema): Node {
  const done = compiled.get(schema);
  if (done) return done;
  const union = schema['x-kubernetes-int-or-string']
    ? ['integer', 'string']
    : Array.isArray(schema.type)
      ? (schema.type as string[])
      : schema.type === undefined
        ? (branchTypes(schema.oneOf) ?? branchTypes(schema.anyOf))
        : undefined;
  let node: Node;
  if (union) {
    node = makeNode('union', union.join(','));
    node.union = union;
  } else {
    const isObject = schema.type === 'object' || (schema.type === undefined && (schema.properties !== undefined || schema.additionalProperties !== undefined));
    const t: T = isObject ? 'object' : schema.type !== undefined && NON_OBJECT_TYPES.has(schema.type) ? (schema.type as T) : 'any';
    node = makeNode(t, t === 'any' ? '' : (schema.type ?? 'object'));
  }
  node.nullable = schema.nullable === true;
  if (schema.format === 'int32') node.maxMagnitude = 2 ** 31 - 1;
  node.preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (Array.isArray(schema.enum)) node.enumValues = schema.enum;
  if (Array.isArray(schema.required)) node.required = schema.required;
  compiled.set(schema, node);
  if (node.t === 'object') {
    const ap = schema.additionalProperties;
    if (ap === true) node.additional = ANY;
    else if (ap && typeof ap === 'object') node.additional = compile(ap);
    const props = Object.entries(schema.properties ?? {});
    if (props.length > 0) node.props = new Map(props.map(([k, s]) => [k, compile(s)]));
  } else if (node.t === 'array') {
    node.items = schema.items ? compile(schema.items) : ANY;
  }
  return node;
}

/** kube-openapi's name for a value's JSON type. */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeMatches(node: Node, v: unknown): boolean {
  switch (node.t) {
    case 'any':
      return true;
    case 'object':
      return isPlainObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'union': {
      const actual = jsonType(v);
      return node.union.includes(actual) || (actual === 'integer' && node.union.includes('number'));
    }
  }
}

function typeError(path: string, node: Node, v: unknown): FieldError {
  const actual = jsonType(v);
  // kube-apiserver reports the value's type as the bad value:
  // `Invalid value: "string": spec.x in body must be of type integer: "string"`.
  return fieldError.typeInvalid(path, actual, `${path} in body must be of type ${node.typeName}: "${actual}"`);
}

/** Checks a value (never null: callers decide what null means where it stands). */
export function check(v: unknown, node: Node, path: string, out: Findings): void {
  if (!typeMatches(node, v)) {
    out.errors.push(typeError(path, node, v));
    return;
  }
  switch (node.t) {
    case 'object':
      checkObject(v as Record<string, unknown>, node, path, out);
      return;
    case 'array': {
      const items = node.items ?? ANY;
      const list = v as unknown[];
      for (let i = 0; i < list.length; i++) {
        const item = list[i];
        if (item === null || item === undefined) {
          if (!items.nullable && items.t !== 'any') out.errors.push(typeError(index(path, i), items, null));
        } else check(item, items, index(path, i), out);
      }
      return;
    }
    default:
      if (node.t === 'integer' && Math.abs(v as number) > node.maxMagnitude) {
        const bits = node.maxMagnitude === 2 ** 31 - 1 ? 32 : 64;
        out.errors.push(fieldError.invalid(path, v, `must fit in a ${bits}-bit integer`));
      }
      if (node.enumValues && !node.enumValues.includes(v)) {
        out.errors.push(
          fieldError.notSupported(
            path,
            v,
            node.enumValues.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))),
          ),
        );
      }
  }
}

function checkObject(obj: Record<string, unknown>, node: Node, path: string, out: Findings): void {
  for (const name of node.required) {
    const value = obj[name];
    if (value === undefined || (value === null && !node.props?.get(name)?.nullable)) out.errors.push(fieldError.required(child(path, name)));
  }
  const { props, additional, preserve } = node;
  for (const key in obj) {
    const value = obj[key];
    const known = props?.get(key) ?? additional;
    if (known === undefined) {
      if (!preserve) out.unknownFields.push(child(path, key));
      continue;
    }
    // Go's decoder reads a null as the zero value: an optional field left out.
    if (value === null || value === undefined) continue;
    check(value, known, child(path, key), out);
  }
}

/** A deep copy of `v` without the fields `node` does not know. */
export function prune(v: unknown, node: Node): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const items = node.t === 'array' ? (node.items ?? ANY) : undefined;
    return v.map((item) => (items ? prune(item, items) : structuredClone(item)));
  }
  if (node.t !== 'object') return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const key in v) {
    const value = (v as Record<string, unknown>)[key];
    const known = node.props?.get(key) ?? node.additional;
    if (known) setOwn(out, key, prune(value, known));
    else if (node.preserve) setOwn(out, key, structuredClone(value));
  }
  return out;
}

/** `obj[key] = value`, also for a key named "__proto__" (a map key like any other in JSON). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
