import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findByKind } from '../apiserver/resources.js';
import { toTable } from '../apiserver/tables.js';
import type { KubeObject } from '../client/index.js';
import { type ContainerRuntime, podStatus, type SandboxState } from './pod-status.js';
import { multusNetworks } from './pod-worker.js';

const waiting = (name: string, reason: string): ContainerRuntime => ({
  name,
  image: 'i',
  current: { state: 'waiting', reason },
  ready: false,
  restartCount: 0,
});
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'virt-launcher-istio-vmi-abcde', namespace: 'default', uid: 'u1', creationTimestamp: '2026-12-04T10:00:00Z' },
  spec: {
    initContainers: [{ name: 'container-disk-binary' }, { name: 'volumecontainerdisk-init' }, { name: 'istio-validation' }],
    containers: [{ name: 'compute' }, { name: 'volumecontainerdisk' }, { name: 'istio-proxy' }],
  },
} as unknown as KubeObject;

function state(init: ContainerRuntime[], containers: ContainerRuntime[]): SandboxState {
  return { hostIP: '10.244.0.1', startTime: '2026-12-04T10:00:00Z', restartPolicy: 'Never', initContainers: init, containers };
}

/** The STATUS and READY columns kubectl shows for the pod with this status. */
function columns(status: Record<string, unknown>): { ready: string; status: string } {
  const table = toTable(findByKind('', 'Pod')!, [{ ...pod, status }], {}) as unknown as { rows: Array<{ cells: unknown[] }> };
  return { ready: String(table.rows[0].cells[1]), status: String(table.rows[0].cells[2]) };
}

describe('pod status with init containers', () => {
  const inits = ['container-disk-binary', 'volumecontainerdisk-init', 'istio-validation'];
  const mains = ['compute', 'volumecontainerdisk', 'istio-proxy'];

  it('shows Init:0/3, not initialized, while the sandbox cannot be made', () => {
    const s = podStatus(
      pod,
      state(
        inits.map((n) => waiting(n, 'PodInitializing')),
        mains.map((n) => waiting(n, 'PodInitializing')),
      ),
    );
    assert.equal(s.phase, 'Pending');
    const initialized = (s.conditions as Array<{ type: string; status: string; message?: string }>).find((c) => c.type === 'Initialized');
    assert.equal(initialized?.status, 'False');
    assert.equal(initialized?.message, 'containers with incomplete status: [container-disk-binary volumecontainerdisk-init istio-validation]');
    assert.deepEqual(columns(s), { ready: '0/3', status: 'Init:0/3' });
  });

  it('shows 3/3 Running once the init containers completed and every container is ready', () => {
    const done = inits.map(
      (n): ContainerRuntime => ({ ...waiting(n, ''), current: { state: 'terminated', exitCode: 0, reason: 'Completed', finishedAt: '2026-12-04T10:00:01Z' } }),
    );
    const running = mains.map((n): ContainerRuntime => ({ ...waiting(n, ''), current: { state: 'running', startedAt: '2026-12-04T10:00:02Z' }, ready: true }));
    const s = podStatus(pod, state(done, running));
    assert.equal(s.phase, 'Running');
    assert.deepEqual(columns(s), { ready: '3/3', status: 'Running' });
    running[2].ready = false;
    assert.deepEqual(columns(podStatus(pod, state(done, running))), { ready: '2/3', status: 'Running' });
  });
});

describe('Multus networks annotation', () => {
  it('reads the comma form, namespaces and interface names, and the JSON form', () => {
    assert.deepEqual(multusNetworks('istio-cni'), [{ name: 'istio-cni' }]);
    assert.deepEqual(multusNetworks(' a, other/b@eth1 '), [{ name: 'a' }, { namespace: 'other', name: 'b' }]);
    assert.deepEqual(multusNetworks('[{"name":"istio-cni"},{"name":"x","namespace":"y"}]'), [{ name: 'istio-cni' }, { name: 'x', namespace: 'y' }]);
    assert.deepEqual(multusNetworks(''), []);
    assert.deepEqual(multusNetworks('[not json'), []);
  });
});
