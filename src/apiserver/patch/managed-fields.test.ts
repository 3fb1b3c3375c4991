import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../admission/types.js';
import { FieldSet, pathString } from './fieldset.js';
import { recordUpdate, serverSideApply } from './index.js';

const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T11:00:00Z';
const T2 = '2024-05-01T12:00:00Z';

const configMap = (data: Record<string, string>, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'cfg', namespace: 'default', uid: 'u1', resourceVersion: '1', creationTimestamp: T0, ...(labels ? { labels } : {}) },
  data,
});

const update = (oldObj: KubeObject | undefined, newObj: KubeObject, manager: string, now = T1, subresource?: string) =>
  recordUpdate(oldObj, newObj, { manager, now, apiVersion: 'v1', ...(subresource ? { subresource } : {}) });

const owners = (o: KubeObject) => (o.metadata?.managedFields ?? []).map((m) => [m.manager, m.operation, m.fieldsV1]);

describe('recordUpdate', () => {
  it('records a create as an Update entry, with "." for added maps and no server-owned fields', () => {
    const out = update(undefined, configMap({ a: '1' }, { app: 'x' }), 'kubectl-create', T0);
    assert.deepEqual(out.metadata?.managedFields, [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { '.': {}, 'f:a': {} }, 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } },
      },
    ]);
  });

  it('records keyed list items of a Pod by merge key', () => {
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'app', image: 'a:1', ports: [{ containerPort: 80, protocol: 'TCP' }], resources: {} }] },
    };
    const out = update(undefined, pod, 'kubectl-create', T0);
    assert.deepEqual(out.metadata?.managedFields?.[0]?.fieldsV1, {
      'f:spec': {
        'f:containers': {
          'k:{"name":"app"}': {
            '.': {},
            'f:image': {},
            'f:name': {},
            'f:ports': { '.': {}, 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:protocol': {} } },
            'f:resources': {},
          },
        },
      },
    });
  });

  it('moves a changed field from its owner to the updater; unchanged fields stay', () => {
    const created = update(undefined, configMap({ a: '1', b: '2' }), 'kubectl-create', T0);
    const out = update(created, { ...created, data: { a: '1', b: 'two' } }, 'kubectl-edit');
    assert.deepEqual(owners(out), [
      ['kubectl-create', 'Update', { 'f:data': { '.': {}, 'f:a': {} } }],
      ['kubectl-edit', 'Update', { 'f:data': { 'f:b': {} } }],
    ]);
  });

  it('takes fields from an applier too', () => {
    const applied = serverSideApply(
      undefined,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1', b: '2' } },
      {
        manager: 'kubectl',
        force: false,
        gk: { group: '', kind: 'ConfigMap' },
        now: T0,
      },
    );
    const out = update(applied, { ...applied, data: { a: '1', b: 'x' } }, 'kubectl-patch');
    assert.deepEqual(owners(out), [
      ['kubectl', 'Apply', { 'f:data': { 'f:a': {} } }],
      ['kubectl-patch', 'Update', { 'f:data': { 'f:b': {} } }],
    ]);
  });

  it('unions repeated updates by the same manager and moves its time; a no-op leaves everything alone', () => {
    const created = update(undefined, configMap({ a: '1' }), 'kubectl-create', T0);
    const first = update(created, { ...created, data: { a: '2' } }, 'editor', T1);
    const second = update(first, { ...first, data: { a: '2', b: '3' } }, 'editor', T2);
    assert.deepEqual(
      owners(second).find((o) => o[0] === 'editor'),
      ['editor', 'Update', { 'f:data': { 'f:a': {}, 'f:b': {} } }],
    );
    assert.equal(second.metadata?.managedFields?.find((m) => m.manager === 'editor')?.time, T2);
    const same = update(second, { ...second, metadata: { ...second.metadata, resourceVersion: '7' } }, 'other', T2);
    assert.deepEqual(same.metadata?.managedFields, second.metadata?.managedFields);
  });

  it('removes deleted fields from every owner and drops emptied entries', () => {
    const created = update(undefined, configMap({ a: '1' }, { app: 'x' }), 'kubectl-create', T0);
    const labelled = update(created, { ...created, metadata: { ...created.metadata, labels: { app: 'x', env: 'dev' } } }, 'kubectl-label');
    const out = update(labelled, { ...labelled, metadata: { ...labelled.metadata, labels: { app: 'x' } } }, 'kubectl-label', T2);
    assert.deepEqual(owners(out), [['kubectl-create', 'Update', { 'f:data': { '.': {}, 'f:a': {} }, 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } }]]);
  });

  it('keeps a subresource writer as its own entry', () => {
    const svc: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { type: 'LoadBalancer' } };
    const created = update(undefined, svc, 'kubectl-create', T0);
    const out = update(created, { ...created, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }, 'controller', T1, 'status');
    const entry = out.metadata?.managedFields?.find((m) => m.manager === 'controller');
    assert.deepEqual(entry, {
      manager: 'controller',
      operation: 'Update',
      apiVersion: 'v1',
      time: T1,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } },
      subresource: 'status',
    });
  });

  it('uses managedFields sent by the client, and [{}] clears them', () => {
    const created = update(undefined, configMap({ a: '1' }), 'kubectl-create', T0);
    const cleared = update(created, { ...created, metadata: { ...created.metadata, managedFields: [{}] } }, 'kubectl-edit');
    assert.equal(cleared.metadata?.managedFields, undefined);
    const sent = [{ manager: 'someone', operation: 'Update', apiVersion: 'v1', time: T0, fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:a': {} } } }];
    const replaced = update(created, { ...created, metadata: { ...created.metadata, managedFields: sent } }, 'kubectl-edit');
    assert.deepEqual(replaced.metadata?.managedFields, sent);
  });

  it('does not mutate its inputs', () => {
    const created = update(undefined, configMap({ a: '1' }), 'kubectl-create', T0);
    const next = { ...structuredClone(created), data: { a: '2' } };
    const copies = [structuredClone(created), structuredClone(next)];
    update(created, next, 'x');
    assert.deepEqual([created, next], copies);
  });
});

describe('FieldSet', () => {
  it('round-trips FieldsV1 and prints paths as structured-merge-diff does', () => {
    const v1 = {
      'f:spec': { 'f:ports': { '.': {}, 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {} } } },
      'f:metadata': { 'f:finalizers': { 'v:"a"': {} } },
    };
    const set = FieldSet.fromFieldsV1(v1);
    assert.deepEqual(set.toFieldsV1(), { 'f:metadata': v1['f:metadata'], 'f:spec': v1['f:spec'] });
    assert.deepEqual(set.paths().map(pathString), [
      '.metadata.finalizers[="a"]',
      '.spec.ports',
      '.spec.ports[port=80,protocol="TCP"]',
      '.spec.ports[port=80,protocol="TCP"].port',
    ]);
  });

  it('computes union, difference and intersection', () => {
    const a = FieldSet.of(['f:a'], ['f:b', 'f:c']);
    const b = FieldSet.of(['f:b', 'f:c'], ['f:d']);
    assert.deepEqual(a.union(b).toFieldsV1(), { 'f:a': {}, 'f:b': { 'f:c': {} }, 'f:d': {} });
    assert.deepEqual(a.difference(b).toFieldsV1(), { 'f:a': {} });
    assert.deepEqual(a.intersection(b).toFieldsV1(), { 'f:b': { 'f:c': {} } });
  });
});
