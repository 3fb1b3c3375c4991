// `kubectl logs` against container output files, as the node agent leaves them;
// the files here are written by the test, so no VM is needed.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { until, useCluster } from './helpers/cluster.js';

const POD = 'virt-launcher-demo';

const podYaml = (name: string, annotate = true) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
${annotate ? '  annotations:\n    kubectl.kubernetes.io/default-container: compute\n' : ''}spec:
  containers:
  - name: compute
    image: quay.io/kubevirt/virt-launcher:v1.5.0
  - name: volumecontainerdisk
    image: quay.io/containerdisks/cirros:6.2
`;

describe('kubectl logs', () => {
  const c = useCluster({
    containerLogs: {
      // A container named "pending" never gets a file: it has not started.
      logPath: (pod, container) => (container === 'pending' ? undefined : join(c.dir, 'logs', `${pod.metadata?.name}_${container}.log`)),
    },
  });
  const logFile = (pod: string, container: string) => join(c.dir, 'logs', `${pod}_${container}.log`);
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill();
  });

  it('setup: a two-container pod and its output files', async () => {
    await c.k(['create', '-f', '-'], podYaml(POD));
    mkdirSync(join(c.dir, 'logs'));
    writeFileSync(logFile(POD, 'compute'), 'booting\nlibvirt up\nguest running\n');
    writeFileSync(logFile(POD, 'volumecontainerdisk'), 'serving disk\n');
  });

  it('lists pods/log in discovery, and still 404s other subresources', async () => {
    const v1 = (await c.http('GET', '/api/v1')).json();
    const names = v1.resources.map((r: { name: string }) => r.name);
    assert.deepEqual(
      v1.resources.find((r: { name: string }) => r.name === 'pods/log'),
      { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    );
    assert.ok(names.indexOf('pods/log') < names.indexOf('pods/status'));
    for (const path of [
      `/api/v1/namespaces/default/pods/${POD}/exec`,
      '/api/v1/namespaces/default/configmaps/x/log',
      `/api/v1/watch/namespaces/default/pods/${POD}/log`,
    ]) {
      const r = await c.http('GET', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.json().message, 'the server could not find the requested resource');
    }
  });

  it('prints the default container, or the one asked for', async () => {
    assert.equal(await c.k(['logs', POD]), 'booting\nlibvirt up\nguest running\n');
    assert.equal(await c.k(['logs', POD, '-c', 'volumecontainerdisk']), 'serving disk\n');
    assert.equal(await c.k(['logs', `pod/${POD}`, '--tail=2']), 'libvirt up\nguest running\n');
    assert.equal(await c.k(['logs', POD, '--limit-bytes=7']), 'booting');
    const viewer = await c.kubectl(['logs', POD], undefined, { kubeconfig: join(c.dir, 'state', 'kubeconfig-viewer') });
    assert.equal(viewer.code, 0, viewer.stderr);
    assert.equal(viewer.stdout, 'booting\nlibvirt up\nguest running\n');
  });

  it('serves text/plain, choosing the annotated container server-side too', async () => {
    const r = await c.http('GET', `/api/v1/namespaces/default/pods/${POD}/log?tailLines=1`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.body, 'guest running\n');
  });

  it('follows the output until the pod is deleted', async () => {
    const child = spawn('kubectl', ['logs', '-f', POD, '--tail=1'], {
      env: { PATH: process.env.PATH, HOME: c.dir, KUBECONFIG: c.api.kubeconfigPath, KUBECACHEDIR: join(c.dir, 'kube-cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until('the last line', async () => out === 'guest running\n');
    appendFileSync(logFile(POD, 'compute'), 'login: ');
    appendFileSync(logFile(POD, 'compute'), 'cirros\n');
    await until('the appended lines', async () => out === 'guest running\nlogin: cirros\n');
    await c.k(['delete', 'pod', POD]);
    assert.equal(await exited, 0, err);
    assert.equal(out, 'guest running\nlogin: cirros\n');
  });

  it('fails as kube does: missing pod, unknown container, not started, previous', async () => {
    const missing = await c.kubectl(['logs', 'nope']);
    assert.equal(missing.code, 1);
    // kubectl's own wording around the 404 of its pod lookup, as with kube-apiserver.
    assert.equal(missing.stderr.trim(), 'error: error from server (NotFound): pods "nope" not found in namespace "default"');

    await c.k(['create', '-f', '-'], podYaml('starting'));
    const unknown = await c.kubectl(['logs', 'starting', '-c', 'nope']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr.trim(), 'error: container nope is not valid for pod starting');

    const waiting = await c.kubectl(['logs', 'starting']);
    assert.equal(waiting.code, 1);
    assert.equal(waiting.stderr.trim(), 'Error from server (BadRequest): container "compute" in pod "starting" is waiting to start: ContainerCreating');

    const previous = await c.kubectl(['logs', 'starting', '--previous']);
    assert.equal(previous.code, 1);
    assert.equal(previous.stderr.trim(), 'Error from server (BadRequest): previous terminated container "compute" in pod "starting" not found');

    const statusPatch = {
      status: {
        containerStatuses: [
          { name: 'compute', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'not found' } } },
        ],
      },
    };
    await c.k(['patch', 'pod', 'starting', '--subresource=status', '--type=merge', '-p', JSON.stringify(statusPatch)]);
    const pull = await c.kubectl(['logs', 'starting']);
    assert.equal(pull.stderr.trim(), `Error from server (BadRequest): container "compute" in pod "starting" is waiting to start: image can't be pulled`);
  });

  it('answers raw requests with kube Status objects', async () => {
    await c.k(['create', '-f', '-'], podYaml('plain', false));
    const base = '/api/v1/namespaces/default/pods';
    const cases: Array<[string, number, string]> = [
      [`${base}/plain/log`, 400, 'a container name must be specified for pod plain, choose one of: [compute volumecontainerdisk]'],
      [`${base}/plain/log?container=nope`, 400, 'container nope is not valid for pod plain'],
      [
        `${base}/plain/log?container=compute&tailLines=-1`,
        422,
        'PodLogOptions "plain" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
      ],
      [`${base}/gone/log`, 404, 'pods "gone" not found'],
    ];
    for (const [path, code, message] of cases) {
      const r = await c.http('GET', path);
      assert.equal(r.status, code, path);
      assert.equal(r.json().kind, 'Status');
      assert.equal(r.json().message, message, path);
    }
    const post = await c.http('POST', `${base}/plain/log`, {});
    assert.equal(post.status, 405);
  });
});
