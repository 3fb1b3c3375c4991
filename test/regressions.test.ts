// One test per bug found in review of the API server, each reproducing the original failure.

import assert from 'node:assert/strict';
import { request } from 'node:https';
import { describe, it } from 'node:test';
import { configMap, until, useCluster } from './helpers/cluster.js';

const cm = configMap;
const merge = { 'Content-Type': 'application/merge-patch+json' };

describe('regressions', () => {
  const c = useCluster();
  const cms = (ns = 'default') => `/api/v1/namespaces/${ns}/configmaps`;

  it('kubectl delete --dry-run=server deletes nothing (dryRun in the DELETE body)', async () => {
    await c.http('POST', cms(), cm('dry'));
    const r = await c.kubectl(['delete', 'configmap', 'dry', '--dry-run=server']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deleted \(server dry run\)/);
    assert.equal((await c.http('GET', `${cms()}/dry`)).status, 200);
  });

  it('refuses a grace period that is not an integer', async () => {
    await c.http('POST', cms(), cm('grace'));
    for (const g of ['abc', '', '1.5']) {
      const r = await c.http('DELETE', `${cms()}/grace?gracePeriodSeconds=${g}`);
      assert.equal(r.status, 400, `gracePeriodSeconds=${g}`);
    }
    assert.equal((await c.http('GET', `${cms()}/grace`)).status, 200);
  });

  it('survives a pod with an absurd grace period in a namespace being deleted', async () => {
    await c.k(['create', 'namespace', 'absurd']);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { nodeName: 'node01', terminationGracePeriodSeconds: 1e13, containers: [{ name: 'c', image: 'i' }] },
    };
    assert.equal((await c.http('POST', '/api/v1/namespaces/absurd/pods', pod)).status, 201);
    await c.http('DELETE', '/api/v1/namespaces/absurd');
    await new Promise((r) => setTimeout(r, 1500));
    const p = (await c.http('GET', '/api/v1/namespaces/absurd/pods/p')).json();
    assert.ok(Date.parse(p.metadata.deletionTimestamp) > Date.now(), 'graceful deletion pending, with a sane date');
    assert.equal((await c.http('GET', '/version')).status, 200, 'the server is still up');
    await c.http('DELETE', '/api/v1/namespaces/absurd/pods/p?gracePeriodSeconds=0');
    await until('the namespace to go', async () => (await c.http('GET', '/api/v1/namespaces/absurd')).status === 404);
  });

  it('pages across namespaces whose names sort around "/" without dropping any', async () => {
    for (const ns of ['a', 'a-b']) {
      await c.k(['create', 'namespace', ns]);
      for (const n of ['x1', 'x2']) await c.http('POST', cms(ns), cm(n));
    }
    const out = await c.k(['get', 'cm', '-A', '--chunk-size=1', '--no-headers']);
    const seen = out
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(0, 2).join('/'))
      .filter((k) => /^a(-b)?\/x/.test(k));
    assert.deepEqual(seen.sort(), ['a-b/x1', 'a-b/x2', 'a/x1', 'a/x2']);
  });

  it('keeps a terminating namespace (and its content) while a finalizer holds an object in it', async () => {
    await c.k(['create', 'namespace', 'held']);
    await c.http('POST', cms('held'), cm('pinned', { finalizers: ['example.com/hold'] }));
    await c.http('DELETE', '/api/v1/namespaces/held');
    const patched = await c.http('PATCH', '/api/v1/namespaces/held', { metadata: { labels: { touched: 'yes' } } }, merge);
    assert.equal(patched.status, 200);
    await new Promise((r) => setTimeout(r, 1200));
    const ns = (await c.http('GET', '/api/v1/namespaces/held')).json();
    assert.equal(ns.status.phase, 'Terminating');
    await c.http('PATCH', `${cms('held')}/pinned`, { metadata: { finalizers: null } }, merge);
    await until('the namespace to go once empty', async () => (await c.http('GET', '/api/v1/namespaces/held')).status === 404);
  });

  it('tells a resumed, label-filtered watch about an object that was relabelled away and deleted', async () => {
    await c.http('POST', cms(), cm('sel', { labels: { app: 'x' } }));
    const rv = (await c.http('GET', `${cms()}?labelSelector=app%3Dx`)).json().metadata.resourceVersion;
    await c.http('PATCH', `${cms()}/sel`, { metadata: { labels: { app: 'y' } } }, merge);
    await c.http('DELETE', `${cms()}/sel`);
    const events = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      const req = request(
        `${c.api.url}${cms()}?watch=true&labelSelector=app%3Dx&resourceVersion=${rv}&timeoutSeconds=1`,
        { ca: c.api.caCert, headers: { Authorization: `Bearer ${c.api.adminToken}` } },
        (res) => {
          let buf = '';
          res.on('data', (d) => (buf += d));
          res.on('end', () => {
            for (const line of buf.trim().split('\n').filter(Boolean)) seen.push(JSON.parse(line).type);
            resolve(seen);
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(events, ['DELETED'], 'the client learns the object left its selection');
  });

  it('cuts off a watcher that stops reading instead of buffering without bound', async () => {
    let stalled: import('node:http').IncomingMessage | undefined;
    const req = request(`${c.api.url}${cms()}?watch=true`, { ca: c.api.caCert, headers: { Authorization: `Bearer ${c.api.adminToken}` } }, (res) => {
      stalled = res;
      res.pause(); // the client stops reading
    });
    req.end();
    await until('the watch to open', async () => stalled !== undefined);
    const big = 'x'.repeat(900 * 1024);
    await c.http('POST', cms(), cm('bulk', {}, { big }));
    const updates = 40; // ~36 MiB of events: past the server's limit for one watcher
    for (let i = 0; i < updates; i++) await c.http('PUT', `${cms()}/bulk`, cm('bulk', {}, { big: `${i}${big}` }));
    // Reading again, the client finds the stream ended early: the server dropped it.
    const res = stalled as import('node:http').IncomingMessage;
    let events = 0;
    let buf = '';
    const ended = new Promise<boolean>((resolve) => {
      res.on('data', (d) => {
        buf += d;
        events += buf.split('\n').length - 1;
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
      res.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 15_000).unref();
    });
    res.resume();
    assert.equal(await ended, true, 'the server closed the stalled watch');
    assert.ok(events < updates + 1, `only part of the ${updates + 1} events arrived (${events})`);
    req.destroy();
  });

  it('rejects DELETE on a status subresource and apply-create through one', async () => {
    await c.http('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's1' },
      spec: { ports: [{ port: 80 }] },
    });
    assert.equal((await c.http('DELETE', '/api/v1/namespaces/default/services/s1/status')).status, 405);
    assert.equal((await c.http('GET', '/api/v1/namespaces/default/services/s1')).status, 200);
    const applied = await c.http(
      'PATCH',
      '/api/v1/namespaces/default/services/nosuch/status?fieldManager=t',
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'nosuch' } },
      { 'Content-Type': 'application/apply-patch+yaml' },
    );
    assert.equal(applied.status, 404);
  });

  it('never deletes default, kube-system or kube-public, and has no deletecollection for namespaces', async () => {
    const r = await c.kubectl(['delete', 'namespace', 'kube-system']);
    assert.match(r.stderr, /namespaces "kube-system" is forbidden: this namespace may not be deleted/);
    assert.equal((await c.http('DELETE', '/api/v1/namespaces')).status, 405);
    assert.equal((await c.http('GET', '/api/v1/namespaces/kube-system')).json().status.phase, 'Active');
  });

  it('deletes dependents first for propagationPolicy=Foreground', async () => {
    const owner = (await c.http('POST', cms(), cm('fg-owner'))).json();
    await c.http(
      'POST',
      cms(),
      cm('fg-dep', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'fg-owner', uid: owner.metadata.uid }], finalizers: ['example.com/slow'] }),
    );
    await c.http('DELETE', `${cms()}/fg-owner?propagationPolicy=Foreground`);
    await new Promise((r) => setTimeout(r, 500));
    const waiting = (await c.http('GET', `${cms()}/fg-owner`)).json();
    assert.deepEqual(waiting.metadata.finalizers, ['foregroundDeletion'], 'the owner waits for its dependent');
    await c.http('PATCH', `${cms()}/fg-dep`, { metadata: { finalizers: null } }, merge);
    await until('the owner to go after its dependent', async () => (await c.http('GET', `${cms()}/fg-owner`)).status === 404);
  });

  it('answers odd requests with 4xx, never 500', async () => {
    await c.http('POST', cms(), cm('odd'));
    const moved = await c.http('PUT', `${cms()}/odd`, cm('odd', { namespace: 'kube-system' }));
    assert.equal(moved.status, 400);
    assert.equal(moved.json().message, 'the namespace of the provided object does not match the namespace sent on the request');
    assert.equal((await c.http('DELETE', `${cms()}/odd`, 'null')).status, 200, 'a null DeleteOptions body is no options');
    assert.equal((await c.http('GET', `${cms()}/%E0%A4%A`)).status, 400);
    assert.equal((await c.http('POST', '/api/v1/configmaps', cm('nowhere'))).status, 405);
  });

  it('answers a watch at once, before any event (headers are not held back)', async () => {
    const rv = (await c.http('GET', cms())).json().metadata.resourceVersion;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${c.api.url}${cms()}?watch=true&resourceVersion=${rv}`,
        { ca: c.api.caCert, headers: { Authorization: `Bearer ${c.api.adminToken}` } },
        (res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      setTimeout(() => resolve(-1), 3000).unref();
      req.end();
    });
    assert.equal(status, 200, 'the response arrived with no event to carry it');
  });

  describe('hostile input (second review)', () => {
    const yaml = { 'Content-Type': 'application/yaml' };

    it('leaves Object.prototype alone when a body carries "__proto__" keys', async () => {
      const r = await c.http('PATCH', `${cms()}/odd2`, { __proto__: { deletionTimestamp: 'x' } }, merge);
      assert.ok(r.status >= 400);
      const raw = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"proto"},"data":{"__proto__":"kept"}}';
      assert.equal((await c.http('POST', cms(), raw)).status, 201);
      assert.equal(({} as Record<string, unknown>).deletionTimestamp, undefined);
      const stored = await c.http('GET', `${cms()}/proto`);
      assert.match(stored.body, /"__proto__":"kept"/, 'a __proto__ data key is ordinary data');
      assert.equal((await c.http('POST', cms(), configMap('after-proto'))).status, 201, 'the server still creates objects');
    });

    it('refuses YAML that is not JSON: NaN, cycles, binary, absurd nesting', async () => {
      const bodies = [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nan}\ndata: {a: .nan}\n',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cyc}\ndata: &x {a: *x}\n',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bin}\nbinaryData: {a: !!binary aGk=}\n',
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      ];
      for (const b of bodies) {
        const r = await c.http('POST', cms(), b, yaml);
        assert.equal(r.status, 400, b.slice(0, 60));
        assert.match(r.json().message, /could not be decoded/);
      }
    });

    it('does not stall on a hostile Istio duration', async () => {
      const vs = {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'slow' },
        spec: { hosts: ['a'], http: [{ timeout: `${'1'.repeat(120000)}x`, route: [{ destination: { host: 'a' } }] }] },
      };
      const t = Date.now();
      const r = await c.http('POST', '/apis/networking.istio.io/v1/namespaces/default/virtualservices', vs);
      assert.equal(r.status, 403, 'denied by validation.istio.io');
      assert.ok(Date.now() - t < 2000, `answered in ${Date.now() - t} ms`);
    });

    it('treats a resourceVersion in an applied config as a precondition', async () => {
      const path = `${cms()}/applied-rv?fieldManager=t`;
      const made = await c.http(
        'PATCH',
        path,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied-rv' }, data: { a: '1' } },
        { 'Content-Type': 'application/apply-patch+yaml' },
      );
      assert.equal(made.status, 201);
      const stale = await c.http(
        'PATCH',
        path,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied-rv', resourceVersion: '1' }, data: { a: '2' } },
        { 'Content-Type': 'application/apply-patch+yaml' },
      );
      assert.equal(stale.status, 409);
    });

    it('refuses a patch that removes or changes the name', async () => {
      await c.http('POST', cms(), configMap('named', { labels: { keep: 'me' } }));
      const gone = await c.http('PATCH', `${cms()}/named`, { metadata: null }, merge);
      assert.equal(gone.status, 400);
      assert.equal(gone.json().message, 'the name of the object () does not match the name on the URL (named)');
      assert.equal((await c.http('GET', `${cms()}/named`)).json().metadata.labels.keep, 'me');
    });

    it('refuses integers past their format (int32 grace period)', async () => {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'big' },
        spec: { terminationGracePeriodSeconds: 1e300, containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 2 ** 40 }] }] },
      };
      const r = await c.http('POST', '/api/v1/namespaces/default/pods', pod);
      assert.equal(r.status, 422);
      assert.match(r.json().message, /containerPort: Invalid value: 1099511627776: must fit in a 32-bit integer/);
    });
  });
});
