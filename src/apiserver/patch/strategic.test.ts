import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../admission/types.js';
import { applyStrategicMergePatch, PatchError } from './index.js';

const POD = { group: '', kind: 'Pod' };
const SVC = { group: '', kind: 'Service' };

const pod = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web', tier: 'fe' }, finalizers: ['a.io/x', 'b.io/y', 'c.io/z'] },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'app:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        ports: [{ containerPort: 8080, protocol: 'TCP' }],
      },
      { name: 'sidecar', image: 'proxy:1' },
      { name: 'log', image: 'log:1' },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
    tolerations: [{ key: 'a', operator: 'Exists' }],
  },
});

const svc = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
      { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
    ],
  },
});

const smp = (obj: KubeObject, patch: unknown, gk = POD) => applyStrategicMergePatch(obj, patch, gk);
const containers = (o: KubeObject) => (o.spec as { containers: Array<Record<string, unknown>> }).containers;
const names = (o: KubeObject) => containers(o).map((c) => c.name);

function rejects(fn: () => unknown, status: number, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof PatchError && e.status === status && e.message === message);
}

describe('applyStrategicMergePatch', () => {
  it('patches a container by name and keeps the others', () => {
    const out = smp(pod(), { spec: { containers: [{ name: 'sidecar', image: 'proxy:2' }] } });
    assert.deepEqual(names(out), ['app', 'sidecar', 'log']);
    assert.equal(containers(out)[1]?.image, 'proxy:2');
    assert.equal(containers(out)[0]?.image, 'app:1');
  });

  it('places a new item as kube does (after the patched items, before the rest)', () => {
    const out = smp(pod(), { spec: { containers: [{ name: 'init', image: 'i:1' }] } });
    assert.deepEqual(names(out), ['init', 'app', 'sidecar', 'log']);
  });

  it('$setElementOrder/containers reorders and is stripped from the result', () => {
    const patch = {
      spec: {
        '$setElementOrder/containers': [{ name: 'log' }, { name: 'app' }, { name: 'sidecar' }],
        containers: [{ name: 'app', image: 'app:2' }],
      },
    };
    const out = smp(pod(), patch);
    assert.deepEqual(names(out), ['log', 'app', 'sidecar']);
    assert.equal(containers(out)[1]?.image, 'app:2');
    assert.equal(JSON.stringify(out).includes('$setElementOrder'), false);
  });

  it('$patch: delete removes a list item (as kubectl apply sends it)', () => {
    const patch = { spec: { '$setElementOrder/containers': [{ name: 'app' }, { name: 'log' }], containers: [{ $patch: 'delete', name: 'sidecar' }] } };
    const out = smp(pod(), patch);
    assert.deepEqual(names(out), ['app', 'log']);
    assert.equal(JSON.stringify(out).includes('$patch'), false);
  });

  it('$patch: replace replaces a list or a map', () => {
    const list = smp(pod(), { spec: { containers: [{ name: 'only', image: 'o:1' }, { $patch: 'replace' }] } });
    assert.deepEqual(containers(list), [{ name: 'only', image: 'o:1' }]);
    const map = smp(pod(), { metadata: { labels: { $patch: 'replace', fresh: 'yes' } } });
    assert.deepEqual(map.metadata?.labels, { fresh: 'yes' });
  });

  it('$patch: delete in a map drops it', () => {
    const out = smp(pod(), { metadata: { labels: { $patch: 'delete' } } });
    assert.equal(out.metadata?.labels, undefined);
  });

  it('$deleteFromPrimitiveList/finalizers removes scalars', () => {
    const out = smp(pod(), { metadata: { '$deleteFromPrimitiveList/finalizers': ['b.io/y'] } });
    assert.deepEqual(out.metadata?.finalizers, ['a.io/x', 'c.io/z']);
  });

  it('merges primitive lists with a merge strategy (finalizers) and orders them', () => {
    const out = smp(pod(), {
      metadata: { '$setElementOrder/finalizers': ['c.io/z', 'a.io/x', 'd.io/w'], '$deleteFromPrimitiveList/finalizers': ['b.io/y'], finalizers: ['d.io/w'] },
    });
    assert.deepEqual(out.metadata?.finalizers, ['c.io/z', 'a.io/x', 'd.io/w']);
  });

  it('null deletes a label', () => {
    const out = smp(pod(), { metadata: { labels: { tier: null } } });
    assert.deepEqual(out.metadata?.labels, { app: 'web' });
  });

  it('applies the patch kubectl label sends: {"metadata":{"labels":{"istio-injection":"enabled"}}}', () => {
    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } },
      spec: { finalizers: ['kubernetes'] },
    };
    const out = smp(ns, JSON.parse('{"metadata":{"labels":{"istio-injection":"enabled"}}}'), { group: '', kind: 'Namespace' });
    assert.deepEqual(out, { ...ns, metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default', 'istio-injection': 'enabled' } } });
  });

  it('merges Service ports by port (not by name)', () => {
    const out = smp(svc(), { spec: { '$setElementOrder/ports': [{ port: 80 }, { port: 443 }], ports: [{ port: 443, targetPort: 9443 }] } }, SVC);
    assert.deepEqual((out.spec as { ports: unknown }).ports, [
      { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
      { name: 'https', port: 443, targetPort: 9443, protocol: 'TCP' },
    ]);
    const renamed = smp(svc(), { spec: { ports: [{ name: 'http', port: 8000 }] } }, SVC);
    assert.equal((renamed.spec as { ports: unknown[] }).ports.length, 3);
  });

  it('merges env by name inside a container', () => {
    const out = smp(pod(), {
      spec: {
        containers: [
          {
            name: 'app',
            env: [
              { name: 'B', value: 'two' },
              { name: 'C', value: '3' },
            ],
          },
        ],
      },
    });
    assert.deepEqual(containers(out)[0]?.env, [
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
      { name: 'C', value: '3' },
    ]);
  });

  it('merges container ports by containerPort and deletes one with $patch', () => {
    const out = smp(pod(), { spec: { containers: [{ name: 'app', ports: [{ containerPort: 8080, $patch: 'delete' }, { containerPort: 9090 }] }] } });
    assert.deepEqual(containers(out)[0]?.ports, [{ containerPort: 9090 }]);
  });

  it('replaces lists without a merge strategy (tolerations) whole', () => {
    const out = smp(pod(), { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } });
    assert.deepEqual((out.spec as { tolerations: unknown }).tolerations, [{ key: 'b', operator: 'Exists' }]);
  });

  it('$retainKeys switches a volume source (as kubectl apply sends it)', () => {
    const patch = {
      spec: { '$setElementOrder/volumes': [{ name: 'data' }], volumes: [{ $retainKeys: ['configMap', 'name'], configMap: { name: 'cfg' }, name: 'data' }] },
    };
    const out = smp(pod(), patch);
    assert.deepEqual((out.spec as { volumes: unknown }).volumes, [{ name: 'data', configMap: { name: 'cfg' } }]);
  });

  it('merges ownerReferences by uid', () => {
    const obj: KubeObject = { kind: 'Pod', metadata: { name: 'p', ownerReferences: [{ uid: '1', name: 'a', kind: 'X' }] } };
    const out = smp(obj, { metadata: { ownerReferences: [{ uid: '2', name: 'b', kind: 'X' }] } });
    assert.deepEqual(
      out.metadata?.ownerReferences?.map((r) => r.uid),
      ['2', '1'],
    );
  });

  it('merges EndpointSlice endpoints atomically', () => {
    const eps: KubeObject = { kind: 'EndpointSlice', endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'] }] };
    const out = applyStrategicMergePatch(eps, { endpoints: [{ addresses: ['10.0.0.3'] }] }, { group: 'discovery.k8s.io', kind: 'EndpointSlice' });
    assert.deepEqual(out.endpoints, [{ addresses: ['10.0.0.3'] }]);
  });

  it('does not mutate its inputs', () => {
    const input = pod();
    const patch = { spec: { '$setElementOrder/containers': [{ name: 'app' }], containers: [{ $patch: 'delete', name: 'log' }] } };
    const copy = structuredClone(patch);
    smp(input, patch);
    assert.deepEqual(input, pod());
    assert.deepEqual(patch, copy);
  });

  it('reports a list item without its merge key', () => {
    rejects(() => smp(pod(), { spec: { containers: [{ image: 'nginx' }] } }), 422, 'map: map[image:nginx] does not contain declared merge key: name');
  });

  it('rejects malformed directives with 400', () => {
    rejects(() => smp(pod(), { metadata: { '$deleteFromPrimitiveList/finalizers': 'x' } }), 400, 'invalid patch format of primitive list');
    rejects(
      () => smp(pod(), { spec: { volumes: [{ name: 'data', $retainKeys: ['name'], hostPath: { path: '/x' } }] } }),
      400,
      'invalid patch format of retainKeys',
    );
    rejects(() => smp(pod(), { metadata: { labels: { $patch: 'frob' } } }), 422, 'unknown patch type: frob in map: map[$patch:frob]');
  });

  it('is unsupported (415) for custom resources', () => {
    assert.throws(
      () => applyStrategicMergePatch({ kind: 'VirtualMachine' }, {}, { group: 'kubevirt.io', kind: 'VirtualMachine' }),
      (e: unknown) => e instanceof PatchError && e.status === 415 && e.reason === 'UnsupportedMediaType',
    );
  });
});
