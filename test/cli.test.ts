// `virtmesh cluster up | down | status` and `virtmesh kubeconfig`, run as a user runs them.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { kubectlIn } from './helpers/cluster.js';
import { isAlive, virtmesh } from './helpers/daemon.js';

describe('virtmesh cluster lifecycle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-cli-'));
  const state = join(dir, 'state');
  const pidOf = () => JSON.parse(readFileSync(join(state, 'run', 'cluster.json'), 'utf8')).pid as number;
  after(async () => {
    await virtmesh(['cluster', 'down'], state);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says what to do when no cluster runs', async () => {
    const st = await virtmesh(['cluster', 'status'], state);
    assert.equal(st.code, 3);
    assert.match(st.stdout, /not running/);
    const kc = await virtmesh(['kubeconfig'], state);
    assert.equal(kc.code, 1);
    assert.match(kc.stderr, /not running.*virtmesh cluster up/);
  });

  it('comes up with progress, and a second up is a no-op', async () => {
    const up = await virtmesh(['cluster', 'up'], state);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /• Starting the cluster daemon \.\.\. done \(\d+\.\ds\)/);
    assert.match(up.stdout, /• Waiting for the API server to answer \.\.\. done/);
    assert.match(up.stdout, /export KUBECONFIG=\$\(virtmesh kubeconfig\)/);
    const pid = pidOf();
    const again = await virtmesh(['cluster', 'up'], state);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already running/);
    assert.equal(pidOf(), pid);
    const st = await virtmesh(['cluster', 'status'], state);
    assert.equal(st.code, 0);
    assert.match(st.stdout, /API server\s+https:\/\/127\.0\.0\.1:\d+\s+ready/);
  });

  it('prints a kubeconfig that stock kubectl uses', async () => {
    const kc = await virtmesh(['kubeconfig'], state);
    assert.equal(kc.code, 0);
    const path = kc.stdout.trim();
    assert.equal(path, join(state, 'kubeconfig'));
    const kubectl = kubectlIn(dir, path);
    const r = await kubectl(['get', 'namespaces', '-o', 'name']);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['namespace/default', 'namespace/kube-node-lease', 'namespace/kube-public', 'namespace/kube-system']);
    assert.equal((await kubectl(['create', 'configmap', 'kept', '--from-literal=a=b'])).code, 0);
  });

  it('down --keep-state stops the daemon and keeps objects for the next up', async () => {
    const pid = pidOf();
    const down = await virtmesh(['cluster', 'down', '--keep-state'], state);
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!isAlive(pid), 'daemon stopped');
    assert.ok(existsSync(join(state, 'store.db')));
    assert.equal((await virtmesh(['cluster', 'up'], state)).code, 0);
    const kubectl = kubectlIn(dir, join(state, 'kubeconfig'));
    const r = await kubectl(['get', 'configmap', 'kept', '-o', 'jsonpath={.data.a}']);
    assert.equal(r.stdout, 'b');
  });

  it('down removes every process and file it made', async () => {
    const pid = pidOf();
    const down = await virtmesh(['cluster', 'down'], state);
    assert.equal(down.code, 0);
    assert.match(down.stdout, /Removing /);
    assert.ok(!isAlive(pid));
    assert.ok(!existsSync(state), 'state directory removed');
    const again = await virtmesh(['cluster', 'down'], state);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /No cluster daemon is running/);
  });
});
