// From a VirtualMachineInstance to what the launcher must do: memory, CPUs, the
// masquerade interface and its ports, and each disk's source. Pure, so every rule
// about what virtmesh can and cannot run is in one place and unit-tested.

import { createHash } from 'node:crypto';
import { parseQuantity } from '../apiserver/index.js';
import type { KubeObject } from '../client/index.js';

export type DiskSource =
  | { kind: 'containerDisk'; image: string }
  | { kind: 'cloudInitNoCloud'; userData?: string; networkData?: string }
  | { kind: 'emptyDisk'; bytes: number };

export interface VmDisk {
  name: string;
  bus: string;
  source: DiskSource;
}

export interface VmPlan {
  name: string;
  namespace: string;
  memoryMiB: number;
  cpus: number;
  mac: string;
  /** Declared ports of the pod-network interface; undefined: none declared, forward every port. */
  ports?: Array<{ port: number; protocol: 'TCP' | 'UDP'; name?: string }>;
  disks: VmDisk[];
}

export interface PlanError {
  /** A short CamelCase reason, as in the VMI's condition. */
  reason: string;
  message: string;
}

interface VmiSpec {
  domain?: {
    resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
    memory?: { guest?: string };
    cpu?: { cores?: number; sockets?: number; threads?: number };
    devices?: {
      interfaces?: Array<Record<string, unknown> & { name: string; macAddress?: string; ports?: Array<{ port: number; protocol?: string; name?: string }> }>;
      disks?: Array<Record<string, unknown> & { name: string }>;
    };
  };
  networks?: Array<Record<string, unknown> & { name: string }>;
  volumes?: Array<Record<string, unknown> & { name: string }>;
}

const b64 = (s: unknown) => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : undefined);

/** The guest's memory in bytes: `domain.memory.guest`, else the memory request, else the limit. */
export function guestMemoryBytes(vmi: KubeObject): number | undefined {
  const d = (vmi.spec as VmiSpec | undefined)?.domain;
  const q = d?.memory?.guest ?? d?.resources?.requests?.memory ?? d?.resources?.limits?.memory;
  return q === undefined ? undefined : parseQuantity(String(q));
}

