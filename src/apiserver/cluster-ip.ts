// Cluster IP allocation for Services from the service CIDR, as kube-apiserver's
// ipallocator does: a requested address must be in range and free; otherwise the
// next free address is handed out. The first address is reserved for `kubernetes`.

import type { Store } from '../store/index.js';
import { intToIp, ipToInt } from '../util/ipv4.js';
import type { KubeObject } from './admission/types.js';
import { status, type Target } from './status.js';

type Any = any;

const isIPv4 = (s: string) => /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split('.').every((o) => Number(o) <= 255);

export class ClusterIPAllocator {
  readonly #base: number;
  readonly #size: number;
  readonly #used = new Set<number>();
  #next = 10;

  constructor(
    readonly cidr: string,
    store: Store,
  ) {
    const [ip, bits] = cidr.split('/');
    this.#size = 2 ** (32 - Number(bits));
    this.#base = ipToInt(ip) & ~(this.#size - 1);
    for (const svc of store.list({ group: '', resource: 'services' }).items as Any[]) {
      if (svc.spec?.clusterIP && svc.spec.clusterIP !== 'None') this.#used.add(ipToInt(svc.spec.clusterIP));
    }
  }

  /** The address of the `kubernetes` Service (the first in the range). */
  get first(): string {
    return intToIp(this.#base + 1);
  }

  #inRange(n: number) {
    return n > this.#base && n < this.#base + this.#size - 1;
  }

  allocate(obj: KubeObject, dryRun: boolean, t: Target): KubeObject {
    const svc = structuredClone(obj) as Any;
    svc.spec ??= {};
    if (svc.spec.type === 'ExternalName') return svc;
    const requested: string | undefined = svc.spec.clusterIP || svc.spec.clusterIPs?.[0];
    if (requested === 'None') {
      svc.spec.clusterIP = 'None';
      svc.spec.clusterIPs = ['None'];
      return svc;
    }
    let n: number;
    if (requested) {
      const bad = (why: string) =>
        status.invalid(t, [
          { type: 'FieldValueInvalid', field: 'spec.clusterIPs', badValue: [requested], detail: `failed to allocate IP ${requested}: ${why}` },
        ]);
      if (!isIPv4(requested)) throw bad('not a valid IPv4 address');
      n = ipToInt(requested);
      if (!this.#inRange(n)) throw bad(`the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${this.cidr}`);
      if (this.#used.has(n)) throw bad('provided IP is already allocated');
    } else {
      n = this.#findFree();
      if (n < 0) throw status.internal(`failed to allocate a serviceIP: range is full (${this.cidr})`);
    }
    if (!dryRun) this.#used.add(n);
    svc.spec.clusterIP = intToIp(n);
    svc.spec.clusterIPs = [intToIp(n)];
    return svc;
  }

  #findFree(): number {
    for (let i = 0; i < this.#size; i++) {
      const offset = ((this.#next + i) % (this.#size - 2)) + 1;
      if (!this.#used.has(this.#base + offset)) {
        this.#next = offset + 1;
        return this.#base + offset;
      }
    }
    return -1;
  }

  /**
   * Before validating an update, as kube-apiserver does: an omitted address is carried
   * over, and clusterIPs follows a changed clusterIP, so validation can say the address
   * "may not change once set".
   */
  keep(current: KubeObject, next: KubeObject): KubeObject {
    const cur = current as Any;
    const svc = next as Any;
    if (!cur.spec?.clusterIP) return next;
    svc.spec ??= {};
    if (!svc.spec.clusterIP) svc.spec.clusterIP = cur.spec.clusterIP;
    const oldIPs: string[] = cur.spec.clusterIPs ?? [cur.spec.clusterIP];
    const sameAsOld = JSON.stringify(svc.spec.clusterIPs ?? oldIPs) === JSON.stringify(oldIPs);
    if (!svc.spec.clusterIPs?.length || (sameAsOld && svc.spec.clusterIP !== cur.spec.clusterIP)) {
      svc.spec.clusterIPs = [svc.spec.clusterIP, ...oldIPs.slice(1)];
    }
    return next;
  }

  release(obj: KubeObject): void {
    const ip = (obj as Any).spec?.clusterIP;
    if (ip && ip !== 'None') this.#used.delete(ipToInt(ip));
  }
}
