// Packet rules, rendered as iptables-restore input. Service addresses (the
// kube-proxy role) are translated where a connection starts: inside each pod's
// namespace and in the node's own OUTPUT chain, so replies return the same way
// without bridge netfilter tricks. The VM's masquerade rules sit beside them.

import { run, runIn } from '../util/exec.js';
import type { NodeNetwork } from './net.js';

export interface ServicePortRule {
  /** namespace/name:port, for the comment on each rule. */
  name: string;
  clusterIP: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  endpoints: Array<{ ip: string; port: number }>;
}

export interface VmNat {
  guestIP: string;
  gatewayIP: string;
  bridge: string;
  /** Ports forwarded from the pod IP to the guest; undefined forwards every port, as KubeVirt does when none are declared. */
  ports?: Array<{ port: number; protocol: 'TCP' | 'UDP' }>;
}

/**
 * The istio-cni role: what an injected pod's traffic capture needs, from the pod's
 * traffic.sidecar.istio.io annotations (see captureFromAnnotations).
 */
export interface Capture {
  proxyUid: number;
  /** Interfaces whose incoming TCP is the workload's outbound traffic (a VM's k6t-eth0). */
  kubevirtInterfaces: string[];
  /** '*' or the ports to capture inbound. */
  includeInboundPorts: '*' | number[];
  excludeInboundPorts: number[];
  excludeOutboundPorts: number[];
  excludeOutboundIPRanges: string[];
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '')}"`;

