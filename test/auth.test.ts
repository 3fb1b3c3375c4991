// Authentication and authorization answer as kube-apiserver does: 401 and 403 Status objects.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { httpTo, useCluster, walkthrough } from './helpers/cluster.js';

describe('authentication and authorization', () => {
  const c = useCluster();

  it('refuses a request without a token or with a wrong one: 401 Status', async () => {
    for (const token of ['', 'not-a-token']) {
      const r = await httpTo(c.api.url, c.api.caCert, token)('GET', '/api/v1/namespaces');
      assert.equal(r.status, 401);
      assert.deepEqual(r.json(), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      });
    }
  });

  it('lets anyone read /version and /healthz, as the default RBAC does', async () => {
    const r = await httpTo(c.api.url, c.api.caCert, '')('GET', '/version');
    assert.equal(r.status, 200);
    assert.equal(r.json().major, '1');
  });

  it('gives a read-only user reads and a Forbidden for writes', async () => {
    const viewer = join(c.api.kubeconfigPath, '..', 'kubeconfig-viewer');
    const get = await c.kubectl(['get', 'ns', 'default', '-o', 'name'], undefined, { kubeconfig: viewer });
    assert.equal(get.stdout.trim(), 'namespace/default');
    const r = await c.kubectl(['create', '-f', '-'], walkthrough('istio-vmi-svc.yaml'), { kubeconfig: viewer });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      'Error from server (Forbidden): error when creating "STDIN": services is forbidden: User "viewer" cannot create resource "services" in API group "" in the namespace "default"',
    );
    const del = await c.kubectl(['delete', 'ns', 'default'], undefined, { kubeconfig: viewer });
    assert.match(del.stderr, /namespaces "default" is forbidden: User "viewer" cannot delete resource "namespaces" in API group "" at the cluster scope/);
  });

  it('serves only over TLS with the cluster CA', async () => {
    const r = await c.kubectl(['get', 'ns', '--insecure-skip-tls-verify=false', '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
  });
});
