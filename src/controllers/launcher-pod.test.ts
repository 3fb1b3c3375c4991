import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../client/index.js';
import { launcherPod } from './launcher-pod.js';

const vmi: KubeObject = {
  metadata: { name: 'istio-vmi', namespace: 'default', uid: 'u1', labels: { app: 'istio-vmi' }, annotations: { 'sidecar.istio.io/inject': 'true' } },
  spec: {
    domain: { devices: { interfaces: [{ name: 'default', masquerade: {}, ports: [{ port: 8080 }] }] }, resources: { requests: { memory: '1024M' } } },
    readinessProbe: { httpGet: { port: 8080 }, initialDelaySeconds: 120, periodSeconds: 10 },
    terminationGracePeriodSeconds: 0,
    volumes: [{ name: 'containerdisk', containerDisk: { image: 'kubevirt/fedora-cloud-container-disk-demo:devel' } }],
  },
};

describe('virt-launcher pod', () => {
  const pod = launcherPod(vmi, 1105);
  const meta = pod.metadata ?? {};
  it("is named and labelled as KubeVirt's, owned by the VMI", () => {
    assert.equal(meta.generateName, 'virt-launcher-istio-vmi-'); // the server's suffix is checked end to end (vms.test.ts)
    assert.equal(meta.labels?.app, 'istio-vmi');
    assert.equal(meta.labels?.['kubevirt.io'], 'virt-launcher');
    assert.equal(meta.labels?.['kubevirt.io/created-by'], 'u1');
    assert.equal(meta.annotations?.['sidecar.istio.io/inject'], 'true');
    assert.equal(meta.annotations?.['traffic.sidecar.istio.io/kubevirtInterfaces'], 'k6t-eth0');
    assert.equal(meta.annotations?.['kubectl.kubernetes.io/default-container'], 'compute');
    assert.deepEqual(meta.ownerReferences?.[0], {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      name: 'istio-vmi',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    });
  });
  it('runs compute with the probe and ports, and the containerDisk beside it', () => {
    const [compute, disk] = (pod.spec as { containers: Array<Record<string, any>> }).containers;
    assert.equal(compute.name, 'compute');
    assert.deepEqual(compute.readinessProbe, { httpGet: { port: 8080 }, initialDelaySeconds: 120, periodSeconds: 10 });
    assert.deepEqual(compute.ports, [{ containerPort: 8080, protocol: 'TCP' }]);
    assert.equal(compute.resources.requests.memory, '1105Mi');
    assert.equal(disk.name, 'volumecontainerdisk');
    assert.equal(disk.image, 'kubevirt/fedora-cloud-container-disk-demo:devel');
    assert.equal((pod.spec as { restartPolicy: string }).restartPolicy, 'Never');
    assert.equal((pod.spec as { terminationGracePeriodSeconds: number }).terminationGracePeriodSeconds, 0);
  });
});