/** DNAT rules for service addresses, one chain, to jump to from PREROUTING and OUTPUT. */
function serviceRules(chain: string, services: ServicePortRule[]): { nat: string[]; reject: string[] } {
  const nat: string[] = [];
  const reject: string[] = [];
  for (const s of services) {
    const proto = s.protocol.toLowerCase();
    const match = `-d ${s.clusterIP}/32 -p ${proto} -m ${proto} --dport ${s.port}`;
    const comment = `-m comment --comment ${quote(s.name)}`;
    if (s.endpoints.length === 0) {
      reject.push(`-A ${chain}-REJ ${match} ${comment} -j REJECT`);
      continue;
    }
    // Spread new connections evenly, as kube-proxy's iptables mode does.
    s.endpoints.forEach((e, i) => {
      const left = s.endpoints.length - i;
      const pick = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(5)} ` : '';
      nat.push(`-A ${chain} ${match} ${comment} ${pick}-j DNAT --to-destination ${e.ip}:${e.port}`);
    });
  }
  return { nat, reject };
}

/** The items of a comma-separated annotation that have the expected form. */
const items = (v: string | undefined, form: RegExp) =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => form.test(x));
const numbers = (v: string | undefined) =>
  items(v, /\S/)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0 && n < 65536);

/** The capture an injected pod asks for through Istio's annotations; undefined for a pod without a sidecar. */
export function captureFromAnnotations(annotations: Record<string, string> | undefined, proxyUid: number): Capture | undefined {
  const a = annotations ?? {};
  if (!a['sidecar.istio.io/status']) return undefined;
  const include = (a['traffic.sidecar.istio.io/includeInboundPorts'] ?? '*').trim();
  return {
    proxyUid,
    kubevirtInterfaces: items(a['traffic.sidecar.istio.io/kubevirtInterfaces'], /^[\w.-]+$/),
    includeInboundPorts: include === '*' ? '*' : numbers(include),
    excludeInboundPorts: numbers(a['traffic.sidecar.istio.io/excludeInboundPorts']),
    excludeOutboundPorts: numbers(a['traffic.sidecar.istio.io/excludeOutboundPorts']),
    excludeOutboundIPRanges: items(a['traffic.sidecar.istio.io/excludeOutboundIPRanges'], /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/),
  };
}

/** Ports the sidecar owns; never forwarded to the guest. */
export const meshReservedPorts = [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090];

/**
 * Istio's capture chains (istio-iptables in REDIRECT mode): inbound TCP to 15006, the
 * workload's outbound TCP to 15001, the proxy's own traffic (its uid) and loopback left alone.
 */
function captureRules(c: Capture): string[] {
  const rules = [':ISTIO_INBOUND - [0:0]', ':ISTIO_IN_REDIRECT - [0:0]', ':ISTIO_OUTPUT - [0:0]', ':ISTIO_REDIRECT - [0:0]', ':ISTIO_KUBEVIRT - [0:0]'];
  // The VM's outbound TCP, in a chain of its own: an exclusion returns to PREROUTING, which goes on to the service rules.
  for (const iface of c.kubevirtInterfaces) rules.push(`-A PREROUTING -i ${iface} -p tcp -j ISTIO_KUBEVIRT`);
  for (const range of c.excludeOutboundIPRanges) rules.push(`-A ISTIO_KUBEVIRT -d ${range} -j RETURN`);
  for (const port of c.excludeOutboundPorts) rules.push(`-A ISTIO_KUBEVIRT -p tcp -m tcp --dport ${port} -j RETURN`);
  rules.push('-A ISTIO_KUBEVIRT -j ISTIO_REDIRECT');
  rules.push('-A PREROUTING -p tcp -j ISTIO_INBOUND');
  // What the VM sends out and capture leaves alone is not inbound traffic either.
  for (const iface of c.kubevirtInterfaces) rules.push(`-A ISTIO_INBOUND -i ${iface} -j RETURN`);
  // Inbound capture leaves all of Istio's reserved ports alone, not only the 15008, 15090, 15021 and 15020
  // Istio leaves: it passes the others through to the pod IP, where nothing listens, but virtmesh passes
  // inbound through to the loopback (to reach the guest), where the sidecar's admin port listens.
  for (const port of [...new Set([...meshReservedPorts, ...c.excludeInboundPorts])]) rules.push(`-A ISTIO_INBOUND -p tcp -m tcp --dport ${port} -j RETURN`);
  if (c.includeInboundPorts === '*') rules.push('-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT');
  else for (const port of c.includeInboundPorts) rules.push(`-A ISTIO_INBOUND -p tcp -m tcp --dport ${port} -j ISTIO_IN_REDIRECT`);
  rules.push('-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006');
  rules.push('-A OUTPUT -p tcp -j ISTIO_OUTPUT');
  rules.push(`-A ISTIO_OUTPUT -m owner --uid-owner ${c.proxyUid} -j RETURN`, `-A ISTIO_OUTPUT -m owner --gid-owner ${c.proxyUid} -j RETURN`);
  rules.push('-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN');
  for (const range of c.excludeOutboundIPRanges) rules.push(`-A ISTIO_OUTPUT -d ${range} -j RETURN`);
  for (const port of c.excludeOutboundPorts) rules.push(`-A ISTIO_OUTPUT -p tcp -m tcp --dport ${port} -j RETURN`);
  rules.push('-A ISTIO_OUTPUT -j ISTIO_REDIRECT', '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001');
  return rules;
}

/**
 * Everything in one pod namespace's tables; the namespace is ours, so the tables are written whole.
 * Capture comes first, so the sidecar sees a service's address, not the endpoint kube-proxy's rules would pick.
 */
export function renderPodRules(services: ServicePortRule[], vm?: VmNat, capture?: Capture): string {
  const svc = serviceRules('VIRTMESH-SERVICES', services);
  const nat = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':VIRTMESH-SERVICES - [0:0]'];
  if (capture) nat.push(...captureRules(capture));
  nat.push('-A PREROUTING -j VIRTMESH-SERVICES', '-A OUTPUT -j VIRTMESH-SERVICES', ...svc.nat);
  if (vm) {
    // Inbound to the pod IP reaches the guest; the guest's own connections leave with the pod IP.
    const forwards = vm.ports ?? [
      { port: 0, protocol: 'TCP' as const },
      { port: 0, protocol: 'UDP' as const },
    ];
    for (const f of forwards) {
      const proto = f.protocol.toLowerCase();
      // With every port forwarded, the mesh's reserved ports still stay in the pod (KubeVirt keeps them out too).
      const dport = f.port ? ` -m ${proto} --dport ${f.port}` : ` -m multiport ! --dports ${meshReservedPorts.join(',')}`;
      nat.push(`-A PREROUTING -i eth0 -p ${proto}${dport} -j DNAT --to-destination ${vm.guestIP}`);
      // Connections the pod makes to itself (probes through the loopback, a sidecar later) reach the guest too.
      nat.push(`-A OUTPUT -d 127.0.0.1/32 -p ${proto}${dport} -j DNAT --to-destination ${vm.guestIP}`);
    }
    nat.push(`-A POSTROUTING -s ${vm.guestIP}/32 -o eth0 -j MASQUERADE`);
    nat.push(`-A POSTROUTING -d ${vm.guestIP}/32 -o ${vm.bridge} -s 127.0.0.1/32 -j SNAT --to-source ${vm.gatewayIP}`);
  }
  nat.push('COMMIT');
  const filter = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':VIRTMESH-SERVICES-REJ - [0:0]'];
  filter.push('-A OUTPUT -j VIRTMESH-SERVICES-REJ', '-A FORWARD -j VIRTMESH-SERVICES-REJ', ...svc.reject, 'COMMIT');
  return `${[...nat, ...filter].join('\n')}\n`;
}

export async function applyPodRules(netns: string, rules: string): Promise<void> {
  await runIn(netns, 'iptables-restore', [], { input: rules });
}

const hostChains = (net: NodeNetwork) => ({
  svc: `VIRTMESH-${net.tag}-SVC`,
  isolate: `VIRTMESH-${net.tag}-ISO`,
  standIn: `VIRTMESH-${net.tag}-EXT`,
  uplink: `VIRTMESH-${net.tag}-UPL`,
});

/**
 * The node's own rules, in chains of this cluster only (the host's tables are shared):
 * service addresses from the node itself, and no forwarding between the pod bridge
 * and any other interface (the bridge has no uplink, unless renderUplinkRules gives it one).
 */
export async function applyHostRules(net: NodeNetwork, services: ServicePortRule[]): Promise<void> {
  const { svc, isolate } = hostChains(net);
  const rules = serviceRules(svc, services);
  const input = [
    '*nat',
    `:${svc} - [0:0]`,
    ...rules.nat,
    'COMMIT',
    '*filter',
    `:${svc}-REJ - [0:0]`,
    `:${isolate} - [0:0]`,
    ...rules.reject,
    `-A ${isolate} -i ${net.bridge} ! -o ${net.bridge} -j DROP`,
    `-A ${isolate} -o ${net.bridge} ! -i ${net.bridge} -j DROP`,
    'COMMIT',
  ];
  await run('iptables-restore', ['--noflush'], { input: `${input.join('\n')}\n` });
  await ensureJump('nat', 'OUTPUT', svc);
  await ensureJump('filter', 'OUTPUT', `${svc}-REJ`);
  await ensureJump('filter', 'FORWARD', isolate);
}

async function ensureJump(table: string, from: string, to: string): Promise<void> {
  const present = await run('iptables', ['-w', '-t', table, '-C', from, '-j', to], { allowFailure: true });
  if (present.code !== 0) await run('iptables', ['-w', '-t', table, '-I', from, '1', '-j', to]);
}

/**
 * Port 80 of the external stand-in's address, for pods and for the node itself, to the port its
 * server listens on (port 80 of every address may belong to another program here).
 */
export async function applyStandInRule(net: NodeNetwork, address: string, port: number): Promise<void> {
  const { standIn } = hostChains(net);
  const input = ['*nat', `:${standIn} - [0:0]`, `-A ${standIn} -d ${address}/32 -p tcp --dport 80 -j DNAT --to-destination ${address}:${port}`, 'COMMIT'];
  await run('iptables-restore', ['--noflush'], { input: `${input.join('\n')}\n` });
  await ensureJump('nat', 'PREROUTING', standIn);
  await ensureJump('nat', 'OUTPUT', standIn);
}

/**
 * The uplink (VIRTMESH_NODE_UPLINK=nat), as kind and Docker give their pod networks: connections the pod
 * network starts out of `iface`, masqueraded behind its address, and their replies back. Nothing else crosses:
 * the isolation chain after it still drops whatever else enters or leaves the bridge, so nothing from the
 * uplink can open a connection to a pod.
 */
export function renderUplinkRules(net: NodeNetwork, iface: string): string {
  const { uplink } = hostChains(net);
  const input = [
    '*nat',
    `:${uplink} - [0:0]`,
    `-A ${uplink} -s ${net.podCIDR} -o ${iface} -j MASQUERADE`,
    'COMMIT',
    '*filter',
    `:${uplink} - [0:0]`,
    `-A ${uplink} -s ${net.podCIDR} -i ${net.bridge} -o ${iface} -j ACCEPT`,
    `-A ${uplink} -d ${net.podCIDR} -i ${iface} -o ${net.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    'COMMIT',
  ];
  return `${input.join('\n')}\n`;
}

export async function applyUplinkRules(net: NodeNetwork, iface: string): Promise<void> {
  const { uplink } = hostChains(net);
  await run('iptables-restore', ['--noflush'], { input: renderUplinkRules(net, iface) });
  // First in FORWARD, ahead of the isolation chain, which the node agent put there before.
  await ensureJump('filter', 'FORWARD', uplink);
  await ensureJump('nat', 'POSTROUTING', uplink);
}

export async function removeUplinkRules(net: NodeNetwork): Promise<void> {
  const { uplink } = hostChains(net);
  await removeChain('filter', ['FORWARD'], uplink);
  await removeChain('nat', ['POSTROUTING'], uplink);
}

export async function removeStandInRule(net: NodeNetwork): Promise<void> {
  const { standIn } = hostChains(net);
  await removeChain('nat', ['PREROUTING', 'OUTPUT'], standIn);
}

export async function removeHostRules(net: NodeNetwork): Promise<void> {
  const { svc, isolate } = hostChains(net);
  await removeStandInRule(net);
  await removeUplinkRules(net);
  await removeChain('nat', ['OUTPUT'], svc);
  await removeChain('filter', ['OUTPUT'], `${svc}-REJ`);
  await removeChain('filter', ['FORWARD'], isolate);
}

/** Every jump to `chain`, then the chain itself; quiet when there is none. */
async function removeChain(table: string, from: string[], chain: string): Promise<void> {
  for (const f of from) while ((await run('iptables', ['-w', '-t', table, '-D', f, '-j', chain], { allowFailure: true })).code === 0) {}
  await run('iptables', ['-w', '-t', table, '-F', chain], { allowFailure: true });
  await run('iptables', ['-w', '-t', table, '-X', chain], { allowFailure: true });
}
