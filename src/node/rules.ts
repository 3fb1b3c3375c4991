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

/** Ports the sidecar owns; never forwarded to the guest. */
export const meshReservedPorts = [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090];

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

/** Everything in one pod namespace's tables; the namespace is ours, so the tables are written whole. */
export function renderPodRules(services: ServicePortRule[], vm?: VmNat): string {
  const svc = serviceRules('VIRTMESH-SERVICES', services);
  const nat = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':VIRTMESH-SERVICES - [0:0]'];
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

const hostChains = (net: NodeNetwork) => ({ svc: `VIRTMESH-${net.tag}-SVC`, isolate: `VIRTMESH-${net.tag}-ISO` });

/**
 * The node's own rules, in chains of this cluster only (the host's tables are shared):
 * service addresses from the node itself, and no forwarding between the pod bridge
 * and any other interface (the bridge has no uplink).
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

export async function removeHostRules(net: NodeNetwork): Promise<void> {
  const { svc, isolate } = hostChains(net);
  const steps: Array<[string, string, string]> = [
    ['nat', 'OUTPUT', svc],
    ['filter', 'OUTPUT', `${svc}-REJ`],
    ['filter', 'FORWARD', isolate],
  ];
  for (const [table, from, chain] of steps) {
    while ((await run('iptables', ['-w', '-t', table, '-D', from, '-j', chain], { allowFailure: true })).code === 0) {}
    await run('iptables', ['-w', '-t', table, '-F', chain], { allowFailure: true });
    await run('iptables', ['-w', '-t', table, '-X', chain], { allowFailure: true });
  }
}
