import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../client/index.js';
import { podInfo, servicesFromObjects, workloadDetails, workloadsFromPods } from './workloads.js';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const created = '2026-01-01T00:00:00Z';

/** A virt-launcher pod as the VMI controller makes it, Running with its containers ready or not. */
function launcher(vmi: string, opts: { ready?: boolean; sidecar?: boolean; namespace?: string } = {}): KubeObject {
  const containers = ['compute', ...(opts.sidecar === false ? [] : ['istio-proxy'])];
  const ready = opts.ready ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `virt-launcher-${vmi}-abcde`,
      namespace: opts.namespace ?? 'default',
      creationTimestamp: created,
      labels: { app: vmi, 'kubevirt.io': 'virt-launcher', 'kubevirt.io/created-by': 'uid-1', 'vm.kubevirt.io/name': vmi },
      ownerReferences: [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: vmi, uid: 'uid-1', controller: true }],
    },
    spec: { initContainers: [{ name: 'istio-init' }], containers: containers.map((name) => ({ name })) },
    status: {
      phase: 'Running',
      podIP: '10.244.0.5',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      initContainerStatuses: [{ name: 'istio-init', ready: true, state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
      containerStatuses: containers.map((name) => ({ name, ready: ready || name === 'istio-proxy', restartCount: 0, state: { running: {} } })),
    },
  } as KubeObject;
}

const vmi = (name: string, labels: Record<string, string>): KubeObject =>
  ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, namespace: 'default', labels } }) as KubeObject;

const deploymentPod = (name: string): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'web',
      labels: { app: 'web', version: 'v2', 'pod-template-hash': '5d9c7f' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9c7f', uid: 'rs', controller: true }],
    },
    spec: { containers: [{ name: 'web' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  }) as KubeObject;

describe('workload and service rows', () => {
  it('names workloads as the sidecar metrics do: a VMI, a Deployment, a bare pod', () => {
    const bare = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'default' }, spec: { containers: [{ name: 'sh' }] } } as KubeObject;
    const rows = workloadsFromPods(
      [launcher('istio-vmi', { ready: false }), launcher('cirros-vmi'), deploymentPod('web-5d9c7f-aaaaa'), deploymentPod('web-5d9c7f-bbbbb'), bare],
      [vmi('istio-vmi', { app: 'istio-vmi', 'kubevirt.io/vm': 'istio-vmi' }), vmi('pending-vmi', { app: 'pending' })],
    );
    assert.deepEqual(
      rows.map((r) => [r.namespace, r.name, r.kind, r.podCount, r.readyPods, r.istioSidecar]),
      [
        ['default', 'cirros-vmi', 'VirtualMachineInstance', 1, 1, true],
        ['default', 'debug', 'Pod', 1, 0, false],
        ['default', 'istio-vmi', 'VirtualMachineInstance', 1, 0, true],
        ['default', 'pending-vmi', 'VirtualMachineInstance', 0, 0, false],
        ['web', 'web', 'Deployment', 2, 2, false],
      ],
    );
    const istio = rows.find((r) => r.name === 'istio-vmi');
    assert.deepEqual(istio?.labels, { app: 'istio-vmi', 'kubevirt.io/vm': 'istio-vmi' }, "the VMI's labels");
    assert.equal(istio?.app, 'istio-vmi');
    const web = rows.find((r) => r.name === 'web');
    assert.deepEqual(web?.labels, { app: 'web', version: 'v2' });
    assert.equal(web?.version, 'v2');
    assert.deepEqual(
      workloadsFromPods([launcher('istio-vmi'), deploymentPod('web-5d9c7f-aaaaa')], [], 'web').map((r) => r.name),
      ['web'],
    );
  });

  it("shows pods with kubectl's READY and STATUS", () => {
    assert.deepEqual(podInfo(launcher('istio-vmi', { ready: false }), NOW), {
      name: 'virt-launcher-istio-vmi-abcde',
      phase: 'Running',
      ready: '1/2',
      status: 'Running',
      podIP: '10.244.0.5',
      containers: ['compute', 'istio-proxy'],
      initContainers: ['istio-init'],
      createdAt: created,
    });
    const initializing = launcher('cirros-vmi') as KubeObject & { status: Record<string, unknown> };
    initializing.status = { phase: 'Pending' };
    assert.equal(podInfo(initializing, NOW).status, 'Init:0/1');
  });

  it('gives one workload its pods and the Services selecting them', () => {
    const svc = (name: string, selector: Record<string, string>) =>
      ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector } }) as KubeObject;
    const d = workloadDetails(
      'default',
      'istio-vmi',
      [launcher('istio-vmi'), launcher('cirros-vmi')],
      [],
      [svc('istio-vmi-svc', { app: 'istio-vmi' }), svc('other', { app: 'x' })],
      NOW,
    );
    assert.equal(d?.pods.length, 1);
    assert.equal(d?.pods[0].ready, '2/2');
    assert.deepEqual(d?.services, ['istio-vmi-svc']);
    assert.equal(workloadDetails('default', 'nope', [launcher('istio-vmi')]), undefined);
  });

  it("lists Services with kubectl's PORT(S) and their ready endpoints", () => {
    const services = [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'istio-vmi-svc', namespace: 'default' },
        spec: { type: 'ClusterIP', clusterIP: '10.96.0.20', selector: { app: 'istio-vmi' }, ports: [{ port: 8080, protocol: 'TCP', name: 'http' }] },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'multi', namespace: 'default' },
        spec: {
          type: 'NodePort',
          clusterIP: '10.96.0.21',
          ports: [
            { port: 80, nodePort: 30080 },
            { port: 53, protocol: 'UDP' },
          ],
        },
      },
    ] as KubeObject[];
    const endpoints = [
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: 'istio-vmi-svc', namespace: 'default' },
        subsets: [{ addresses: [{ ip: '10.244.0.5' }], notReadyAddresses: [{ ip: '10.244.0.6' }], ports: [{ port: 8080 }] }],
      },
    ] as unknown as KubeObject[];
    assert.deepEqual(servicesFromObjects(services, endpoints, 'default', NOW), [
      {
        name: 'istio-vmi-svc',
        namespace: 'default',
        type: 'ClusterIP',
        clusterIP: '10.96.0.20',
        ports: '8080/TCP',
        selector: { app: 'istio-vmi' },
        endpoints: 1,
      },
      { name: 'multi', namespace: 'default', type: 'NodePort', clusterIP: '10.96.0.21', ports: '80:30080/TCP,53/UDP', selector: {}, endpoints: 0 },
    ]);
  });
});
