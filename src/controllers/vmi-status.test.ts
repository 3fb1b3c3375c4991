import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../client/index.js';
import { vmiPhase, vmiStatus } from './vmi-status.js';

const vmi: KubeObject = {
  metadata: { name: 'istio-vmi', namespace: 'default', uid: 'u1' },
  spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } } },
  status: { phase: 'Pending' },
};
const pod = (status: Record<string, unknown>, nodeName = 'node01'): KubeObject => ({
  metadata: { name: 'virt-launcher-istio-vmi-abcde', uid: 'p1' },
  spec: { nodeName },
  status,
});
const compute = (state: Record<string, unknown>) => ({ containerStatuses: [{ name: 'compute', state }] });

describe('VMI phase from the launcher pod', () => {
  it('walks Pending -> Scheduling -> Scheduled -> Running -> Succeeded', () => {
    assert.equal(vmiPhase(undefined, undefined), 'Pending');
    assert.equal(vmiPhase(pod({ phase: 'Pending', ...compute({ waiting: { reason: 'ContainerCreating' } }) }), 'Pending'), 'Scheduling');
    assert.equal(vmiPhase(pod({ phase: 'Running', ...compute({ waiting: { reason: 'ContainerCreating' } }) }), 'Scheduling'), 'Scheduled');
    assert.equal(vmiPhase(pod({ phase: 'Running', ...compute({ running: {} }) }), 'Scheduled'), 'Running');
    assert.equal(vmiPhase(pod({ phase: 'Succeeded', ...compute({ terminated: { exitCode: 0 } }) }), 'Running'), 'Succeeded');
  });

  it('fails when the VM ends with an error or its pod vanishes while it runs, and final phases stay', () => {
    assert.equal(vmiPhase(pod({ phase: 'Failed', ...compute({ terminated: { exitCode: 137 } }) }), 'Running'), 'Failed');
    assert.equal(vmiPhase(undefined, 'Running'), 'Failed');
    assert.equal(vmiPhase(undefined, 'Scheduling'), 'Failed');
    assert.equal(vmiPhase(pod({ phase: 'Running', ...compute({ running: {} }) }), 'Succeeded'), 'Succeeded');
  });
});

describe('VMI status', () => {
  it('reports the pod IP as the interface address, the node, and Ready from the pod', () => {
    const s = vmiStatus(vmi, pod({ phase: 'Running', podIP: '10.244.0.5', conditions: [{ type: 'Ready', status: 'True' }], ...compute({ running: {} }) }));
    assert.equal(s.phase, 'Running');
    assert.equal(s.nodeName, 'node01');
    assert.deepEqual(s.interfaces[0].ipAddresses, ['10.244.0.5']);
    assert.deepEqual(
      s.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`),
      ['Ready=True', 'LiveMigratable=True'],
    );
    assert.deepEqual(
      s.phaseTransitionTimestamps.map((t: { phase: string }) => t.phase),
      ['Running'],
    );
  });

  it('carries why the VM cannot start: an unschedulable pod, a waiting container', () => {
    const unschedulable = vmiStatus(
      vmi,
      pod(
        {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' }],
        },
        '',
      ),
    );
    assert.equal(unschedulable.phase, 'Scheduling');
    assert.deepEqual(
      unschedulable.conditions.map((c: { type: string; reason: string }) => `${c.type}:${c.reason}`),
      ['PodScheduled:Unschedulable'],
    );
    const pull = vmiStatus(
      vmi,
      pod({
        phase: 'Pending',
        containerStatuses: [{ name: 'volumecontainerdisk', state: { waiting: { reason: 'ErrImagePull', message: 'not in catalog' } } }],
      }),
    );
    const sync = pull.conditions.find((c: { type: string }) => c.type === 'Synchronized');
    assert.deepEqual([sync.status, sync.reason, sync.message], ['False', 'ErrImagePull', 'not in catalog']);
  });
});
