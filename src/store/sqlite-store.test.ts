import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Store } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'virtmesh-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pods = { group: '', resource: 'pods' };

describe('Store', () => {
  it('hands out monotonic resourceVersions and keeps them across reopen', () => {
    const path = join(dir, 'a.db');
    const s = new Store(path);
    const a = s.create(pods, 'default', 'a', { metadata: { name: 'a' } });
    const b = s.update(pods, 'default', 'a', { metadata: { name: 'a' }, spec: { x: 1 } }, a.metadata?.resourceVersion);
    assert.ok(Number(b.metadata?.resourceVersion) > Number(a.metadata?.resourceVersion));
    s.close();
    const s2 = new Store(path);
    assert.equal(s2.resourceVersion, Number(b.metadata?.resourceVersion));
    assert.deepEqual(s2.get(pods, 'default', 'a')?.spec, { x: 1 });
    const c = s2.create(pods, 'default', 'c', { metadata: { name: 'c' } });
    assert.ok(Number(c.metadata?.resourceVersion) > Number(b.metadata?.resourceVersion));
    s2.close();
  });

  it('refuses duplicates, stale updates and missing objects with registry codes', () => {
    const s = new Store(join(dir, 'b.db'));
    s.create(pods, 'ns', 'x', { metadata: { name: 'x' } });
    assert.throws(() => s.create(pods, 'ns', 'x', {}), { code: 'VM_ERR_STORE_ALREADY_EXISTS', message: 'pods "x" already exists' });
    assert.throws(() => s.update(pods, 'ns', 'x', {}, '999'), { code: 'VM_ERR_STORE_CONFLICT' });
    assert.throws(() => s.delete({ group: 'kubevirt.io', resource: 'virtualmachineinstances' }, 'ns', 'nope'), {
      code: 'VM_ERR_STORE_NOT_FOUND',
      message: 'virtualmachineinstances.kubevirt.io "nope" not found',
    });
    s.close();
  });

  it('replays changes since a resourceVersion per namespace, and expires old ones', () => {
    const s = new Store(join(dir, 'c.db'), { changeLogSize: 5 });
    const start = s.resourceVersion;
    s.create(pods, 'one', 'p', { metadata: { name: 'p' } });
    s.create(pods, 'two', 'q', { metadata: { name: 'q' } });
    s.delete(pods, 'one', 'p');
    const all = s.changesSince(pods, start);
    assert.ok(all !== 'expired');
    assert.deepEqual(
      all.map((c) => `${c.type} ${c.namespace}/${c.name}`),
      ['ADDED one/p', 'ADDED two/q', 'DELETED one/p'],
    );
    const one = s.changesSince(pods, start, 'one');
    assert.ok(one !== 'expired' && one.length === 2);
    for (let i = 0; i < 20; i++) s.create(pods, 'two', `n${i}`, { metadata: { name: `n${i}` } });
    assert.equal(s.changesSince(pods, start), 'expired');
    const recent = s.changesSince(pods, s.resourceVersion - 2);
    assert.ok(recent !== 'expired' && recent.length === 2);
    s.close();
  });

  it('tells subscribers about each committed write, in order', () => {
    const s = new Store(join(dir, 'd.db'));
    const seen: string[] = [];
    const stop = s.subscribe((c) => seen.push(`${c.type}:${c.name}:${c.rv}`));
    const a = s.create(pods, 'ns', 'a', { metadata: { name: 'a' } });
    s.delete(pods, 'ns', 'a');
    stop();
    s.create(pods, 'ns', 'b', {});
    assert.deepEqual(seen, [`ADDED:a:${a.metadata?.resourceVersion}`, `DELETED:a:${Number(a.metadata?.resourceVersion) + 1}`]);
    s.close();
  });
});
