// virtmesh's settings from the environment, read in this one place.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

export interface CliConfig {
  /** Where the cluster keeps its state: database, certificates, kubeconfig, logs. */
  stateDir: string;
  apiserverPort: number;
  serviceCIDR: string;
  /** node01's pod network; the node's bridge takes the first address. */
  podCIDR: string;
  /** Where built guest images are cached (shared by every cluster on the machine). */
  imageCacheDir: string;
  /** Resolvers for names outside the cluster: `host` (the machine's resolv.conf), `none`, or `ip[:port],...`. */
  dnsUpstream: string;
  /** Port of the cluster DNS server on the node's bridge address. */
  dnsPort: number;
  /** Loopback port of the web console and its API (Kiali's 20001); 0 picks a free one, as does a port in use. */
  consolePort: number;
  /** Loopback port of the cluster's Prometheus (9090, as Istio's addon); 0 picks a free one, as does a port in use. */
  prometheusPort: number;
  /** Host names the cluster DNS answers with the external stand-in (for machines without internet); empty for none. */
  externalStandIn: string;
  /** The pod network's way out of the machine: `none` (no uplink), `nat` (masqueraded out of the default route's interface) or `nat:IFACE`; checked by parseUplink. */
  nodeUplink: string;
  /** The VMs' accelerator: `auto` (KVM when a guest boots under it, else TCG), `kvm` or `tcg`; checked by parseAccelSetting. */
  vmAccel: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  const cacheHome = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return {
    stateDir: env.VIRTMESH_STATE_DIR || join(stateHome, 'virtmesh'),
    apiserverPort: env.VIRTMESH_APISERVER_PORT ? Number(env.VIRTMESH_APISERVER_PORT) : 6443,
    serviceCIDR: env.VIRTMESH_APISERVER_SERVICE_CIDR || '10.96.0.0/16',
    podCIDR: env.VIRTMESH_NODE_POD_CIDR || '10.244.0.0/24',
    imageCacheDir: env.VIRTMESH_VM_IMAGE_CACHE || join(cacheHome, 'virtmesh', 'images'),
    dnsUpstream: env.VIRTMESH_DNS_UPSTREAM || 'host',
    dnsPort: env.VIRTMESH_DNS_PORT ? Number(env.VIRTMESH_DNS_PORT) : 53,
    consolePort: env.VIRTMESH_CONSOLE_PORT ? Number(env.VIRTMESH_CONSOLE_PORT) : 20001,
    prometheusPort: env.VIRTMESH_PROMETHEUS_PORT ? Number(env.VIRTMESH_PROMETHEUS_PORT) : 9090,
    externalStandIn: env.VIRTMESH_EXTERNAL_STAND_IN ?? '',
    nodeUplink: env.VIRTMESH_NODE_UPLINK || 'none',
    vmAccel: env.VIRTMESH_VM_ACCEL ?? 'auto',
  };
}
