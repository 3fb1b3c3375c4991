// Deletion semantics as kube-apiserver has them: finalizers, graceful deletion of pods
// on a node, garbage collection by ownerReferences (background and orphan), dry runs,
// and generation/status rules.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startApiServer } from '../src/apiserver/index.js';
import { Store } from '../src/store/index.js';
import { configMap, httpTo, until, useCluster, walkthrough } from './helpers/cluster.js';

const cm = (name: string, metadata: Record<string, unknown> = {}) => configMap(name, metadata);

describe('object lifecycle', () => {
  const c = useCluster();
  const base = '/api/v1/namespaces/default/configmaps';

  it('keeps an object with finalizers until the last one is removed', async () => {
    await c.http('POST', base, cm('held', { finalizers: ['example.com/hold'] }));
    const del = await c.http('DELETE', `${base}/held`);
    assert.equal(del.status, 200);
    assert.ok(del.json().metadata.deletionTimestamp, 'deletion is pending');
    assert.equal((await c.http('GET', `${base}/held`)).status, 200);
    const added = await c.http(
      'PATCH',
      `${base}/held`,
      { metadata: { finalizers: ['example.com/hold', 'example.com/more'] } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    assert.equal(added.status, 422);
    assert.match(added.json().message, /no new finalizers can be added if the object is being deleted/);
    const removed = await c.http('PATCH', `${base}/held`, { metadata: { finalizers: null } }, { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(removed.status, 200);
    assert.equal((await c.http('GET', `${base}/held`)).status, 404);
  });

  it('deletes a pod on a node gracefully: Terminating until the node (here: a forced delete) finishes', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1' }, spec: { nodeName: 'node01', containers: [{ name: 'c', image: 'busybox' }] } };
    assert.equal((await c.http('POST', '/api/v1/namespaces/default/pods', pod)).status, 201);
    const del = await c.http('DELETE', '/api/v1/namespaces/default/pods/p1');
    assert.equal(del.json().metadata.deletionGracePeriodSeconds, 30);
    const table = await c.k(['get', 'pod', 'p1', '--no-headers']);
    assert.match(table, /^p1\s+0\/1\s+Terminating\s+0\s+\d+s$/m);
    const forced = await c.kubectl(['delete', 'pod', 'p1', '--grace-period=0', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /Immediate deletion does not wait for confirmation/);
    assert.equal((await c.http('GET', '/api/v1/namespaces/default/pods/p1')).status, 404);
  });

  it('collects dependents when their owner goes (background), and orphans them when asked', async () => {
    const owner = (await c.http('POST', base, cm('owner'))).json();
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid };
    await c.http('POST', base, cm('dep', { ownerReferences: [ref] }));
    await c.http('DELETE', `${base}/owner`);
    await until('the dependent to be collected', async () => (await c.http('GET', `${base}/dep`)).status === 404);

    const owner2 = (await c.http('POST', base, cm('owner2'))).json();
    await c.http('POST', base, cm('dep2', { ownerReferences: [{ ...ref, name: 'owner2', uid: owner2.metadata.uid }] }));
    await c.http('DELETE', `${base}/owner2?propagationPolicy=Orphan`);
    await until('the owner to be gone', async () => (await c.http('GET', `${base}/owner2`)).status === 404);
    const dep2 = (await c.http('GET', `${base}/dep2`)).json();
    assert.deepEqual(dep2.metadata.ownerReferences ?? [], [], 'orphaned: kept, without the owner reference');
  });

  it('collects a dependent whose owner is already gone, and drops only the dangling reference when another owner lives', async () => {
    const live = (await c.http('POST', base, cm('live-owner'))).json();
    const liveRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'live-owner', uid: live.metadata.uid };
    const goneRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'never-was', uid: '0d9b6a52-0000-4000-8000-000000000000' };
    const staleUid = { ...liveRef, uid: '0d9b6a52-0000-4000-8000-000000000001' }; // the name exists, with another uid
    const unknownKind = { apiVersion: 'example.com/v1', kind: 'Widget', name: 'w', uid: '0d9b6a52-0000-4000-8000-000000000002' };
    assert.equal((await c.http('POST', base, cm('dangling', { ownerReferences: [goneRef] }))).status, 201);
    assert.equal((await c.http('POST', base, cm('stale-uid', { ownerReferences: [staleUid] }))).status, 201);
    assert.equal((await c.http('POST', base, cm('half', { ownerReferences: [liveRef, goneRef] }))).status, 201);
    assert.equal((await c.http('POST', base, cm('unresolvable', { ownerReferences: [unknownKind] }))).status, 201);
    // CustomResourceDefinitions are served read-only, made up on each read: not an owner the collector can check.
    const crd = (await c.http('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualmachineinstances.kubevirt.io')).json();
    const crdRef = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: crd.metadata.name, uid: crd.metadata.uid };
    assert.equal((await c.http('POST', base, cm('crd-owned', { ownerReferences: [crdRef] }))).status, 201);
    const noUid = await c.http('POST', base, cm('no-uid', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'live-owner', uid: '' }] }));
    assert.equal(noUid.status, 422);
    assert.match(noUid.json().message, /metadata\.ownerReferences\.uid: Invalid value: "": uid must not be empty/);
    await until('the dependents of missing owners to be collected', async () => {
      const [a, b] = await Promise.all([c.http('GET', `${base}/dangling`), c.http('GET', `${base}/stale-uid`)]);
      return a.status === 404 && b.status === 404;
    });
    await until('the dangling reference to be dropped', async () => (await c.http('GET', `${base}/half`)).json().metadata.ownerReferences?.length === 1);
    assert.deepEqual((await c.http('GET', `${base}/half`)).json().metadata.ownerReferences, [liveRef]);
    assert.equal((await c.http('GET', `${base}/unresolvable`)).status, 200, 'an owner of a kind the server does not serve cannot be checked: kept');
    assert.equal((await c.http('GET', `${base}/crd-owned`)).status, 200, 'an owner of a read-only kind cannot be checked: kept');
  });

  it('stores nothing on a dry run', async () => {
    const r = await c.kubectl(['create', '--dry-run=server', '-o', 'jsonpath={.spec.clusterIP}', '-f', '-'], walkthrough('istio-vmi-svc.yaml'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^10\.96\.\d+\.\d+$/);
    assert.equal((await c.kubectl(['get', 'svc', 'istio-vmi-svc'])).code, 1);
  });

  it('keeps a cluster IP for the life of a Service and refuses to change it', async () => {
    await c.k(['create', '-f', '-'], walkthrough('istio-vmi-svc.yaml'));
    const ip = await c.k(['get', 'svc', 'istio-vmi-svc', '-o', 'jsonpath={.spec.clusterIP}']);
    const taken = await c.kubectl(
      ['create', '-f', '-'],
      walkthrough('istio-vmi-svc.yaml').replace('name: istio-vmi-svc', 'name: other').replace('spec:', `spec:\n  clusterIP: ${ip}`),
    );
    assert.match(taken.stderr, /failed to allocate IP .*: provided IP is already allocated/);
    const changed = await c.kubectl(['patch', 'svc', 'istio-vmi-svc', '--type', 'merge', '-p', '{"spec":{"clusterIP":"10.96.200.200"}}']);
    assert.notEqual(changed.code, 0);
    assert.match(changed.stderr, /may not change once set|field is immutable/);
  });

  it('counts generation on spec changes only, and conflicts on a stale resourceVersion', async () => {
    const made = (
      await c.http('POST', '/apis/networking.istio.io/v1/namespaces/default/destinationrules', {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'dr' },
        spec: { host: 'istio-vmi-svc' },
      })
    ).json();
    assert.equal(made.metadata.generation, 1);
    const path = '/apis/networking.istio.io/v1beta1/namespaces/default/destinationrules/dr';
    const asBeta = (await c.http('GET', path)).json();
    assert.equal(asBeta.apiVersion, 'networking.istio.io/v1beta1', 'served under both versions');
    const labelled = (await c.http('PATCH', path, { metadata: { labels: { a: 'b' } } }, { 'Content-Type': 'application/merge-patch+json' })).json();
    assert.equal(labelled.metadata.generation, 1);
    const respec = (
      await c.http('PATCH', path, { spec: { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } }, { 'Content-Type': 'application/merge-patch+json' })
    ).json();
    assert.equal(respec.metadata.generation, 2);
    const stale = await c.http('PUT', path, { ...asBeta, spec: { host: 'x' } });
    assert.equal(stale.status, 409);
    assert.equal(
      stale.json().message,
      'Operation cannot be fulfilled on destinationrules.networking.istio.io "dr": the object has been modified; please apply your changes to the latest version and try again',
    );
  });

  it('streams kubectl get -w as table rows', async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const child = spawn('kubectl', ['get', 'vmi', '-w'], {
      env: { PATH: process.env.PATH, HOME: c.dir, KUBECONFIG: c.api.kubeconfigPath, KUBECACHEDIR: join(c.dir, 'kube-cache') },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      await new Promise((r) => setTimeout(r, 1000));
      await c.k(['create', '-f', '-'], walkthrough('cirros-vmi.yaml'));
      await until('kubectl get -w to print the new VMI', async () => /cirros-vmi\s+\d+s\s+Pending/.test(out));
      assert.match(out, /^NAME\s+AGE\s+PHASE\s+IP\s+NODENAME\s+READY/m);
    } finally {
      child.kill();
    }
  });
});

