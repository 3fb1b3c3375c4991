// Pod addresses from the node's pod CIDR (the host-local IPAM role). The table
// lives in a file written atomically, so a pod keeps its address across restarts.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { intToIp, ipToInt } from '../util/ipv4.js';
import { standInAddress } from './external-stand-in.js';

export class Ipam {
  readonly #path: string;
  readonly #first: number;
  readonly #last: number;
  /** ip -> pod uid */
  #table: Record<string, string>;

  constructor(path: string, podCIDR: string) {
    this.#path = path;
    const [base, bits] = podCIDR.split('/');
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(ipToInt(base) / size) * size;
    this.#first = start + 2; // .0 is the network, .1 the node's bridge
    this.#last = ipToInt(standInAddress(podCIDR)) - 1; // above: the external stand-in's address, then broadcast
    this.#table = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  }

  /** The pod's address: the one it had, or the lowest free one. */
  allocate(podUid: string): string {
    const had = this.lookup(podUid);
    if (had) return had;
    for (let n = this.#first; n <= this.#last; n++) {
      const ip = intToIp(n);
      if (!this.#table[ip]) {
        this.#table[ip] = podUid;
        this.#save();
        return ip;
      }
    }
    throw new Error(`no free pod address left in the node's pod CIDR (${this.#last - this.#first + 1} addresses, all in use)`);
  }

  lookup(podUid: string): string | undefined {
    return Object.keys(this.#table).find((ip) => this.#table[ip] === podUid);
  }

  release(podUid: string): void {
    const ip = this.lookup(podUid);
    if (!ip) return;
    delete this.#table[ip];
    this.#save();
  }

  owners(): string[] {
    return Object.values(this.#table);
  }

  #save(): void {
    const tmp = `${this.#path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.#table, null, 2));
    renameSync(tmp, this.#path);
  }
}
