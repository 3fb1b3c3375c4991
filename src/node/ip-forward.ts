// net.ipv4.ip_forward for the uplink: the kernel forwards the pods' packets out of
// the uplink interface only with it on. When it is off, the uplink turns it on, and
// it goes back off when the last cluster that needed it goes down; when it was on
// already (Docker, a router), it is not virtmesh's to turn off. The record is
// machine-wide, since clusters of several state directories share the one sysctl: a
// directory that exists while virtmesh has it on, holding the boot it was turned on
// in (a record from an earlier boot is void: the sysctl started afresh) and one file
// per cluster that needs it, named by the cluster's tag.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface IpForwardPaths {
  /** The sysctl's file. */
  sysctl: string;
  /** The record; exists only while virtmesh has turned forwarding on. */
  dir: string;
  /** Changes at every boot of the machine. */
  bootId: string;
}

export const ipForwardPaths: IpForwardPaths = {
  sysctl: '/proc/sys/net/ipv4/ip_forward',
  dir: '/run/virtmesh/ip-forward',
  bootId: '/proc/sys/kernel/random/boot_id',
};

/** True while the cluster of this tag may still need forwarding (its bridge is there). */
export type HolderAlive = (tag: string) => boolean;

const read = (path: string) => readFileSync(path, 'utf8').trim();
const BOOT_FILE = 'boot-id';
const HOLDER = /^cluster-(.+)$/;

/** Whether virtmesh turned forwarding on in this boot; a record left from an earlier boot goes. */
function recordValid(paths: IpForwardPaths): boolean {
  if (!existsSync(paths.dir)) return false;
  const boot = join(paths.dir, BOOT_FILE);
  if (existsSync(boot) && read(boot) === read(paths.bootId)) return true;
  rmSync(paths.dir, { recursive: true, force: true });
  return false;
}

/** The clusters holding forwarding whose bridges are still there; the others (a crash nobody cleaned up after) are dropped. */
function liveHolders(paths: IpForwardPaths, alive: HolderAlive): string[] {
  const tags: string[] = [];
  for (const file of readdirSync(paths.dir)) {
    const tag = file.match(HOLDER)?.[1];
    if (tag === undefined) continue;
    if (alive(tag)) tags.push(tag);
    else rmSync(join(paths.dir, file), { force: true });
  }
  return tags;
}

/**
 * Forwarding on for the cluster of `tag`: turned on, and said so, when it is off; the cluster recorded
 * as a holder when virtmesh has it on. `note` says in the record what the cluster is (its bridge, its pods).
 */
export function holdIpForward(tag: string, note: string, log: (line: string) => void, paths = ipForwardPaths): void {
  const ours = recordValid(paths);
  if (read(paths.sysctl) === '1') {
    if (!ours) return; // on already, and not by virtmesh: never turned off by it either
  } else {
    mkdirSync(paths.dir, { recursive: true, mode: 0o755 });
    writeFileSync(join(paths.dir, BOOT_FILE), `${read(paths.bootId)}\n`);
    writeFileSync(paths.sysctl, '1');
    log('net.ipv4.ip_forward was 0: virtmesh turned it on for the uplink; it goes back to 0 when the last cluster with an uplink goes down');
  }
  writeFileSync(join(paths.dir, `cluster-${tag}`), `${note}\n`);
}

/** The cluster of `tag` needs forwarding no more: when virtmesh turned it on and no other cluster holds it, it goes back off. */
export function releaseIpForward(tag: string, log: (line: string) => void, alive: HolderAlive, paths = ipForwardPaths): void {
  if (!recordValid(paths)) return;
  rmSync(join(paths.dir, `cluster-${tag}`), { force: true });
  if (liveHolders(paths, alive).length > 0) return;
  rmSync(paths.dir, { recursive: true, force: true });
  try {
    rmdirSync(dirname(paths.dir)); // /run/virtmesh, when nothing else is in it
  } catch {}
  if (read(paths.sysctl) === '1') {
    writeFileSync(paths.sysctl, '0');
    log('net.ipv4.ip_forward back to 0, as it was before virtmesh turned it on for the uplink');
  }
}
