// The virt-launcher pod for a VirtualMachineInstance, laid out as KubeVirt's
// virt-controller renders it: the VMI's labels and annotations, KubeVirt's own
// labels, containers `compute` (the VM, with the VMI's probes and the interface
// ports) and `volumecontainerdisk` (the containerDisk image), with KubeVirt's init
// containers before them, restartPolicy Never.

import type { KubeObject, NewKubeObject } from '../client/index.js';

export const LAUNCHER_IMAGE = 'quay.io/kubevirt/virt-launcher:v1.4.0';
/** What QEMU and the launcher take beside the guest's memory; added to the pod's memory request. */
export const LAUNCHER_OVERHEAD_MI = 128;

const isInjected = (vmi: KubeObject) =>
  vmi.metadata.annotations?.['sidecar.istio.io/inject'] === 'true' || vmi.metadata.labels?.['sidecar.istio.io/inject'] === 'true';

interface VmiSpec {
  domain?: {
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    memory?: { guest?: string };
    devices?: { interfaces?: Array<{ name: string; ports?: Array<{ name?: string; port: number; protocol?: string }> }> };
  };
  volumes?: Array<{ name: string; containerDisk?: { image?: string; imagePullPolicy?: string } }>;
  readinessProbe?: Record<string, unknown>;
  livenessProbe?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
  hostname?: string;
  subdomain?: string;
}

/** Probes kubelet can run against the pod IP (httpGet, tcpSocket) go on the compute container, as KubeVirt puts them. */
function podProbe(p: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!p || !(p.httpGet || p.tcpSocket)) return undefined;
  const { guestAgentPing: _g, exec: _e, ...rest } = p;
  return rest;
}

export function launcherPod(vmi: KubeObject, memoryRequestMi: number): NewKubeObject {
  const spec = (vmi.spec ?? {}) as VmiSpec;
  const name = vmi.metadata.name;
  const { 'kubectl.kubernetes.io/last-applied-configuration': _last, ...vmiAnnotations } = vmi.metadata.annotations ?? {};
  const ports = (spec.domain?.devices?.interfaces ?? []).flatMap((i) =>
    (i.ports ?? []).map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.port, protocol: (p.protocol ?? 'TCP').toUpperCase() })),
  );
  const disks = (spec.volumes ?? []).filter((v) => v.containerDisk);
  const compute: Record<string, unknown> = {
    name: 'compute',
    image: LAUNCHER_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command: ['/usr/bin/virt-launcher-monitor', '--qemu-timeout', '300s', '--name', name, '--uid', vmi.metadata.uid, '--namespace', vmi.metadata.namespace],
    resources: { requests: { cpu: '100m', memory: `${memoryRequestMi}Mi` } },
    ...(ports.length ? { ports } : {}),
    ...(podProbe(spec.readinessProbe) ? { readinessProbe: podProbe(spec.readinessProbe) } : {}),
    ...(podProbe(spec.livenessProbe) ? { livenessProbe: podProbe(spec.livenessProbe) } : {}),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
  const containerDisks = disks.map((v, i) => ({
    name: i === 0 ? 'volumecontainerdisk' : `volume${v.name}`,
    image: v.containerDisk?.image,
    imagePullPolicy: v.containerDisk?.imagePullPolicy ?? 'IfNotPresent',
    command: ['/usr/bin/container-disk'],
    args: ['--copy-path', `/var/run/kubevirt-ephemeral-disks/container-disk-data/${vmi.metadata.uid}/disk_${i}`],
    resources: { requests: { cpu: '1m', memory: '1M' }, limits: { cpu: '10m', memory: '40M' } },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  }));
  // KubeVirt's init containers: the container-disk binary copied into place, then each disk image checked with --no-op.
  const initContainers = [
    {
      name: 'container-disk-binary',
      image: LAUNCHER_IMAGE,
      imagePullPolicy: 'IfNotPresent',
      command: ['/usr/bin/cp', '/usr/bin/container-disk', '/init/usr/bin/container-disk'],
      resources: { requests: { cpu: '1m', memory: '1M' }, limits: { cpu: '100m', memory: '40M' } },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    },
    ...containerDisks.map((c) => ({
      name: `${c.name}-init`,
      image: c.image,
      imagePullPolicy: c.imagePullPolicy,
      command: ['/usr/bin/container-disk'],
      args: ['--no-op'],
      resources: c.resources,
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    })),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      // The API server adds the five-character suffix, as for KubeVirt's own generateName.
      generateName: `virt-launcher-${name}-`,
      namespace: vmi.metadata.namespace,
      labels: {
        ...(vmi.metadata.labels ?? {}),
        'kubevirt.io': 'virt-launcher',
        'kubevirt.io/created-by': vmi.metadata.uid as string,
        'vm.kubevirt.io/name': name,
      },
      annotations: {
        ...vmiAnnotations,
        'kubevirt.io/domain': name,
        'kubectl.kubernetes.io/default-container': 'compute',
        'kubevirt.io/migrationTransportUnix': 'true',
        'post.hook.backup.velero.io/container': 'compute',
        'pre.hook.backup.velero.io/container': 'compute',
        ...(isInjected(vmi) ? { 'traffic.sidecar.istio.io/kubevirtInterfaces': 'k6t-eth0' } : {}),
      },
      ownerReferences: [
        { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name, uid: vmi.metadata.uid as string, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      automountServiceAccountToken: false,
      initContainers,
      containers: [compute, ...containerDisks],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
      nodeSelector: { 'kubevirt.io/schedulable': 'true', ...(spec.nodeSelector ?? {}) },
      hostname: spec.hostname ?? name,
      ...(spec.subdomain ? { subdomain: spec.subdomain } : {}),
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
    },
  };
}