export function planVm(vmi: KubeObject): VmPlan | PlanError {
  const spec = (vmi.spec ?? {}) as VmiSpec;
  const name = vmi.metadata.name;
  const bytes = guestMemoryBytes(vmi);
  if (!bytes) return { reason: 'MemoryNotSet', message: 'the VMI sets no memory: set spec.domain.resources.requests.memory (or spec.domain.memory.guest)' };
  const memoryMiB = Math.floor(bytes / 2 ** 20);
  if (memoryMiB < 32) return { reason: 'MemoryTooSmall', message: `guest memory ${memoryMiB} MiB is below the 32 MiB a guest needs to boot` };
  const cpu = spec.domain?.cpu ?? {};
  const cpus = Math.max(1, (cpu.cores ?? 1) * (cpu.sockets ?? 1) * (cpu.threads ?? 1));

  const podNetwork = (spec.networks ?? []).find((n) => n.pod !== undefined);
  const others = (spec.networks ?? []).filter((n) => n.pod === undefined);
  if (others.length) {
    return {
      reason: 'UnsupportedNetwork',
      message: `network "${others[0].name}": only the pod network is attached on virtmesh's node; Multus secondary networks are not`,
    };
  }
  const iface = podNetwork ? spec.domain?.devices?.interfaces?.find((i) => i.name === podNetwork.name) : undefined;
  if (podNetwork && !iface)
    return { reason: 'InterfaceMissing', message: `network "${podNetwork.name}" has no interface of the same name in spec.domain.devices.interfaces` };
  if (iface && iface.masquerade === undefined) {
    return { reason: 'UnsupportedBinding', message: `interface "${iface.name}": virtmesh runs the pod network with the masquerade binding only` };
  }
  const ports = iface?.ports?.length
    ? iface.ports.map((p) => ({ port: p.port, protocol: (p.protocol ?? 'TCP').toUpperCase() as 'TCP' | 'UDP', name: p.name }))
    : undefined;
  if (ports?.some((p) => p.protocol !== 'TCP' && p.protocol !== 'UDP'))
    return { reason: 'UnsupportedPort', message: 'interface ports support the TCP and UDP protocols only' };
  // Admission checked the format; QEMU and dnsmasq want colons, and a MAC must never carry their option separators.
  const mac = (iface?.macAddress ?? deterministicMac(vmi.metadata.uid ?? `${vmi.metadata.namespace}/${name}`)).replace(/-/g, ':').toLowerCase();
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) return { reason: 'InvalidMacAddress', message: `interface "${iface?.name}": malformed MAC address` };

  const disks: VmDisk[] = [];
  for (const d of spec.domain?.devices?.disks ?? []) {
    const vol = (spec.volumes ?? []).find((v) => v.name === d.name);
    if (!vol) return { reason: 'VolumeMissing', message: `disk "${d.name}" has no volume of the same name in spec.volumes` };
    const bus = ((d.disk as { bus?: string } | undefined)?.bus ?? (d.cdrom ? 'sata' : 'virtio')) as string;
    const source = diskSource(vol);
    if ('reason' in source) return source;
    disks.push({ name: d.name, bus, source });
  }
  // Volumes without a disk entry get a virtio disk, as KubeVirt adds them.
  for (const v of spec.volumes ?? []) {
    if (disks.some((d) => d.name === v.name)) continue;
    const source = diskSource(v);
    if ('reason' in source) return source;
    disks.push({ name: v.name, bus: 'virtio', source });
  }
  if (!disks.some((d) => d.source.kind === 'containerDisk')) {
    return { reason: 'NoBootDisk', message: 'the VMI has no containerDisk volume to boot from; virtmesh boots containerDisk images only' };
  }
  return { name, namespace: vmi.metadata.namespace ?? 'default', memoryMiB, cpus, mac, ports, disks };
}

function diskSource(vol: Record<string, unknown> & { name: string }): DiskSource | PlanError {
  if (vol.containerDisk) {
    const image = (vol.containerDisk as { image?: string }).image;
    if (!image) return { reason: 'ImageMissing', message: `volume "${vol.name}": containerDisk.image is empty` };
    return { kind: 'containerDisk', image };
  }
  const ci = (vol.cloudInitNoCloud ?? vol.cloudInitConfigDrive) as Record<string, unknown> | undefined;
  if (ci) {
    if (vol.cloudInitConfigDrive)
      return { reason: 'UnsupportedVolume', message: `volume "${vol.name}": cloudInitConfigDrive is not supported; use cloudInitNoCloud` };
    if (ci.secretRef || ci.networkDataSecretRef)
      return { reason: 'UnsupportedVolume', message: `volume "${vol.name}": cloud-init from a Secret is not supported yet; put userData inline` };
    return {
      kind: 'cloudInitNoCloud',
      userData: (ci.userData as string | undefined) ?? b64(ci.userDataBase64),
      networkData: (ci.networkData as string | undefined) ?? b64(ci.networkDataBase64),
    };
  }
  if (vol.emptyDisk) {
    const cap = (vol.emptyDisk as { capacity?: string }).capacity;
    return { kind: 'emptyDisk', bytes: cap ? parseQuantity(cap) : 0 };
  }
  const kind = Object.keys(vol).find((k) => k !== 'name') ?? 'unknown';
  return {
    reason: 'UnsupportedVolume',
    message: `volume "${vol.name}": ${kind} volumes are not supported by virtmesh; use containerDisk, cloudInitNoCloud or emptyDisk`,
  };
}

/** A locally administered MAC that stays the same for the VMI. */
function deterministicMac(seed: string): string {
  const h = createHash('sha1').update(seed).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
