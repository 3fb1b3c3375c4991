// Sidecar injection as kubectl sees it, on the API server alone (no node): the pod a
// user creates in a labelled namespace comes back with Istio's sidecar, and one that
// does not ask, or whose namespace is not labelled, comes back as it was.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useCluster } from './helpers/cluster.js';

const pod = (name: string, inject?: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(inject ? { annotations: { 'sidecar.istio.io/inject': inject } } : {}), labels: { app: name } },
    spec: {
      containers: [
        { name: 'app', image: 'example/app', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { port: 'http', path: '/ready' } } },
      ],
    },
  });

describe('sidecar injection through kubectl', () => {
  const c = useCluster();

  it('injects a pod that asks for it in a labelled namespace, and shows it Init:0/1 until it runs', async () => {
    await c.k(['create', 'namespace', 'mesh']);
    await c.k(['label', 'namespace', 'mesh', 'istio-injection=enabled']);
    await c.k(['create', '-n', 'mesh', '-f', '-'], pod('web', 'true'));
    const got = JSON.parse(await c.k(['get', 'pod', '-n', 'mesh', 'web', '-o', 'json']));
    assert.deepEqual(
      got.spec.containers.map((x: { name: string }) => x.name),
      ['app', 'istio-proxy'],
    );
    assert.deepEqual(
      got.spec.initContainers.map((x: { name: string }) => x.name),
      ['istio-validation'],
    );
    assert.deepEqual(got.spec.containers[0].readinessProbe.httpGet, { path: '/app-health/app/readyz', port: 15020, scheme: 'HTTP' });
    const probers = JSON.parse(got.spec.containers[1].env.find((e: { name: string }) => e.name === 'ISTIO_KUBE_APP_PROBERS').value);
    assert.deepEqual(probers['/app-health/app/readyz'].httpGet, { port: 8080, path: '/ready', scheme: 'HTTP' }, 'named port resolved');
    assert.equal(got.metadata.labels['security.istio.io/tlsMode'], 'istio');
    assert.match(await c.k(['get', 'pod', '-n', 'mesh', 'web', '--no-headers']), /^web\s+0\/2\s+Init:0\/1\s/);
  });

  it('injects a labelled namespace\'s pods by default; leaves alone one that says "false" and the annotated pods of an unlabelled namespace', async () => {
    await c.k(['create', '-n', 'mesh', '-f', '-'], pod('quiet'));
    assert.equal(JSON.parse(await c.k(['get', 'pod', '-n', 'mesh', 'quiet', '-o', 'json'])).spec.containers.length, 2);
    await c.k(['create', 'namespace', 'plain']);
    for (const [ns, name, inject] of [
      ['mesh', 'optout', 'false'],
      ['plain', 'web', 'true'],
    ] as const) {
      await c.k(['create', '-n', ns, '-f', '-'], pod(name, inject));
      const got = JSON.parse(await c.k(['get', 'pod', '-n', ns, name, '-o', 'json']));
      assert.deepEqual(
        got.spec.containers.map((x: { name: string }) => x.name),
        ['app'],
        `${ns}/${name}`,
      );
    }
  });

  it('injects on a server-side dry run as on a create, and never again on an update', async () => {
    const out = await c.k(['create', '-n', 'mesh', '--dry-run=server', '-o', 'json', '-f', '-'], pod('dry', 'true'));
    assert.equal(JSON.parse(out).spec.containers.length, 2);
    await c.k(['label', '-n', 'mesh', 'pod', 'web', 'extra=1']);
    const got = JSON.parse(await c.k(['get', 'pod', '-n', 'mesh', 'web', '-o', 'json']));
    assert.equal(got.spec.containers.length, 2);
  });
});
