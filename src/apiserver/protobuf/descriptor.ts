/**
 * Turns the compact field tables (see k8s-schema.ts for the notation) into
 * (a) a parsed model the decoder walks, and (b) a protobufjs reflection Root,
 * used to encode messages (the OpenAPI document, and request bodies in tests).
 */
import protobuf from 'protobufjs';
import type { FieldSpecs } from './k8s-schema.js';

export const SCALAR_TYPES = new Set(['string', 'bool', 'int32', 'int64', 'bytes', 'double']);

export interface FieldModel {
  /** JSON name and proto field name. */
  name: string;
  id: number;
  /** A scalar type name, or the name of another message in the same table. */
  type: string;
  scalar: boolean;
  repeated: boolean;
  /** `map<string, type>` */
  map: boolean;
  /** Go pointer: absent on the wire means absent (or null, with `always`) in JSON. */
  pointer: boolean;
  /** No `omitempty`. */
  always: boolean;
  /** `json:",inline"`: the struct's keys are merged into the parent object. */
  inline: boolean;
}

export interface MessageModel {
  name: string;
  fields: FieldModel[];
  byId: Map<number, FieldModel>;
}

const SPEC = /^(\d+) (\[\]|\{\})?(\w+)((?: (?:[?!]+|inline))*)$/;

export function parseField(message: string, name: string, spec: string): FieldModel {
  const m = SPEC.exec(spec);
  if (!m) throw new Error(`bad field spec for ${message}.${name}: ${JSON.stringify(spec)}`);
  const flags = m[4].trim().split(/\s+/).filter(Boolean);
  const marks = flags.filter((f) => f !== 'inline').join('');
  const type = m[3];
  return {
    name,
    id: Number(m[1]),
    type,
    scalar: SCALAR_TYPES.has(type),
    repeated: m[2] === '[]',
    map: m[2] === '{}',
    pointer: marks.includes('?'),
    always: marks.includes('!'),
    inline: flags.includes('inline'),
  };
}

export function parseMessages(table: Record<string, FieldSpecs>): Map<string, MessageModel> {
  const out = new Map<string, MessageModel>();
  for (const [msg, specs] of Object.entries(table)) {
    const fields = Object.entries(specs).map(([name, spec]) => parseField(msg, name, spec));
    const byId = new Map<number, FieldModel>();
    for (const f of fields) {
      if (byId.has(f.id)) throw new Error(`duplicate field number ${f.id} in ${msg}`);
      byId.set(f.id, f);
    }
    out.set(msg, { name: msg, fields, byId });
  }
  for (const m of out.values()) {
    for (const f of m.fields) {
      if (!f.scalar && !out.has(f.type)) throw new Error(`${m.name}.${f.name}: unknown type ${f.type}`);
    }
  }
  return out;
}

/**
 * A protobufjs Root holding every message of the table in namespace `pkg`.
 * `proto2` gives explicit presence and unpacked repeated scalars, as
 * Kubernetes' gogo-protobuf encoding does; `proto3` is what gnostic uses.
 */
export function buildRoot(pkg: string, table: Record<string, FieldSpecs>, syntax: 'proto2' | 'proto3'): protobuf.Root {
  const models = parseMessages(table);
  const nested: Record<string, protobuf.IType & { edition?: string }> = {};
  for (const m of models.values()) {
    const fields: Record<string, protobuf.IField & { keyType?: string }> = {};
    for (const f of m.fields) {
      const field: protobuf.IField & { keyType?: string } = { id: f.id, type: f.type };
      if (f.repeated) field.rule = 'repeated';
      if (f.map) field.keyType = 'string';
      fields[f.name] = field;
    }
    nested[m.name] = syntax === 'proto2' ? { edition: 'proto2', fields } : { fields };
  }
  return protobuf.Root.fromJSON({ nested: { [pkg]: { nested } } });
}
