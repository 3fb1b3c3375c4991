// OpenAPI v3 documents, one per group version, as kube-apiserver serves them.
// kubectl reads them to learn that the server validates fields itself
// (`fieldValidation` on PATCH), which lets `kubectl create/apply` leave validation
// to us, and `kubectl explain` reads the schemas.

import { createHash } from 'node:crypto';
import { openapiV2Document } from './protobuf/index.js';
import { apiGroups, apiVersionOf, type ResourceDef, resources, resourcesIn } from './resources.js';
import { hasSchema, schemaFor } from './schema/index.js';

const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);

/** The schema component name kube uses: io.k8s.api.core.v1.Pod, io.kubevirt.v1.VirtualMachineInstance... */
function componentName(r: ResourceDef, version: string): string {
  if (!r.group) return `io.k8s.api.core.${version}.${r.kind}`;
  if (r.group === 'discovery.k8s.io') return `io.k8s.api.discovery.${version}.${r.kind}`;
  return `${r.group.split('.').reverse().join('.')}.${version}.${r.kind}`;
}

const queryParam = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const commonWriteParams = [
  queryParam('dryRun', 'When present, indicates that modifications should not be persisted.'),
  queryParam('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  queryParam(
    'fieldValidation',
    'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.',
  ),
];

function operations(r: ResourceDef, version: string) {
  const gvk = { group: r.group, version, kind: r.kind };
  const ref = { $ref: `#/components/schemas/${componentName(r, version)}` };
  const json = { 'application/json': { schema: ref } };
  // Strategic merge is served for built-in kinds, but not advertised: kubectl then
  // computes it from its compiled-in types, which carry the exact patch strategies.
  const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
  const op = (action: string, extra: Record<string, unknown> = {}) => ({
    operationId: `${action}${r.kind}`,
    responses: { '200': { description: 'OK', content: json } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  const base = `/${gvPath(r.group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}`;
  const paths: Record<string, unknown> = {
    [base]: {
      get: op('list'),
      post: op('post', { parameters: commonWriteParams, requestBody: { content: json } }),
      delete: op('deletecollection'),
    },
    [`${base}/{name}`]: {
      get: op('get'),
      put: op('put', { parameters: commonWriteParams, requestBody: { content: json } }),
      patch: op('patch', {
        parameters: [...commonWriteParams, queryParam('force', 'Force is going to "force" Apply requests.')],
        requestBody: { content: Object.fromEntries(patchTypes.map((t) => [t, { schema: { type: 'object' } }])) },
      }),
      delete: op('delete'),
    },
  };
  return paths;
}

export function openapiDocument(group: string, version: string): Record<string, unknown> | undefined {
  const defs = resourcesIn(group, version);
  if (defs.length === 0) return undefined;
  const schemas: Record<string, unknown> = {};
  for (const r of defs) {
    const gvk = { group: r.group, version, kind: r.kind };
    const schema = hasSchema(gvk) ? schemaFor(gvk) : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    schemas[componentName(r, version)] = { ...schema, 'x-kubernetes-group-version-kind': [gvk] };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths: Object.assign({}, ...defs.map((r) => operations(r, version))),
    components: { schemas },
  };
}

const docCache = new Map<string, { body: string; hash: string }>();

/** A group version's document as served bytes, with the hash clients cache it by. */
export function openapiDocumentBytes(group: string, version: string): { body: string; hash: string } | undefined {
  const key = apiVersionOf(group, version);
  let cached = docCache.get(key);
  if (!cached) {
    const doc = openapiDocument(group, version);
    if (!doc) return undefined;
    const body = JSON.stringify(doc);
    cached = { body, hash: createHash('sha512').update(body).digest('hex').slice(0, 128).toUpperCase() };
    docCache.set(key, cached);
  }
  return cached;
}

export function openapiRoot(): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  const gvs: Array<[string, string]> = [['', 'v1'], ...apiGroups().flatMap((g) => g.versions.map((v) => [g.name, v] as [string, string]))];
  for (const [g, v] of gvs) {
    const doc = openapiDocumentBytes(g, v);
    if (doc) paths[gvPath(g, v)] = { serverRelativeURL: `/openapi/v3/${gvPath(g, v)}?hash=${doc.hash}` };
  }
  return { paths };
}

let v2Cache: Buffer | undefined;

/** The OpenAPI v2 document (protobuf): paths and their operations' parameters, no schemas. */
export function openapiV2(): Buffer {
  v2Cache ??= openapiV2Document(
    resources.flatMap((r) =>
      r.versions.map((version) => ({
        group: r.group,
        version,
        kind: r.kind,
        path: `/${gvPath(r.group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`,
      })),
    ),
  );
  return v2Cache;
}
