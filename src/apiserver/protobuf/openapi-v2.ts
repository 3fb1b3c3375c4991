/**
 * The OpenAPI v2 document kubectl downloads as protobuf (gnostic's
 * openapi_v2.Document, Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf).
 * kubectl reads it to learn, per kind, whether the server takes the
 * `fieldValidation` query parameter: it looks for a path whose PATCH operation
 * carries the vendor extension x-kubernetes-group-version-kind matching the kind.
 */
import type protobuf from 'protobufjs';
import YAML from 'yaml';
import { buildRoot } from './descriptor.js';
import type { FieldSpecs } from './k8s-schema.js';

/** What kubectl puts in its Accept header for GET /openapi/v2. */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/**
 * The Content-Type to answer it with. Go's mime parser (used by client-go on every
 * response) rejects the "@" form above with "mime: unexpected content after media
 * subtype", so the real apiserver (kube-openapi) answers with ".v1.0" instead.
 */
export const OPENAPI_V2_PROTOBUF_RESPONSE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/**
 * Our own descriptor for the part of gnostic's openapi_v2 package we emit.
 * Field numbers read from google/gnostic openapiv2/OpenAPIv2.proto (proto3);
 * field names are camelCase here, which does not change the wire format.
 * Oneof members (Parameter, NonBodyParameter, ParametersItem) are plain
 * optional fields: only one of them is ever set.
 */
export const GNOSTIC_MESSAGES: Record<string, FieldSpecs> = {
  Document: {
    swagger: '1 string',
    info: '2 Info',
    host: '3 string',
    basePath: '4 string',
    schemes: '5 []string',
    consumes: '6 []string',
    produces: '7 []string',
    paths: '8 Paths',
    vendorExtension: '16 []NamedAny',
  },
  Info: { title: '1 string', version: '2 string', description: '3 string', vendorExtension: '7 []NamedAny' },
  Paths: { vendorExtension: '1 []NamedAny', path: '2 []NamedPathItem' },
  NamedPathItem: { name: '1 string', value: '2 PathItem' },
  PathItem: {
    ref: '1 string',
    get: '2 Operation',
    put: '3 Operation',
    post: '4 Operation',
    delete: '5 Operation',
    options: '6 Operation',
    head: '7 Operation',
    patch: '8 Operation',
    parameters: '9 []ParametersItem',
    vendorExtension: '10 []NamedAny',
  },
  Operation: {
    tags: '1 []string',
    summary: '2 string',
    description: '3 string',
    operationId: '5 string',
    produces: '6 []string',
    consumes: '7 []string',
    parameters: '8 []ParametersItem',
    schemes: '10 []string',
    deprecated: '11 bool',
    vendorExtension: '13 []NamedAny',
  },
  ParametersItem: { parameter: '1 Parameter' },
  Parameter: { nonBodyParameter: '2 NonBodyParameter' },
  NonBodyParameter: { queryParameterSubSchema: '3 QueryParameterSubSchema' },
  QueryParameterSubSchema: {
    required: '1 bool',
    in: '2 string',
    description: '3 string',
    name: '4 string',
    allowEmptyValue: '5 bool',
    type: '6 string',
    format: '7 string',
    uniqueItems: '20 bool',
    vendorExtension: '23 []NamedAny',
  },
  NamedAny: { name: '1 string', value: '2 Any' },
  /** `value = 1` (a google.protobuf.Any) is never used here; `yaml = 2` holds the value as YAML. */
  Any: { yaml: '2 string' },
};

let root: protobuf.Root | undefined;

/** The reflection Root of GNOSTIC_MESSAGES (package `openapi.v2`), built once. */
export function gnosticRoot(): protobuf.Root {
  root ??= buildRoot('openapi.v2', GNOSTIC_MESSAGES, 'proto3');
  return root;
}

const queryParam = (name: string, description: string) => ({
  parameter: {
    nonBodyParameter: {
      queryParameterSubSchema: { name, in: 'query', type: 'string', description, uniqueItems: true },
    },
  },
});

/**
 * A gnostic openapi_v2.Document, protobuf-encoded, listing for each given kind a path whose
 * PATCH operation carries the vendor extension x-kubernetes-group-version-kind (value as
 * YAML, e.g. "group: kubevirt.io\nkind: VirtualMachineInstance\nversion: v1\n" — for core
 * use group: "") and the query parameter `fieldValidation` (a non-body
 * QueryParameterSubSchema with name "fieldValidation", in "query", type "string").
 * Includes swagger "2.0" and info {title: "Kubernetes", version: "v1.32.0"}.
 */
export function openapiV2Document(kinds: Array<{ group: string; version: string; kind: string; path: string }>): Buffer {
  const Document = gnosticRoot().lookupType('openapi.v2.Document');
  const doc = {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths: {
      path: kinds.map(({ group, version, kind, path }) => ({
        name: path,
        value: {
          patch: {
            description: `partially update the specified ${kind}`,
            operationId: `patch${group ? group.split('.')[0] : 'core'}${version}${kind}`,
            consumes: ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'],
            produces: ['application/json', 'application/yaml'],
            schemes: ['https'],
            parameters: [
              queryParam('dryRun', 'When present, indicates that modifications should not be persisted. Valid values are: - All'),
              queryParam('fieldManager', 'fieldManager is a name associated with the actor making these changes.'),
              queryParam(
                'fieldValidation',
                'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict.',
              ),
            ],
            vendorExtension: [
              { name: 'x-kubernetes-action', value: { yaml: 'patch\n' } },
              { name: 'x-kubernetes-group-version-kind', value: { yaml: YAML.stringify({ group, kind, version }) } },
            ],
          },
        },
      })),
    },
  };
  const err = Document.verify(doc);
  if (err) throw new Error(`openapi v2 document: ${err}`);
  return Buffer.from(Document.encode(Document.fromObject(doc)).finish());
}
