// The host's resolvers, which the virtmesh DNS server forwards non-cluster names to.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Upstream } from './forward.js';

/** resolv.conf has no port syntax: every nameserver listens on 53. */
const RESOLV_CONF_PORT = 53;

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);

const withoutZone = (host: string) => host.replace(/%.*$/, '').toLowerCase();

function isLocalAddress(host: string): boolean {
  const ip = withoutZone(host);
  if (ip.startsWith('127.') || ip === '::1') return true;
  return Object.values(networkInterfaces()).some((addrs) => (addrs ?? []).some((a) => a.address.toLowerCase() === ip));
}

/**
 * The nameservers of `resolvConfPath`, in order, as forwarding upstreams. Those that are one
 * of `self` (the addresses this DNS server listens on) are left out: forwarding to them would
 * send queries around in a loop. An unreadable file or one without nameservers gives [].
 */
export function readHostResolvers(resolvConfPath = '/etc/resolv.conf', self: Upstream[] = []): Upstream[] {
  let text: string;
  try {
    text = readFileSync(resolvConfPath, 'utf8');
  } catch {
    return [];
  }
  const loopsBack = (host: string) =>
    self.some(
      (s) => s.port === RESOLV_CONF_PORT && (withoutZone(s.host) === withoutZone(host) || (WILDCARD_HOSTS.has(withoutZone(s.host)) && isLocalAddress(host))),
    );
  const found: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+([^\s#;]+)/.exec(line);
    if (!m || isIP(withoutZone(m[1])) === 0) continue;
    const host = m[1];
    if (loopsBack(host) || found.some((u) => u.host === host)) continue;
    found.push({ host, port: RESOLV_CONF_PORT });
  }
  return found;
}
