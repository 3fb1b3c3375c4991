// Watch: resume from a resourceVersion, 410 Gone past the change log, bookmarks,
// selector-filtered events, and kubectl wait on a status condition.

import assert from 'node:assert/strict';
import { request } from 'node:https';
import { describe, it } from 'node:test';
import { configMap, type TestCluster, useCluster, walkthrough } from './helpers/cluster.js';

interface WatchEvent {
  type: string;
  object: { kind?: string; metadata?: { name?: string; resourceVersion?: string }; code?: number; message?: string };
}

/** Opens a watch and collects events until `until` returns true (or the timeout). */
function watch(c: TestCluster, path: string, until: (events: WatchEvent[]) => boolean, timeoutMs = 10_000): Promise<WatchEvent[]> {
  return new Promise((resolve, reject) => {
    const events: WatchEvent[] = [];
    let buf = '';
    const req = request(`${c.api.url}${path}`, { ca: c.api.caCert, headers: { Authorization: `Bearer ${c.api.adminToken}` } }, (res) => {
      res.on('data', (d) => {
        buf += d;
        let i = buf.indexOf('\n');
        while (i >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
          i = buf.indexOf('\n');
        }
        if (until(events)) {
          req.destroy();
          resolve(events);
        }
      });
      res.on('end', () => resolve(events));
    });
    req.on('error', (e) => (e.message === 'socket hang up' ? resolve(events) : reject(e)));
    setTimeout(() => {
      req.destroy();
      resolve(events);
    }, timeoutMs).unref();
    req.end();
  });
}

const cm = (name: string, labels: Record<string, string> = {}) => configMap(name, { labels }, { k: 'v' });

describe('watch', () => {
  const c = useCluster({ bookmarkIntervalMs: 200, changeLogSize: 50 });
  const base = '/api/v1/namespaces/default/configmaps';

  it('resumes from a list resourceVersion and sees later changes in order', async () => {
    const rv = (await c.http('GET', base)).json().metadata.resourceVersion;
    await c.http('POST', base, cm('w1'));
    await c.http('PUT', `${base}/w1`, { ...cm('w1'), data: { k: 'v2' } });
    await c.http('DELETE', `${base}/w1`);
    const events = await watch(c, `${base}?watch=true&resourceVersion=${rv}`, (e) => e.length >= 3);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata?.name}`),
      ['ADDED w1', 'MODIFIED w1', 'DELETED w1'],
    );
    const rvs = events.map((e) => Number(e.object.metadata?.resourceVersion));
    assert.ok(rvs[0] > Number(rv) && rvs[1] > rvs[0] && rvs[2] > rvs[1], `monotonic: ${rvs}`);
  });

  it('answers 410 Gone for a resourceVersion older than the change log', async () => {
    const old = (await c.http('GET', base)).json().metadata.resourceVersion;
    for (let i = 0; i < 60; i++) await c.http('POST', base, cm(`churn-${i}`));
    const events = await watch(c, `${base}?watch=true&resourceVersion=${old}`, (e) => e.length >= 1);
    assert.equal(events[0].type, 'ERROR');
    assert.equal(events[0].object.code, 410);
    assert.match(events[0].object.message ?? '', /^too old resource version: \d+ \(\d+\)$/);
  });

  it('sends bookmarks when asked', async () => {
    const rv = (await c.http('GET', base)).json().metadata.resourceVersion;
    const events = await watch(c, `${base}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`, (e) => e.some((x) => x.type === 'BOOKMARK'));
    const bm = events.find((e) => e.type === 'BOOKMARK');
    assert.ok(bm, 'a bookmark arrived');
    assert.equal(bm.object.kind, 'ConfigMap');
    assert.ok(Number(bm.object.metadata?.resourceVersion) >= Number(rv));
  });

  it('turns "no longer matches the selector" into DELETED', async () => {
    await c.http('POST', base, cm('sel', { team: 'a' }));
    const pending = watch(c, `${base}?watch=true&labelSelector=team%3Da`, (e) => e.some((x) => x.type === 'DELETED'));
    await new Promise((r) => setTimeout(r, 300));
    await c.http('PATCH', `${base}/sel`, { metadata: { labels: { team: 'b' } } }, { 'Content-Type': 'application/merge-patch+json' });
    const events = await pending;
    assert.deepEqual(
      events.map((e) => e.type),
      ['ADDED', 'DELETED'],
    );
  });

  it('lets kubectl wait for a condition set through the status subresource', async () => {
    await c.k(['create', '-f', '-'], walkthrough('cirros-vmi.yaml'));
    const waiting = c.kubectl(['wait', '--for=condition=Ready', 'vmi/cirros-vmi', '--timeout=20s']);
    await new Promise((r) => setTimeout(r, 1000));
    const statusPath = '/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/cirros-vmi/status';
    const vmi = (await c.http('GET', statusPath)).json();
    vmi.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
    vmi.spec.domain.cpu = { cores: 4 };
    const put = await c.http('PUT', statusPath, vmi);
    assert.equal(put.status, 200, put.body);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'virtualmachineinstance.kubevirt.io/cirros-vmi condition met');
    const stored = (await c.http('GET', statusPath)).json();
    assert.notEqual(stored.spec.domain.cpu?.cores, 4, 'the status subresource does not change spec');
    const table = await c.k(['get', 'vmi', 'cirros-vmi']);
    assert.match(table, /^cirros-vmi\s+\d+s\s+Running\s+True$/m);
  });
});
