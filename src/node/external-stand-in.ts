// A stand-in for sites outside the cluster, for machines without internet
// (VIRTMESH_EXTERNAL_STAND_IN): a small web server on an address of the pod network
// that no pod, Service or sidecar knows, held by the node's bridge. Calls to it leave
// the mesh exactly as calls to the real site would (PassthroughCluster); the cluster
// DNS answers the configured names with its address.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createError } from '../errors/index.js';
import { run } from '../util/exec.js';
import { intToIp, ipToInt } from '../util/ipv4.js';
import type { NodeNetwork } from './net.js';
import { applyStandInRule, removeStandInRule } from './rules.js';

export interface ExternalStandIn {
  address: string;
  close(): Promise<void>;
}

/** The pod CIDR's last usable address: the pod IPAM never hands it out. */
export function standInAddress(podCIDR: string): string {
  const [base, bits] = podCIDR.split('/');
  const size = 2 ** (32 - Number(bits));
  return intToIp(Math.floor(ipToInt(base) / size) * size + size - 2);
}

/** A domain name with at least two labels, the last not all digits (so not an IPv4 address). */
const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.(?=[a-z0-9-]*[a-z-])[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** `kubevirt.io, example.org` -> the names; throws, naming the setting, on anything that is not a host name. */
export function parseStandInNames(value: string, clusterDomain = 'cluster.local'): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    if (!HOST_NAME.test(name))
      throw createError('VM_ERR_CLUSTER_BAD_STAND_IN', [name, 'is not a host name with a domain (expected names like kubevirt.io, separated by commas)']);
    if (name === clusterDomain || name.endsWith(`.${clusterDomain}`)) {
      throw createError('VM_ERR_CLUSTER_BAD_STAND_IN', [
        name,
        `is inside the cluster domain ${clusterDomain}: only names outside the cluster can have a stand-in`,
      ]);
    }
  }
  return names;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startExternalStandIn(net: NodeNetwork, names: string[], log: (line: string) => void): Promise<ExternalStandIn> {
  const address = standInAddress(net.podCIDR);
  await run('ip', ['addr', 'replace', `${address}/${net.prefixLength}`, 'dev', net.bridge]);
  const server = createServer((req, res) => {
    const host = escapeHtml((req.headers.host ?? address).replace(/:\d+$/, ''));
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(
      `<!doctype html><title>${host}</title><h1>${host}</h1><p>A stand-in for ${host}, served by virtmesh at ${address} (VIRTMESH_EXTERNAL_STAND_IN): the cluster's pods do not reach the internet.</p>\n`,
    );
  });
  server.keepAliveTimeout = 5000;
  const close = async () => {
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await removeStandInRule(net);
    await run('ip', ['addr', 'del', `${address}/${net.prefixLength}`, 'dev', net.bridge], { allowFailure: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, address, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await close();
    throw new Error(`the external stand-in cannot listen on ${address}: ${(e as Error).message}`);
  }
  try {
    // Pods call port 80; the server has a free port, since port 80 on every address may be taken on this machine.
    await applyStandInRule(net, address, (server.address() as AddressInfo).port);
  } catch (e) {
    await close();
    throw e;
  }
  log(`external stand-in for ${names.join(', ')} on http://${address}:80 (outside the mesh)`);
  return { address, close };
}
