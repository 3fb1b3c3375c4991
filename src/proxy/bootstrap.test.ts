import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootstrapFromEnv, parseHostPort } from './bootstrap.js';

const env = {
  POD_NAME: 'virt-launcher-istio-vmi-x7k2p',
  POD_NAMESPACE: 'default',
  INSTANCE_IP: '10.244.0.5',
  SERVICE_ACCOUNT: 'default',
  ISTIO_META_WORKLOAD_NAME: 'istio-vmi',
  ISTIO_META_MESH_ID: 'cluster.local',
  ISTIO_METAJSON_LABELS: JSON.stringify({ app: 'istio-vmi', 'kubevirt.io': 'virt-launcher', 'vm.kubevirt.io/name': 'istio-vmi' }),
  ISTIO_META_POD_PORTS: JSON.stringify([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]),
  ISTIO_KUBE_APP_PROBERS: JSON.stringify({ '/app-health/compute/readyz': { httpGet: { port: 8080 }, timeoutSeconds: 5 } }),
  PILOT_ADDRESS: 'istiod.istio-system.svc:15010',
  ISTIO_VERSION: '1.24.0-virtmesh',
};

describe('bootstrap from the injected container environment', () => {
  it('builds the node as Istio names it', () => {
    const b = bootstrapFromEnv(env);
    assert.equal(b.node.id, 'sidecar~10.244.0.5~virt-launcher-istio-vmi-x7k2p.default~default.svc.cluster.local');
    assert.equal(b.node.cluster, 'Kubernetes');
    assert.deepEqual(b.node.metadata, {
      workload: 'istio-vmi',
      namespace: 'default',
      canonicalService: 'istio-vmi',
      canonicalRevision: 'latest',
      app: 'istio-vmi',
      version: '',
      serviceAccount: 'default',
      principal: 'spiffe://cluster.local/ns/default/sa/default',
      cluster: 'Kubernetes',
      podName: 'virt-launcher-istio-vmi-x7k2p',
      ip: '10.244.0.5',
      istioVersion: '1.24.0-virtmesh',
      podPorts: [8080],
      labels: { app: 'istio-vmi', 'kubevirt.io': 'virt-launcher', 'vm.kubevirt.io/name': 'istio-vmi' },
      meshId: 'cluster.local',
    });
    assert.deepEqual(b.xds, { host: 'istiod.istio-system.svc', port: 15010 });
    assert.equal(b.drainMs, 5000);
    assert.match(b.appProbers ?? '', /readyz/);
  });

  it('takes canonical names and versions from the labels Istio reads, in its order', () => {
    const labels = { 'app.kubernetes.io/name': 'reviews', version: 'v2', 'service.istio.io/canonical-revision': 'r9' };
    const b = bootstrapFromEnv({ ...env, ISTIO_METAJSON_LABELS: JSON.stringify(labels), TERMINATION_DRAIN_DURATION_SECONDS: '1' });
    assert.equal(b.node.metadata.canonicalService, 'reviews');
    assert.equal(b.node.metadata.canonicalRevision, 'r9');
    assert.equal(b.node.metadata.app, 'reviews');
    assert.equal(b.node.metadata.version, 'v2');
    assert.equal(b.drainMs, 1000);
  });

  it('says what is missing or malformed', () => {
    assert.throws(() => bootstrapFromEnv({ POD_NAME: 'p' }), /INSTANCE_IP/);
    assert.throws(() => bootstrapFromEnv({ ...env, ISTIO_METAJSON_LABELS: '{' }), /ISTIO_METAJSON_LABELS is not valid JSON/);
    assert.throws(() => parseHostPort('a:b:c'), /not host:port/);
    assert.deepEqual(parseHostPort('10.0.0.1'), { host: '10.0.0.1', port: 15010 });
    assert.equal(bootstrapFromEnv({ ...env, PILOT_ADDRESS: '' }).xds, undefined);
  });
});
