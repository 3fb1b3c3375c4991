// `virtmesh cluster up | down | status` and `virtmesh kubeconfig`, run as a user runs them.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { kubectlIn } from './helpers/cluster.js';
import { isAlive, virtmesh } from './helpers/daemon.js';
import { startStandaloneConsole } from './helpers/observability.js';

/** One HTTP/1.1 exchange on a fresh connection, as sent; the whole answer as text. */
function rawRequest(port: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (answer += d));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer from 127.0.0.1:${port}`)));
  });
}

describe('virtmesh cluster lifecycle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-cli-'));
  const state = join(dir, 'state');
  const pidOf = () => JSON.parse(readFileSync(join(state, 'run', 'cluster.json'), 'utf8')).pid as number;
  let accelVerdict = '';
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
    const dash = await virtmesh(['dashboard', '--no-browser'], state);
    assert.equal(dash.code, 1);
    assert.match(dash.stderr, /not running.*virtmesh cluster up/);
  });

  it('refuses a bad VIRTMESH_EXTERNAL_STAND_IN before making anything', async () => {
    const up = await virtmesh(['cluster', 'up'], state, { VIRTMESH_EXTERNAL_STAND_IN: 'kubevirt.io,bad name' });
    assert.equal(up.code, 1);
    assert.match(
      up.stderr,
      /VIRTMESH_EXTERNAL_STAND_IN: "bad name" is not a host name with a domain \(expected names like kubevirt\.io, separated by commas\)/,
    );
    assert.equal(existsSync(state), false, 'no state directory');
  });

  it('refuses a bad VIRTMESH_VM_ACCEL before making anything', async () => {
    const up = await virtmesh(['cluster', 'up'], state, { VIRTMESH_VM_ACCEL: 'hvf' });
    assert.equal(up.code, 1);
    assert.match(up.stderr, /^error: VIRTMESH_VM_ACCEL: "hvf" is not one of auto, kvm, tcg$/m);
    assert.equal(existsSync(state), false, 'no state directory');
  });

  it('comes up with progress, and a second up is a no-op', async () => {
    const up = await virtmesh(['cluster', 'up'], state);
    assert.equal(up.code, 0, up.stderr);
    // The accelerator is what a guest boot under KVM showed, never what /dev/kvm's existence suggests.
    assert.match(up.stdout, /• Choosing the accelerator for VMs \.\.\. done/);
    const verdict = /^• VMs run with (.+)$/m.exec(up.stdout)?.[1] ?? '';
    if (!existsSync('/dev/kvm')) assert.equal(verdict, 'TCG: no /dev/kvm');
    else assert.match(verdict, /^(KVM \(host CPU\)|KVM \(CPU model .+\)|TCG: \/dev\/kvm (present but a guest does not boot under it|cannot be opened): .+)$/);
    accelVerdict = verdict;
    assert.match(up.stdout, /• Starting the cluster daemon \.\.\. done \(\d+\.\ds\)/);
    assert.match(up.stdout, /• Waiting for the API server to answer \.\.\. done/);
    assert.match(up.stdout, /export KUBECONFIG=\$\(virtmesh kubeconfig\)/);
    const pid = pidOf();
    const again = await virtmesh(['cluster', 'up'], state);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already running/);
    assert.equal(pidOf(), pid);
    // A setting that only a new start can apply is pointed out, not silently ignored.
    const withStandIn = await virtmesh(['cluster', 'up'], state, { VIRTMESH_EXTERNAL_STAND_IN: 'kubevirt.io' });
    assert.match(withStandIn.stdout, /note: it runs no external stand-in; VIRTMESH_EXTERNAL_STAND_IN=kubevirt\.io takes effect at the next/);
    const st = await virtmesh(['cluster', 'status'], state);
    assert.equal(st.code, 0);
    assert.match(st.stdout, /API server\s+https:\/\/127\.0\.0\.1:\d+\s+ready/);
    assert.equal(/^ {2}VMs {9}(.+)$/m.exec(st.stdout)?.[1], accelVerdict, 'status says the same verdict as up');
  });

  it('VIRTMESH_VM_ACCEL=kvm takes KVM where a guest boots under it, and fails clearly where none does', async () => {
    const forced = await virtmesh(['images', '--build'], state, { VIRTMESH_VM_ACCEL: 'kvm' });
    if (accelVerdict.startsWith('KVM')) {
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /^• VMs run with KVM/m);
    } else {
      assert.equal(forced.code, 1);
      assert.match(
        forced.stderr,
        /^error: VIRTMESH_VM_ACCEL=kvm, but KVM cannot run a guest here: .+; unset it \(auto picks TCG\) or set VIRTMESH_VM_ACCEL=tcg$/m,
      );
    }
    const tcg = await virtmesh(['images', '--build'], state, { VIRTMESH_VM_ACCEL: 'tcg' });
    assert.match(tcg.stdout, /^• VMs run with TCG \(VIRTMESH_VM_ACCEL=tcg\)$/m);
  });

  it('runs Prometheus and the console on loopback, and `virtmesh dashboard` says where', async () => {
    const info = JSON.parse(readFileSync(join(state, 'run', 'cluster.json'), 'utf8'));
    const dash = await virtmesh(['dashboard', '--no-browser'], state);
    assert.equal(dash.code, 0, dash.stderr);
    assert.equal(dash.stdout.split('\n')[0], info.consoleUrl);
    assert.match(info.consoleUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(info.consoleUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script/);
    const prom = await virtmesh(['dashboard', 'prometheus', '--no-browser'], state);
    assert.equal(prom.stdout.split('\n')[0], info.prometheusUrl);
    // Prometheus takes a moment to open its database; the console's status says when it answers.
    let status: any;
    for (let i = 0; i < 100 && !status?.prometheus.ok; i++) {
      if (i) await new Promise((r) => setTimeout(r, 200));
      status = await (await fetch(`${info.consoleUrl}/api/status`)).json();
    }
    assert.deepEqual([status.prometheus.ok, status.kubernetes.ok, status.controlPlane.ok], [true, true, true], JSON.stringify(status));
    const st = await virtmesh(['cluster', 'status'], state);
    assert.match(st.stdout, new RegExp(`console\\s+${info.consoleUrl}`));
    const bad = await virtmesh(['dashboard', 'grafana'], state);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown dashboard "grafana": choose kiali/);
    const badUrl = await virtmesh(['dashboard', '--prometheus', 'not a url'], state);
    assert.equal(badUrl.code, 1);
    assert.match(badUrl.stderr, /--prometheus "not a url" is not a URL/);
    const wrongMethod = await fetch(`${info.consoleUrl}/api/status`, { method: 'POST' });
    assert.equal(wrongMethod.status, 405);
    const unknown = await fetch(`${info.consoleUrl}/api/nothing`);
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error, /no such API endpoint/);
    // Bad parameters are 400s that name the parameter; nothing reaches Prometheus with them.
    for (const [path, status, message] of [
      ['/api/namespaces/graph?namespaces=default&graphType=tree', 400, /graphType "tree" is not one of workload, app, versionedApp, service/],
      ['/api/namespaces/graph', 400, /namespaces is required/],
      ['/api/namespaces/graph?namespaces=Bad_NS', 400, /namespace "Bad_NS" is not a valid namespace name/],
      ['/api/namespaces/graph?namespaces=default&duration=soon', 400, /duration "soon" is not a duration/],
      ['/api/namespaces/default/workloads/istio-vmi/metrics?direction=sideways', 400, /direction "sideways" is not inbound or outbound/],
      ['/api/namespaces/default/workloads/istio-vmi/metrics?byLabels=code)%20or%20vector(1', 400, /byLabels|label/],
      ['/api/namespaces/default/workloads/nothing-here', 404, /workload "nothing-here" not found in namespace default/],
    ] as const) {
      const r = await fetch(`${info.consoleUrl}${path}`);
      assert.equal(r.status, status, path);
      assert.match((await r.json()).error, message, path);
    }
    // What a browser never sends, sent raw: the daemon answers and lives on.
    const port = new URL(info.consoleUrl).port;
    assert.match(await rawRequest(port, 'GET http://[/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), /^HTTP\/1\.1 400 .*is not a valid URL/s);
    assert.match(await rawRequest(port, 'GET /../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), /^HTTP\/1\.1 200 .*<script/s);
    assert.match(await rawRequest(port, 'GET /api/status HTTP/1.1\r\nHost: rebound.example:80\r\n\r\n'), /^HTTP\/1\.1 403 .*127\.0\.0\.1 or localhost only/s);
    assert.match(await rawRequest(port, 'GET /api/namespaces/default/workloads/%E0%A4%A HTTP/1.1\r\nHost: localhost\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.ok(isAlive(pidOf()), 'the daemon lives on');
    // The scale-out path: the console against another cluster's API server and Prometheus, named by a
    // kubeconfig, from a machine (here: a state directory) with no cluster of its own.
    const elsewhere = join(dir, 'no-cluster-here');
    const remote = await startStandaloneConsole(elsewhere, info.prometheusUrl, ['--kubeconfig', join(state, 'kubeconfig')]);
    try {
      const names = (await (await fetch(`${remote.url}/api/namespaces`)).json()).map((n: { name: string }) => n.name);
      assert.ok(names.includes('istio-system') && names.includes('default'), names.join(' '));
      const remoteStatus = await (await fetch(`${remote.url}/api/status`)).json();
      assert.deepEqual([remoteStatus.prometheus.ok, remoteStatus.kubernetes.ok], [true, true], JSON.stringify(remoteStatus));
    } finally {
      await remote.stop();
    }
    const noFile = await virtmesh(['dashboard', '--prometheus', info.prometheusUrl, '--kubeconfig', join(dir, 'missing')], elsewhere);
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /cannot use the kubeconfig .*missing: .*ENOENT/);
    const badContext = await virtmesh(
      ['dashboard', '--prometheus', info.prometheusUrl, '--kubeconfig', join(state, 'kubeconfig'), '--context', 'prod'],
      elsewhere,
    );
    assert.match(badContext.stderr, /cannot use the kubeconfig .*: context "prod" is not in /);
    const alone = await virtmesh(['dashboard', '--kubeconfig', join(state, 'kubeconfig')], elsewhere);
    assert.match(alone.stderr, /--kubeconfig needs --prometheus/);
    const graph = await (await fetch(`${info.consoleUrl}/api/namespaces/graph?namespaces=default`)).json();
    assert.deepEqual(graph.elements, { nodes: [], edges: [] }, 'no traffic, no nodes');
  });

  it('prints a kubeconfig that stock kubectl uses', async () => {
    const kc = await virtmesh(['kubeconfig'], state);
    assert.equal(kc.code, 0);
    const path = kc.stdout.trim();
    assert.equal(path, join(state, 'kubeconfig'));
    const kubectl = kubectlIn(dir, path);
    const r = await kubectl(['get', 'namespaces', '-o', 'name']);
    // istio-system holds the mesh control plane's Service and mesh config, as an Istio install leaves it.
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [
      'namespace/default',
      'namespace/istio-system',
      'namespace/kube-node-lease',
      'namespace/kube-public',
      'namespace/kube-system',
    ]);
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
    const prometheusPid = Number(readFileSync(join(state, 'run', 'prometheus.pid'), 'utf8'));
    const down = await virtmesh(['cluster', 'down'], state);
    assert.equal(down.code, 0);
    assert.match(down.stdout, /Removing /);
    assert.ok(!isAlive(pid));
    assert.ok(!isAlive(prometheusPid), 'Prometheus stopped');
    assert.ok(!existsSync(state), 'state directory removed');
    const again = await virtmesh(['cluster', 'down'], state);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /No cluster daemon is running/);
  });
});

describe('virtmesh cluster with stale or broken run files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-cli-stale-'));
  const state = join(dir, 'state');
  after(async () => {
    await virtmesh(['cluster', 'down'], state);
    rmSync(dir, { recursive: true, force: true });
  });

  it('never signals an unrelated process named by a stale run file, and starts anyway', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      mkdirSync(join(state, 'run'), { recursive: true });
      writeFileSync(join(state, 'run', 'cluster.json'), JSON.stringify({ pid: bystander.pid, url: 'https://127.0.0.1:1', port: 1, startedAt: 'then' }));
      const down = await virtmesh(['cluster', 'down', '--keep-state'], state);
      assert.match(down.stdout, /No cluster daemon is running/);
      assert.ok(isAlive(bystander.pid ?? 0), 'the bystander lives');
      const up = await virtmesh(['cluster', 'up'], state);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      assert.ok(isAlive(bystander.pid ?? 0), 'the bystander still lives');
    } finally {
      bystander.kill();
    }
  });

  it('refuses a second daemon on the same state directory', async () => {
    const second = await virtmesh(['cluster', 'up', '--foreground'], state);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /a virtmesh cluster daemon already runs on the state directory .* \(pid \d+\)/);
    const status = await virtmesh(['cluster', 'status'], state);
    assert.equal(status.code, 0, 'the first daemon is untouched');
  });

  it('treats a run file cut short by a crash as no daemon', async () => {
    const { writeFileSync } = await import('node:fs');
    const down = await virtmesh(['cluster', 'down', '--keep-state'], state);
    assert.equal(down.code, 0);
    writeFileSync(join(state, 'run', 'cluster.json'), '{"pid": 12');
    const st = await virtmesh(['cluster', 'status'], state);
    assert.equal(st.code, 3);
    assert.match(st.stdout, /not running/);
  });
});
