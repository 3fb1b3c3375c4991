import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkStructure, type GroupVersionKind, hasSchema, pruneUnknownFields, schemaFor } from './index.js';

const served: GroupVersionKind[] = [
  ...['Namespace', 'Pod', 'Service', 'Endpoints', 'Event', 'ConfigMap', 'Secret', 'ServiceAccount'].map((kind) => ({ group: '', version: 'v1', kind })),
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
  { group: 'k8s.cni.cncf.io', version: 'v1', kind: 'NetworkAttachmentDefinition' },
  { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstance' },
  { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachine' },
  ...['v1', 'v1beta1'].flatMap((version) => [
    ...['VirtualService', 'DestinationRule', 'ServiceEntry', 'Sidecar'].map((kind) => ({ group: 'networking.istio.io', version, kind })),
    ...['PeerAuthentication', 'AuthorizationPolicy'].map((kind) => ({ group: 'security.istio.io', version, kind })),
  ]),
];

/** Kinds whose content sits at the top level rather than under spec. */
const topLevelFields: Record<string, string> = {
  Event: 'involvedObject',
  ConfigMap: 'data',
  Secret: 'data',
  Endpoints: 'subsets',
  EndpointSlice: 'endpoints',
  ServiceAccount: 'secrets',
};

const NAD = { group: 'k8s.cni.cncf.io', version: 'v1', kind: 'NetworkAttachmentDefinition' };

describe('schema registry', () => {
  it('has an object schema for every served kind, without $ref', () => {
    for (const gvk of served) {
      assert.ok(hasSchema(gvk), gvk.kind);
      const schema = schemaFor(gvk) as { type: string; properties: Record<string, unknown> };
      assert.equal(schema.type, 'object', gvk.kind);
      for (const field of ['apiVersion', 'kind', 'metadata', topLevelFields[gvk.kind] ?? 'spec']) {
        assert.ok(schema.properties[field], `${gvk.group}/${gvk.version} ${gvk.kind} has ${field}`);
      }
      assert.doesNotMatch(JSON.stringify(schema), /"\$ref"/, gvk.kind);
    }
  });

  it('knows nothing else, and says so', () => {
    for (const gvk of [
      { group: 'apps', version: 'v1', kind: 'Deployment' },
      { group: '', version: 'v2', kind: 'Pod' },
      { group: 'networking.istio.io', version: 'v1alpha1', kind: 'VirtualService' },
      { group: '', version: 'v1', kind: 'toString' },
    ]) {
      assert.equal(hasSchema(gvk), false, `${gvk.version} ${gvk.kind}`);
      assert.throws(() => schemaFor(gvk), /no schema/);
      assert.throws(() => checkStructure({}, gvk), /no schema/);
    }
  });

  it('serves one frozen schema per kind', () => {
    const a = schemaFor(NAD);
    assert.equal(schemaFor(NAD), a);
    assert.ok(Object.isFrozen(a));
    assert.deepEqual(JSON.parse(JSON.stringify(a)).properties.spec, { type: 'object', properties: { config: { type: 'string' } } });
  });

  it('accepts a NetworkAttachmentDefinition with no spec, or a config string', () => {
    const nad = { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'istio-cni' } };
    assert.deepEqual(checkStructure(nad, NAD), { unknownFields: [], errors: [] });
    assert.deepEqual(checkStructure({ ...nad, spec: { config: '{"cniVersion":"0.3.1"}' } }, NAD), { unknownFields: [], errors: [] });
    assert.deepEqual(checkStructure({ ...nad, spec: { config: {}, plugins: [] } }, NAD).unknownFields, ['spec.plugins']);
  });
});

describe('structural semantics', () => {
  const SVC = { group: '', version: 'v1', kind: 'Service' };
  const svc = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 's' }) => ({ apiVersion: 'v1', kind: 'Service', metadata, spec });

  it('reads null as an absent optional field, and as missing for a required one', () => {
    assert.deepEqual(checkStructure(svc({ selector: null, ports: [{ port: 80, name: null }] }), SVC).errors, []);
    assert.deepEqual(
      checkStructure(svc({ ports: [{ port: null }] }), SVC).errors.map((e) => [e.type, e.field]),
      [['FieldValueRequired', 'spec.ports[0].port']],
    );
  });

  it('checks map values against the map schema and names them with dots', () => {
    const { errors, unknownFields } = checkStructure(svc({}, { name: 's', labels: { app: 1 }, annotations: { anything: 'goes' } }), SVC);
    assert.deepEqual(unknownFields, []);
    assert.deepEqual(
      errors.map((e) => e.detail),
      ['metadata.labels.app in body must be of type string: "integer"'],
    );
  });

  it('names arrays, objects, booleans and numbers as kube-openapi does', () => {
    const { errors } = checkStructure(
      svc({ ports: {}, selector: [], publishNotReadyAddresses: 'yes', sessionAffinityConfig: { clientIP: { timeoutSeconds: 1.5 } } }),
      SVC,
    );
    assert.deepEqual(
      errors.map((e) => e.detail),
      [
        'spec.ports in body must be of type array: "object"',
        'spec.selector in body must be of type object: "array"',
        'spec.publishNotReadyAddresses in body must be of type boolean: "string"',
        'spec.sessionAffinityConfig.clientIP.timeoutSeconds in body must be of type integer: "number"',
      ],
    );
  });

  it('always knows apiVersion, kind and metadata at the top level', () => {
    const { unknownFields } = checkStructure({ apiVersion: 'v1', kind: 'Service', metadata: {}, spec: {}, status: {}, extra: 1 }, SVC);
    assert.deepEqual(unknownFields, ['extra']);
  });

  it('prunes into a deep copy, keeping values of the wrong type for the caller to report', () => {
    const input = svc({ ports: [{ port: 'x', bogus: 1 }], selector: { a: 'b' } });
    const pruned = pruneUnknownFields(input, SVC);
    assert.deepEqual(pruned, svc({ ports: [{ port: 'x' }], selector: { a: 'b' } }));
    (pruned.spec as { selector: Record<string, string> }).selector.a = 'changed';
    assert.deepEqual(input.spec.selector, { a: 'b' });
  });
});

describe('pruning odd keys', () => {
  it('keeps a map key named __proto__ as a key', () => {
    const SVC = { group: '', version: 'v1', kind: 'Service' };
    const input = JSON.parse('{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","labels":{"__proto__":"x"}},"spec":{"__proto__":{"a":1}}}');
    assert.deepEqual(checkStructure(input, SVC).unknownFields, ['spec.__proto__']);
    const pruned = pruneUnknownFields(input, SVC) as { metadata: { labels: object }; spec: object };
    assert.deepEqual(Object.keys(pruned.metadata.labels), ['__proto__']);
    assert.equal(Object.getPrototypeOf(pruned.metadata.labels), Object.prototype);
    assert.deepEqual(Object.keys(pruned.spec), []);
  });
});
