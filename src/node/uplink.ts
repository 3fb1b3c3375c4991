// The node's uplink (VIRTMESH_NODE_UPLINK). Off by default: the pod bridge reaches
// nothing outside the machine. With `nat`, connections the pod network starts leave
// through one interface of the host (the default route's, or the one named),
// masqueraded behind its address, as kind and Docker give their pod networks: a VM's
// call to a site outside the cluster (its sidecar's PassthroughCluster) reaches the
// real site on a connected machine. Nothing from outside reaches a pod.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createError } from '../errors/index.js';
import { run } from '../util/exec.js';
import { holdIpForward, releaseIpForward } from './ip-forward.js';
import { bridgeName, type NodeNetwork } from './net.js';
import { applyUplinkRules, removeUplinkRules } from './rules.js';

export type UplinkSetting = { mode: 'none' } | { mode: 'nat'; interface?: string };

export interface Uplink {
  /** The host interface the pod network's traffic leaves through. */
  interface: string;
  close(): Promise<void>;
}

/** A Linux interface name, without what iptables reads as a wildcard (+) or a negation (!). */
const INTERFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
/** The names virtmesh gives pod bridges and pod veths (net.ts). */
const POD_NETWORK_INTERFACE = /^vm(br|v)[0-9a-f]{4}/;

const bad = (value: string, why: string) => createError('VM_ERR_CLUSTER_BAD_UPLINK', [value, why]);

/** The setting as written back: `none`, `nat` or `nat:IFACE`. */
export const uplinkText = (s: UplinkSetting) => (s.mode === 'none' ? 'none' : s.interface ? `nat:${s.interface}` : 'nat');

/** Refuses interfaces that lead nowhere out of the machine. */
function checkWayOut(value: string, iface: string, subject: string): void {
  if (iface === 'lo') throw bad(value, `${subject} the loopback interface, which leads nowhere out of the machine`);
  if (POD_NETWORK_INTERFACE.test(iface)) throw bad(value, `${subject} ${iface}, a virtmesh pod network interface, which leads nowhere out of the machine`);
}

/** `none` (or empty), `nat` or `nat:IFACE`; throws, naming the setting, on anything else. */
export function parseUplink(value: string): UplinkSetting {
  const v = value.trim();
  if (v === '' || v === 'none') return { mode: 'none' };
  if (v === 'nat') return { mode: 'nat' };
  if (!v.startsWith('nat:')) throw bad(v, 'is not one of none, nat, nat:IFACE (e.g. nat:eth0)');
  const iface = v.slice('nat:'.length);
  if (iface === '') throw bad(v, "names no interface (expected nat:IFACE, e.g. nat:eth0, or nat for the default route's interface)");
  if (!INTERFACE_NAME.test(iface)) throw bad(v, `names "${iface}", which is not a network interface name`);
  checkWayOut(v, iface, 'names');
  return { mode: 'nat', interface: iface };
}

/** The interface of the IPv4 default route with the lowest metric, from `ip -j route show default`. */
export function defaultRouteInterface(ipRouteJson: string): string | undefined {
  let routes: Array<{ dev?: string; metric?: number; nexthops?: Array<{ dev?: string }> }>;
  try {
    routes = JSON.parse(ipRouteJson || '[]');
  } catch {
    return undefined;
  }
  const devs = routes
    .map((r) => ({ dev: r.dev ?? r.nexthops?.find((n) => n.dev)?.dev, metric: r.metric ?? 0 }))
    .filter((r) => r.dev)
    .sort((a, b) => a.metric - b.metric);
  return devs[0]?.dev;
}

/** The interface the setting means on this machine, checked to exist and to have an IPv4 address to masquerade behind. */
export async function resolveUplinkInterface(setting: Extract<UplinkSetting, { mode: 'nat' }>): Promise<string> {
  const value = uplinkText(setting);
  let iface = setting.interface;
  if (!iface) {
    iface = defaultRouteInterface((await run('ip', ['-j', '-4', 'route', 'show', 'default'], { allowFailure: true })).stdout);
    if (!iface) throw bad(value, 'finds no IPv4 default route on this machine; name the interface with nat:IFACE');
  }
  const subject = setting.interface ? 'names' : "takes the default route's interface";
  checkWayOut(value, iface, subject);
  if (!existsSync(join('/sys/class/net', iface))) throw bad(value, `${subject} ${iface}, which this machine does not have (see ip link)`);
  const addresses = JSON.parse((await run('ip', ['-j', '-4', 'addr', 'show', 'dev', iface], { allowFailure: true })).stdout || '[]') as Array<{
    addr_info?: Array<{ local?: string }>;
  }>;
  if (!addresses.some((a) => a.addr_info?.some((x) => x.local)))
    throw bad(value, `${subject} ${iface}, which has no IPv4 address to masquerade the pods behind`);
  return iface;
}

const bridgeAlive = (tag: string) => existsSync(join('/sys/class/net', bridgeName(tag)));

/** Forwarding back as it was, unless another cluster's uplink still needs it (see ip-forward.ts). */
export function releaseUplinkForwarding(net: NodeNetwork, log: (line: string) => void): void {
  releaseIpForward(net.tag, log, bridgeAlive);
}

/** The uplink the setting asks for, on the node's network; undefined for `none`. */
export async function startUplink(net: NodeNetwork, setting: UplinkSetting, log: (line: string) => void): Promise<Uplink | undefined> {
  if (setting.mode === 'none') {
    releaseUplinkForwarding(net, log); // held by an earlier run of this cluster with an uplink, which crashed
    return undefined;
  }
  const iface = await resolveUplinkInterface(setting);
  const close = async () => {
    await removeUplinkRules(net);
    releaseUplinkForwarding(net, log);
  };
  try {
    await applyUplinkRules(net, iface);
    holdIpForward(net.tag, `${net.bridge} ${net.podCIDR} -> ${iface}`, log);
  } catch (e) {
    await close();
    throw e;
  }
  log(`uplink: the pod network ${net.podCIDR} reaches outside the machine through ${iface}, masqueraded (VIRTMESH_NODE_UPLINK=${uplinkText(setting)})`);
  return { interface: iface, close };
}
