// Defaults filled in on write, as kube-apiserver's defaulters and admission plugins, and
// KubeVirt's mutating webhook, fill them in: what `kubectl get -o yaml` shows afterwards.

import { createHash } from 'node:crypto';
import { tryParseQuantity } from './quantity.js';
import type { KubeObject } from './types.js';
import { arr, ensureObj, has, isObj, type Obj, obj, str } from './util.js';

const setIfAbsent = (o: Obj, k: string, v: unknown) => {
  if (!has(o, k) || o[k] === '') o[k] = v;
};

// ---------------------------------------------------------------- core

function defaultService(svc: KubeObject): void {
  const spec = ensureObj(svc, 'spec');
  setIfAbsent(spec, 'type', 'ClusterIP');
  setIfAbsent(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = ensureObj(ensureObj(spec, 'sessionAffinityConfig'), 'clientIP');
    setIfAbsent(cfg, 'timeoutSeconds', 10800);
  }
  for (const p of arr(spec.ports)) {
    if (!isObj(p)) continue;
    setIfAbsent(p, 'protocol', 'TCP');
    if (!has(p, 'targetPort') || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (spec.type === 'ExternalName') return;
  // The cluster IP itself is allocated by the server, not here.
  setIfAbsent(spec, 'ipFamilies', ['IPv4']);
  setIfAbsent(spec, 'ipFamilyPolicy', 'SingleStack');
  setIfAbsent(spec, 'internalTrafficPolicy', 'Cluster');
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setIfAbsent(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec.type === 'LoadBalancer') setIfAbsent(spec, 'allocateLoadBalancerNodePorts', true);
}

/** kube's defaulting: Always for `:latest` or an untagged image, else IfNotPresent. */
export function defaultPullPolicy(image: string): string {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const colon = last.lastIndexOf(':');
  if (colon < 0) return 'Always';
  return last.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainers(list: unknown): void {
  for (const c of arr(list)) {
    if (!isObj(c)) continue;
    setIfAbsent(c, 'imagePullPolicy', defaultPullPolicy(str(c.image)));
    setIfAbsent(c, 'terminationMessagePath', '/dev/termination-log');
    setIfAbsent(c, 'terminationMessagePolicy', 'File');
    for (const p of arr(c.ports)) if (isObj(p)) setIfAbsent(p, 'protocol', 'TCP');
  }
}

function defaultPod(pod: KubeObject): void {
  const spec = ensureObj(pod, 'spec');
  setIfAbsent(spec, 'restartPolicy', 'Always');
  setIfAbsent(spec, 'dnsPolicy', 'ClusterFirst');
  setIfAbsent(spec, 'terminationGracePeriodSeconds', 30);
  setIfAbsent(spec, 'schedulerName', 'default-scheduler');
  setIfAbsent(spec, 'securityContext', {});
  setIfAbsent(spec, 'enableServiceLinks', true);
  // The ServiceAccount admission plugin; v1 mirrors the name in the deprecated serviceAccount field.
  setIfAbsent(spec, 'serviceAccountName', str(spec.serviceAccount) || 'default');
  setIfAbsent(spec, 'serviceAccount', spec.serviceAccountName);
  // The Priority admission plugin.
  setIfAbsent(spec, 'priority', 0);
  setIfAbsent(spec, 'preemptionPolicy', 'PreemptLowerPriority');
  defaultContainers(spec.containers);
  defaultContainers(spec.initContainers);
}

function defaultNamespace(ns: KubeObject): void {
  const spec = ensureObj(ns, 'spec');
  setIfAbsent(spec, 'finalizers', ['kubernetes']);
  const name = ns.metadata?.name;
  if (typeof name === 'string' && name) {
    const meta = ns.metadata ?? {};
    ns.metadata = meta;
    meta.labels = { ...(meta.labels ?? {}), 'kubernetes.io/metadata.name': name };
  }
}

function defaultEndpoints(ep: KubeObject): void {
  for (const ss of arr(ep.subsets)) for (const p of arr(obj(ss).ports)) if (isObj(p)) setIfAbsent(p, 'protocol', 'TCP');
}

function defaultEndpointSlice(es: KubeObject): void {
  for (const p of arr(es.ports)) {
    if (!isObj(p)) continue;
    setIfAbsent(p, 'protocol', 'TCP');
    if (!has(p, 'name')) p.name = '';
  }
}

// ---------------------------------------------------------------- KubeVirt

/** KubeVirt's namespace for firmware UUIDs; the UUID is a v5 (SHA-1) UUID of the VM/VMI name. */
const FIRMWARE_UUID_NS = '6a1a24a1-4061-4607-8bf4-a3963d0c5895';

export function firmwareUUID(name: string): string {
  const ns = Buffer.from(FIRMWARE_UUID_NS.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const hostArch = () => (process.arch === 'arm64' ? 'arm64' : process.arch === 's390x' ? 's390x' : 'amd64');

/** What KubeVirt's VM mutator and firmware controller set on a VM's template. */
function defaultVMTemplateSpec(spec: Obj, name: string): void {
  const domain = ensureObj(spec, 'domain');
  setIfAbsent(ensureObj(domain, 'machine'), 'type', 'q35');
  setIfAbsent(spec, 'architecture', hostArch());
  if (name) setIfAbsent(ensureObj(domain, 'firmware'), 'uuid', firmwareUUID(name));
}

function defaultProbe(probe: unknown): void {
  if (!isObj(probe)) return;
  setIfAbsent(probe, 'timeoutSeconds', 1);
  setIfAbsent(probe, 'periodSeconds', 10);
  setIfAbsent(probe, 'successThreshold', 1);
  setIfAbsent(probe, 'failureThreshold', 3);
}

/** KubeVirt's mutating webhook on VMI create, as far as it shows in the stored object. */
export function defaultVMISpec(spec: Obj, name: string): void {
  defaultVMTemplateSpec(spec, name);
  const domain = ensureObj(spec, 'domain');
  const cpu = ensureObj(domain, 'cpu');
  for (const k of ['cores', 'sockets', 'threads']) setIfAbsent(cpu, k, 1);
  const devices = ensureObj(domain, 'devices');
  for (const d of arr(devices.disks)) {
    if (!isObj(d)) continue;
    if (!has(d, 'disk') && !has(d, 'cdrom') && !has(d, 'lun')) d.disk = {};
    if (isObj(d.disk)) setIfAbsent(d.disk, 'bus', 'virtio');
    if (isObj(d.cdrom)) setIfAbsent(d.cdrom, 'bus', 'sata');
  }
  // KubeVirt's autoattach: one interface on the pod network. KubeVirt's default binding is
  // bridge; virtmesh uses masquerade, the binding it supports (and the one Istio needs).
  if (arr(devices.interfaces).length === 0 && arr(spec.networks).length === 0 && devices.autoattachPodInterface !== false) {
    devices.interfaces = [{ name: 'default', masquerade: {} }];
    spec.networks = [{ name: 'default', pod: {} }];
  }
  const guest = obj(domain.memory).guest;
  const parsed = tryParseQuantity(guest);
  // A malformed guest size is left for validation to report once, at its own path.
  if (guest !== undefined && 'value' in parsed && parsed.value > 0) {
    const requests = ensureObj(ensureObj(domain, 'resources'), 'requests');
    setIfAbsent(requests, 'memory', guest);
  }
  defaultProbe(spec.readinessProbe);
  defaultProbe(spec.livenessProbe);
}

export function applyDefaults(group: string, kind: string, o: KubeObject): void {
  if (!isObj(o)) return;
  switch (`${group}/${kind}`) {
    case '/Service':
      defaultService(o);
      break;
    case '/Pod':
      defaultPod(o);
      break;
    case '/Namespace':
      defaultNamespace(o);
      break;
    case '/Secret':
      setIfAbsent(o, 'type', 'Opaque');
      break;
    case '/Endpoints':
      defaultEndpoints(o);
      break;
    case 'discovery.k8s.io/EndpointSlice':
      defaultEndpointSlice(o);
      break;
    case 'kubevirt.io/VirtualMachineInstance':
      defaultVMISpec(ensureObj(o, 'spec'), str(o.metadata?.name));
      break;
    case 'kubevirt.io/VirtualMachine': {
      const template = obj(o.spec).template;
      if (isObj(template)) defaultVMTemplateSpec(ensureObj(template, 'spec'), str(o.metadata?.name));
      break;
    }
    default:
    // Istio kinds and the rest: no defaults.
  }
}
