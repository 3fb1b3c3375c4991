import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldErrorMessage } from '../admission/field-errors.js';
import type { KubeObject } from '../admission/types.js';
import { checkStructure, pruneUnknownFields } from './index.js';

const SERVICE = { group: '', version: 'v1', kind: 'Service' };
const POD = { group: '', version: 'v1', kind: 'Pod' };
const SLICE = { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' };
const clean = { unknownFields: [], errors: [] };

const service = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'istio-vmi-svc' },
  spec: { selector: { app: 'istio-vmi' }, ports: [{ port: 8080, protocol: 'TCP' }] },
});

const pod = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  // kubectl sends `creationTimestamp: null` for objects it generated.
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, creationTimestamp: null as unknown as string },
  spec: {
    containers: [
      {
        name: 'web',
        image: 'nginx:1.27',
        ports: [{ containerPort: 80, name: 'http' }],
        env: [{ name: 'A', value: '1' }],
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: 1 } },
        readinessProbe: { httpGet: { port: 'http', path: '/' }, periodSeconds: 5 },
      },
    ],
    volumes: [{ name: 'data', emptyDir: { sizeLimit: '1Gi' } }],
    restartPolicy: 'Always',
  },
  status: { phase: 'Running', podIP: '10.244.0.5', conditions: [{ type: 'Ready', status: 'True' }] },
});

describe('core/v1 and discovery schemas', () => {
  it('accepts the walkthrough Service', () => {
    assert.deepEqual(checkStructure(service(), SERVICE), clean);
  });

  it('reports an unknown field in a port, and metadata.labelz', () => {
    const svc = service();
    (svc.spec as { ports: Array<Record<string, unknown>> }).ports[0].bogus = true;
    (svc.metadata as Record<string, unknown>).labelz = { a: 'b' };
    assert.deepEqual(checkStructure(svc, SERVICE), { unknownFields: ['metadata.labelz', 'spec.ports[0].bogus'], errors: [] });
  });

  it('reports port "abc" as a type error, as kube-apiserver words it', () => {
    const svc = service();
    (svc.spec as { ports: Array<Record<string, unknown>> }).ports[0].port = 'abc';
    const { errors } = checkStructure(svc, SERVICE);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].type, 'FieldValueTypeInvalid');
    assert.equal(errors[0].field, 'spec.ports[0].port');
    assert.equal(fieldErrorMessage(errors[0]), 'spec.ports[0].port: Invalid value: "string": spec.ports[0].port in body must be of type integer: "string"');
  });

  it('reports every problem, in order: required, enums, types', () => {
    const svc = service();
    (svc.spec as Record<string, unknown>).type = 'Cluster';
    (svc.spec as { ports: unknown[] }).ports.push({ protocol: 'TCP', targetPort: 1.5 }, null);
    const { errors } = checkStructure(svc, SERVICE);
    assert.deepEqual(
      errors.map((e) => [e.type, e.field]),
      [
        ['FieldValueRequired', 'spec.ports[1].port'],
        ['FieldValueTypeInvalid', 'spec.ports[1].targetPort'],
        ['FieldValueTypeInvalid', 'spec.ports[2]'],
        ['FieldValueNotSupported', 'spec.type'],
      ],
    );
    assert.deepEqual(errors[3].supported, ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort']);
    assert.equal(errors[1].detail, 'spec.ports[1].targetPort in body must be of type integer,string: "number"');
  });

  it('accepts a Pod with containers, quantities as strings or numbers, null timestamps', () => {
    assert.deepEqual(checkStructure(pod(), POD), clean);
  });

  it('requires containers and their names', () => {
    const p = pod();
    delete (p.spec as { containers: Array<Record<string, unknown>> }).containers[0].name;
    assert.deepEqual(
      checkStructure(p, POD).errors.map((e) => e.field),
      ['spec.containers[0].name'],
    );
    delete (p.spec as Record<string, unknown>).containers;
    assert.deepEqual(
      checkStructure(p, POD).errors.map((e) => e.field),
      ['spec.containers'],
    );
  });

  it('does not descend into an unknown field', () => {
    const p = pod();
    (p.spec as Record<string, unknown>).extra = { a: { b: 1 } };
    assert.deepEqual(checkStructure(p, POD).unknownFields, ['spec.extra']);
  });

  it('knows the other core kinds', () => {
    const cases: Array<[string, KubeObject]> = [
      ['Namespace', { metadata: { name: 'ns', labels: { 'istio-injection': 'enabled' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } }],
      ['ConfigMap', { metadata: { name: 'c' }, data: { 'a.txt': 'x' }, immutable: false }],
      ['Secret', { metadata: { name: 's' }, type: 'Opaque', data: { a: 'eA==' }, stringData: { b: 'y' } }],
      ['ServiceAccount', { metadata: { name: 'sa' }, automountServiceAccountToken: false }],
      ['Endpoints', { metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80, protocol: 'TCP' }] }] }],
      [
        'Event',
        {
          metadata: { name: 'ev' },
          involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' },
          reason: 'Started',
          type: 'Normal',
          count: 1,
          firstTimestamp: '2024-01-01T00:00:00Z',
          eventTime: '2024-01-01T00:00:00.000000Z',
        },
      ],
    ];
    for (const [kind, obj] of cases) {
      assert.deepEqual(checkStructure({ apiVersion: 'v1', kind, ...obj }, { group: '', version: 'v1', kind }), clean, kind);
    }
    assert.deepEqual(
      checkStructure({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'ev' } }, { group: '', version: 'v1', kind: 'Event' }).errors.map((e) => e.field),
      ['involvedObject'],
    );
  });

  it('accepts an EndpointSlice and requires its address type and addresses', () => {
    const slice: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'svc-abc', labels: { 'kubernetes.io/service-name': 'svc' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'web' }, nodeName: 'n' }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
    assert.deepEqual(checkStructure(slice, SLICE), clean);
    delete slice.addressType;
    delete (slice.endpoints as Array<Record<string, unknown>>)[0].addresses;
    assert.deepEqual(
      checkStructure(slice, SLICE).errors.map((e) => e.field),
      ['addressType', 'endpoints[0].addresses'],
    );
    // The slice of a Service without ready pods: the OpenAPI says required, Kubernetes does not.
    assert.deepEqual(checkStructure({ ...slice, addressType: 'IPv4', endpoints: null }, SLICE), clean);
  });

  it("does not ask a built-in kind's status for the fields its OpenAPI marks required", () => {
    const p = pod();
    (p.status as Record<string, unknown>).containerStatuses = [{ name: 'web', ready: true }];
    assert.deepEqual(checkStructure(p, POD), clean);
    (p.status as Record<string, unknown>).containerStatuses = [{ name: 'web', ready: 'yes' }];
    assert.deepEqual(
      checkStructure(p, POD).errors.map((e) => e.field),
      ['status.containerStatuses[0].ready'],
    );
  });

  it('prunes unknown fields and keeps known ones', () => {
    const svc = service();
    (svc.spec as { ports: Array<Record<string, unknown>> }).ports[0].bogus = 1;
    (svc.metadata as Record<string, unknown>).labelz = {};
    (svc as Record<string, unknown>).extra = 'x';
    assert.deepEqual(pruneUnknownFields(svc, SERVICE), service());
  });
});
