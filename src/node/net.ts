// The node's pod network: one bridge without uplink, a network namespace and a
// veth pair per pod (the CNI role), and the names that tie them to one cluster so
// that two clusters on one machine (or a crashed one) never touch each other's.

import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runIn } from '../util/exec.js';
import { intToIp, ipToInt } from '../util/ipv4.js';

export { intToIp, ipToInt };

export interface NodeNetwork {
  /** Four hex digits derived from the state directory; part of every name made. */
  tag: string;
  bridge: string;
  /** The pod CIDR, e.g. 10.244.0.0/24; the bridge takes its first address. */
  podCIDR: string;
  gateway: string;
  prefixLength: number;
  serviceCIDR: string;
}

/** The pod bridge of the cluster of this tag. */
export const bridgeName = (tag: string) => `vmbr${tag}`;

export function nodeNetwork(stateDir: string, podCIDR: string, serviceCIDR: string): NodeNetwork {
  const tag = createHash('sha1').update(stateDir).digest('hex').slice(0, 4);
  const [base, bits] = podCIDR.split('/');
  const prefixLength = Number(bits);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(base) || !(prefixLength >= 16 && prefixLength <= 28)) {
    throw new Error(`pod CIDR ${podCIDR} is not an IPv4 network between /16 and /28`);
  }
  return { tag, bridge: bridgeName(tag), podCIDR, gateway: intToIp(ipToInt(base) + 1), prefixLength, serviceCIDR };
}

export const sandboxNames = (net: NodeNetwork, podUid: string) => {
  const id = podUid.replace(/-/g, '');
  return { netns: `virtmesh-${net.tag}-${id.slice(0, 8)}`, hostVeth: `vmv${net.tag}${id.slice(0, 6)}` };
};

/** The bridge with the gateway address; routes the service CIDR onto it so node-to-service traffic never leaves the machine. */
export async function ensureBridge(net: NodeNetwork): Promise<void> {
  const exists = (await run('ip', ['link', 'show', net.bridge], { allowFailure: true })).code === 0;
  if (!exists) {
    await run('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${net.gateway}/${net.prefixLength}`, 'dev', net.bridge]);
  }
  await run('ip', ['link', 'set', net.bridge, 'up']);
  await run('ip', ['route', 'replace', net.serviceCIDR, 'dev', net.bridge, 'src', net.gateway]);
}

export async function removeBridge(net: NodeNetwork): Promise<void> {
  await run('ip', ['route', 'del', net.serviceCIDR, 'dev', net.bridge], { allowFailure: true });
  await run('ip', ['link', 'del', net.bridge], { allowFailure: true });
}

export interface SandboxNetwork {
  netns: string;
  hostVeth: string;
  ip: string;
}

/** A pod's namespace: loopback, eth0 on the bridge with the pod IP, default route to the node, forwarding on for the VM behind it. */
export async function createSandboxNetwork(net: NodeNetwork, podUid: string, ip: string, resolvConf: string): Promise<SandboxNetwork> {
  const { netns, hostVeth } = sandboxNames(net, podUid);
  await deleteSandboxNetwork(net, podUid); // left over from a crash
  writeResolvConf(netns, resolvConf);
  await run('ip', ['netns', 'add', netns]);
  await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await run('ip', ['link', 'set', hostVeth, 'master', net.bridge, 'up']);
  const cmds = ['link set lo up', `addr add ${ip}/${net.prefixLength} dev eth0`, 'link set eth0 up', `route add default via ${net.gateway} dev eth0`];
  await runIn(netns, 'ip', ['-batch', '-'], { input: `${cmds.join('\n')}\n` });
  await runIn(netns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.route_localnet=1']);
  return { netns, hostVeth, ip };
}

/** Removing a namespace does not stop what runs in it: whatever still does (a crash's leftovers) is killed first. */
export async function killNetnsProcesses(netns: string): Promise<void> {
  const pids = (await run('ip', ['netns', 'pids', netns], { allowFailure: true })).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

export async function deleteSandboxNetwork(net: NodeNetwork, podUid: string): Promise<void> {
  const { netns, hostVeth } = sandboxNames(net, podUid);
  await killNetnsProcesses(netns);
  await run('ip', ['netns', 'delete', netns], { allowFailure: true });
  await run('ip', ['link', 'del', hostVeth], { allowFailure: true });
  rmSync(join('/etc/netns', netns), { recursive: true, force: true });
}

/** `ip netns exec` mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf for what runs inside. */
function writeResolvConf(netns: string, content: string): void {
  const dir = join('/etc/netns', netns);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'resolv.conf'), content);
}

export function podResolvConf(namespace: string, dnsIP: string, clusterDomain = 'cluster.local'): string {
  return `search ${namespace}.svc.${clusterDomain} svc.${clusterDomain} ${clusterDomain}\nnameserver ${dnsIP}\noptions ndots:5\n`;
}

/** Every namespace and link of this cluster's node, including ones a crash left behind. */
export async function listClusterSandboxes(net: NodeNetwork): Promise<{ netns: string[]; links: string[] }> {
  const ns = (await run('ip', ['netns', 'list'], { allowFailure: true })).stdout;
  const links = (await run('ip', ['-o', 'link', 'show'], { allowFailure: true })).stdout;
  return {
    netns: ns
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.startsWith(`virtmesh-${net.tag}-`)),
    links: links
      .split('\n')
      .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
      .filter((n) => n.startsWith(`vmv${net.tag}`)),
  };
}

/** Removes every pod namespace and veth of this cluster, except those of the pods in `keep` (uids). */
export async function sweepClusterNetwork(net: NodeNetwork, keep: Iterable<string> = []): Promise<void> {
  const kept = new Set([...keep].flatMap((uid) => Object.values(sandboxNames(net, uid))));
  const all = await listClusterSandboxes(net);
  const netns = all.netns.filter((n) => !kept.has(n));
  const links = all.links.filter((l) => !kept.has(l));
  for (const n of netns) {
    await killNetnsProcesses(n);
    await run('ip', ['netns', 'delete', n], { allowFailure: true });
    rmSync(join('/etc/netns', n), { recursive: true, force: true });
  }
  for (const l of links) await run('ip', ['link', 'del', l], { allowFailure: true });
}
