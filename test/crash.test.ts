// kill -9 during writes: every write the server acknowledged is there after a restart,
// and resourceVersions keep growing.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { httpTo } from './helpers/cluster.js';
import { isAlive, startForeground, virtmesh } from './helpers/daemon.js';

describe('crash safety', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-crash-'));
  const children: number[] = [];
  after(async () => {
    for (const pid of children) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await virtmesh(['cluster', 'down'], join(dir, 'state')); // removes what the killed daemon's node left
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged write across SIGKILL', async () => {
    const state = join(dir, 'state');
    const first = await startForeground(state);
    children.push(first.child.pid ?? 0);
    const http = httpTo(first.url, first.ca, first.token);
    const acknowledged = new Map<string, number>();
    let stop = false;
    // Four writers create ConfigMaps as fast as the server takes them, until the kill.
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 5000; i++) {
        const name = `w${w}-${i}`;
        try {
          const r = await http('POST', '/api/v1/namespaces/default/configmaps', {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name },
            data: { i: String(i) },
          });
          if (r.status === 201) acknowledged.set(name, Number(r.json().metadata.resourceVersion));
        } catch {
          return; // the server died under this request: not acknowledged
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    while (acknowledged.size < 200) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await new Promise((r) => first.child.once('exit', r));

    const second = await startForeground(state);
    children.push(second.child.pid ?? 0);
    const http2 = httpTo(second.url, second.ca, second.token);
    const list = (await http2('GET', '/api/v1/namespaces/default/configmaps')).json();
    const stored = new Map<string, number>(
      list.items.map((o: { metadata: { name: string; resourceVersion: string } }) => [o.metadata.name, Number(o.metadata.resourceVersion)]),
    );
    const lost = [...acknowledged.keys()].filter((n) => !stored.has(n));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged writes were lost`);
    for (const [name, rv] of acknowledged) assert.equal(stored.get(name), rv, `${name} kept its resourceVersion`);
    const maxBefore = Math.max(...stored.values());
    const after = await http2('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-restart' } });
    assert.equal(after.status, 201);
    assert.ok(Number(after.json().metadata.resourceVersion) > maxBefore, 'resourceVersion is monotonic across the crash');
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  });
});