describe('chunked lists', () => {
  const c = useCluster();
  it('pages with limit and continue, and kubectl --chunk-size reads every page', async () => {
    for (let i = 0; i < 7; i++) await c.http('POST', '/api/v1/namespaces/default/configmaps', cm(`page-${i}`));
    const first = (await c.http('GET', '/api/v1/namespaces/default/configmaps?limit=3')).json();
    assert.equal(first.items.length, 3);
    assert.equal(first.metadata.remainingItemCount, 4);
    const second = (await c.http('GET', `/api/v1/namespaces/default/configmaps?limit=3&continue=${encodeURIComponent(first.metadata.continue)}`)).json();
    assert.deepEqual(
      second.items.map((o: { metadata: { name: string } }) => o.metadata.name),
      ['page-3', 'page-4', 'page-5'],
    );
    const bad = await c.http('GET', '/api/v1/namespaces/default/configmaps?limit=3&continue=garbage');
    assert.equal(bad.status, 400);
    assert.match(bad.json().message, /^continue key is not valid/);
    const all = await c.k(['get', 'configmaps', '--chunk-size=2', '-o', 'name']);
    assert.equal(
      all
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('configmap/page-')).length,
      7,
    );
  });
});

describe('garbage collection across a restart', () => {
  it('collects dependents whose owner was removed while the server was down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtmesh-gc-restart-'));
    const stateDir = join(dir, 'state');
    try {
      let api = await startApiServer({ stateDir, port: 0 });
      let http = httpTo(api.url, api.caCert, api.adminToken);
      const owner = (await http('POST', '/api/v1/namespaces/default/configmaps', configMap('owner'))).json();
      const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid };
      assert.equal((await http('POST', '/api/v1/namespaces/default/configmaps', configMap('dep', { ownerReferences: [ref] }))).status, 201);
      await api.close();
      // What a crash between the owner's deletion and the collection leaves: the owner gone, the dependent still there.
      const store = new Store(join(stateDir, 'store.db'));
      store.delete({ group: '', resource: 'configmaps' }, 'default', 'owner');
      store.close();
      api = await startApiServer({ stateDir, port: 0 });
      http = httpTo(api.url, api.caCert, api.adminToken);
      try {
        await until('the dependent to be collected', async () => (await http('GET', '/api/v1/namespaces/default/configmaps/dep')).status === 404);
      } finally {
        await api.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
