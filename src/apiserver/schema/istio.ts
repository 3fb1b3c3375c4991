// Schemas of Istio's kinds, from istio.gen.json: the openAPIV3Schema of Istio's own
// CustomResourceDefinitions, without descriptions or CEL rules, written by
// scripts/gen-istio-schema.mjs. They are structural as they stand (required lists,
// enums, int-or-string, a status that preserves unknown fields); `oneOf`/`anyOf`/`not`
// (Istio's "only one of" rules) are kept as Istio serves them but not enforced.
//
// The file is read the first time an Istio kind is used, then kept.

import { readFileSync } from 'node:fs';
import { objectMetaSchema } from './core.js';
// Type only, and erased: it keeps the file in tsc's program, so the build copies it
// next to this module, where load() reads it.
import type generated from './istio.gen.json';
import { kindSchema, type Schema } from './json-schema.js';

interface Generated {
  /** By "group/version/kind": the CRD's schema, or the key of an identical one. */
  schemas: Record<string, Schema | string>;
}

export const ISTIO_KINDS: Record<string, { group: string; versions: string[] }> = {
  VirtualService: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  DestinationRule: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  ServiceEntry: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  Sidecar: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  PeerAuthentication: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  AuthorizationPolicy: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
};

let loaded: Generated | undefined;

function load(): Generated {
  if (!loaded) {
    const raw: typeof generated = JSON.parse(readFileSync(new URL('./istio.gen.json', import.meta.url), 'utf8'));
    loaded = raw as unknown as Generated;
  }
  return loaded;
}

/** The CRD's schema for a kind; versions with identical schemas share one tree. */
function crdSchema(group: string, version: string, kind: string): Schema {
  const { schemas } = load();
  const key = `${group}/${version}/${kind}`;
  const entry = Object.hasOwn(schemas, key) ? schemas[key] : undefined;
  const schema = typeof entry === 'string' ? schemas[entry] : entry;
  if (!schema || typeof schema === 'string') throw new Error(`istio.gen.json has no schema ${key}`);
  return schema;
}

export function istioKindSchema(group: string, version: string, kind: string): Schema | undefined {
  const served = Object.hasOwn(ISTIO_KINDS, kind) ? ISTIO_KINDS[kind] : undefined;
  if (!served || served.group !== group || !served.versions.includes(version)) return undefined;
  const crd = crdSchema(group, version, kind);
  // The CRD describes spec and status; apiVersion, kind and metadata are the server's own.
  return kindSchema(objectMetaSchema(), crd.properties ?? {}, crd.required ?? []);
}
