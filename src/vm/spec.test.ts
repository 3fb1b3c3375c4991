import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../client/index.js';
import { planVm } from './spec.js';

const base = (over: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'v', namespace: 'ns', uid: 'abc' },
  spec: {
    domain: {
      devices: { interfaces: [{ name: 'default', masquerade: {}, ports: [{ port: 8080 }] }], disks: [{ name: 'containerdisk', disk: { bus: 'virtio' } }] },
      resources: { requests: { memory: '1024M' } },
    },
    networks: [{ name: 'default', pod: {} }],
    volumes: [
      { name: 'containerdisk', containerDisk: { image: 'kubevirt/cirros-container-disk-demo:devel' } },
      { name: 'cloudinitdisk', cloudInitNoCloud: { userDataBase64: Buffer.from('#!/bin/sh\necho hi\n').toString('base64') } },
    ],
    ...over,
  },
});

describe('VM plan', () => {
  it('takes memory from the request, the declared ports, a stable MAC and every volume', () => {
    const plan = planVm(base());
    assert.ok(!('reason' in plan));
    assert.equal(plan.memoryMiB, 976); // 1024M = 1.024e9 bytes
    assert.deepEqual(plan.ports, [{ port: 8080, protocol: 'TCP', name: undefined }]);
    assert.match(plan.mac, /^02(:[0-9a-f]{2}){5}$/);
    assert.equal((planVm(base()) as typeof plan).mac, plan.mac);
    assert.deepEqual(
      plan.disks.map((d) => d.source.kind),
      ['containerDisk', 'cloudInitNoCloud'],
    );
    assert.equal((plan.disks[1].source as { userData: string }).userData, '#!/bin/sh\necho hi\n');
  });

  it('says what it cannot run', () => {
    const multus = planVm(
      base({
        networks: [
          { name: 'default', pod: {} },
          { name: 'sec', multus: { networkName: 'x' } },
        ],
      }),
    );
    assert.equal((multus as { reason: string }).reason, 'UnsupportedNetwork');
    const pvc = planVm(base({ volumes: [{ name: 'containerdisk', persistentVolumeClaim: { claimName: 'c' } }] }));
    assert.match((pvc as { message: string }).message, /persistentVolumeClaim volumes are not supported/);
    const tiny = base();
    (tiny.spec as any).domain.resources.requests.memory = '16Mi';
    assert.equal((planVm(tiny) as { reason: string }).reason, 'MemoryTooSmall');
  });
});
