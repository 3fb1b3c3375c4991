// The cluster DNS records of virtmesh, built from Service and Endpoints objects. Names and
// answers follow the Kubernetes DNS specification as CoreDNS's kubernetes plugin serves
// it (pods in "insecure" mode), so guests resolve cluster names as on any Kubernetes cluster.

import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, SoaAnswer } from 'dns-packet';
import type { KubeObject } from '../store/index.js';

/** Seconds, CoreDNS's default: records change as pods come and go, so caches must not hold them long. */
export const CLUSTER_DNS_TTL = 5;

export interface ClusterDnsResult {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Answer[];
  /** Address records of SRV targets, saving the client a second query. */
  additionals: Answer[];
  /** The zone's SOA on an empty answer: its minimum field bounds how long resolvers cache the negative result. */
  authorities: Answer[];
}

export interface ClusterDnsIndex {
  readonly clusterDomain: string;
  upsertService(svc: KubeObject): void;
  deleteService(namespace: string, name: string): void;
  upsertEndpoints(endpoints: KubeObject): void;
  deleteEndpoints(namespace: string, name: string): void;
  /** Forget every object, e.g. before a watch re-lists. */
  clear(): void;
  /**
   * Answers `name` (any case, trailing dot or not) for a record type such as 'A', 'SRV' or 'PTR'.
   * `undefined` means the name is not the cluster's to answer and belongs upstream.
   */
  lookup(name: string, type: string): ClusterDnsResult | undefined;
}

interface PortSpec {
  name: string;
  port: number;
  protocol: string;
}

interface ServiceRecord {
  namespace: string;
  name: string;
  kind: 'ClusterIP' | 'Headless' | 'ExternalName';
  clusterIPs: string[];
  externalName: string;
  ports: PortSpec[];
}

interface EndpointAddress {
  ip: string;
  /** The DNS label naming this address under its service: its hostname, or its IP with dashes. */
  label: string;
}

interface EndpointSubset {
  addresses: EndpointAddress[];
  ports: PortSpec[];
}

/** A resolved cluster name: the addresses it stands for and, for SRV, the ports and target names. */
interface Target {
  name: string;
  ips: string[];
  port?: PortSpec;
}

/** Kubernetes DNS schema version that `dns-version.<zone>` TXT reports. */
const DNS_SCHEMA_VERSION = '1.1.0';

const asRecord = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asString = (v: unknown): string => (typeof v === 'string' ? v : '');

function readPorts(v: unknown): PortSpec[] {
  return asArray(v).flatMap((p) => {
    const r = asRecord(p);
    const port = typeof r.port === 'number' ? r.port : Number.NaN;
    if (!Number.isInteger(port) || port < 0 || port > 65535) return [];
    return [{ name: asString(r.name).toLowerCase(), port, protocol: (asString(r.protocol) || 'TCP').toLowerCase() }];
  });
}

/** The label an endpoint address answers to: CoreDNS's default "endpoint_pod_names off" naming. */
function endpointLabel(ip: string, hostname: string): string {
  if (hostname) return hostname.toLowerCase();
  return isIPv6(ip) ? ip.replace(/:/g, '-') : ip.replace(/\./g, '-');
}

/** The IP a pod label such as `10-1-2-3` (or `fd00--5` for IPv6) stands for, if it is one. */
function podLabelToIP(label: string): string | undefined {
  const v4 = label.replace(/-/g, '.');
  if (isIPv4(v4)) return v4;
  const v6 = label.replace(/-/g, ':');
  return isIPv6(v6) ? v6 : undefined;
}

/** `d.c.b.a.in-addr.arpa` -> `a.b.c.d`; virtmesh's cluster is IPv4-only, so ip6.arpa is always forwarded. */
function reverseNameToIPv4(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (!m) return undefined;
  const ip = `${m[4]}.${m[3]}.${m[2]}.${m[1]}`;
  return isIPv4(ip) ? ip : undefined;
}

/** Port and protocol labels of an SRV name match like CoreDNS: case-insensitive, underscore optional, empty = any. */
function portMatches(p: PortSpec, port: string, protocol: string): boolean {
  return (port === '' || p.name === port) && (protocol === '' || p.protocol === protocol);
}

const stripUnderscore = (label: string) => (label.startsWith('_') ? label.slice(1) : label);

export interface ClusterDnsIndexOptions {
  clusterDomain?: string;
  /** Names outside the cluster answered with a fixed IPv4 address, as CoreDNS's hosts plugin does (the external stand-in). */
  hosts?: Record<string, string>;
}

export function createClusterDnsIndex(opts: ClusterDnsIndexOptions = {}): ClusterDnsIndex {
  const zone = (opts.clusterDomain ?? 'cluster.local').toLowerCase().replace(/\.$/, '');
  const hosts = new Map(Object.entries(opts.hosts ?? {}).map(([name, ip]) => [name.toLowerCase().replace(/\.$/, ''), ip]));
  const services = new Map<string, Map<string, ServiceRecord>>(); // namespace -> name -> record
  const endpoints = new Map<string, EndpointSubset[]>(); // `${namespace}/${name}` -> subsets
  // Bumped on every change, so a secondary or cache comparing serials sees the zone moved.
  let serial = Math.floor(Date.now() / 1000) >>> 0;
  const changed = () => {
    serial = (serial + 1) >>> 0;
  };

  const soa = (): SoaAnswer => ({
    name: zone,
    type: 'SOA',
    ttl: CLUSTER_DNS_TTL,
    data: { mname: `ns.dns.${zone}`, rname: `hostmaster.${zone}`, serial, refresh: 7200, retry: 1800, expire: 86400, minimum: CLUSTER_DNS_TTL },
  });
  const negative = (rcode: 'NOERROR' | 'NXDOMAIN'): ClusterDnsResult => ({ rcode, answers: [], additionals: [], authorities: [soa()] });
  const positive = (answers: Answer[], additionals: Answer[] = []): ClusterDnsResult => ({ rcode: 'NOERROR', answers, additionals, authorities: [] });
  const nxdomain = () => negative('NXDOMAIN');
  const nodata = () => negative('NOERROR');

  const addressRecords = (owner: string, ips: string[], type: string): Answer[] => {
    const family = type === 'A' ? isIPv4 : type === 'AAAA' ? isIPv6 : undefined;
    if (!family) return [];
    const recordType = type as 'A' | 'AAAA';
    return [...new Set(ips)].filter((ip) => family(ip)).map((ip): Answer => ({ name: owner, type: recordType, ttl: CLUSTER_DNS_TTL, data: ip }));
  };

  /** Answers a name that stands for `targets`; SRV answers point at each target's own name. */
  const answerTargets = (owner: string, type: string, targets: Target[]): ClusterDnsResult => {
    if (type === 'A' || type === 'AAAA') {
      const ips = targets.flatMap((t) => t.ips);
      const answers = addressRecords(owner, ips, type);
      return answers.length > 0 ? positive(answers) : nodata();
    }
    if (type !== 'SRV') return nodata();
    const withPorts = targets.filter((t) => t.port !== undefined);
    if (withPorts.length === 0) return nodata();
    // CoreDNS splits weight 100 evenly over the records of one priority.
    const weight = Math.max(1, Math.floor(100 / withPorts.length));
    const answers: Answer[] = withPorts.map((t) => ({
      name: owner,
      type: 'SRV',
      ttl: CLUSTER_DNS_TTL,
      data: { priority: 0, weight, port: t.port!.port, target: t.name },
    }));
    const seen = new Set<string>();
    const additionals = withPorts.flatMap((t) => {
      if (seen.has(t.name)) return [];
      seen.add(t.name);
      return [...addressRecords(t.name, t.ips, 'A'), ...addressRecords(t.name, t.ips, 'AAAA')];
    });
    return positive(answers, additionals);
  };

  /** `[endpoint.]svc.ns.svc.zone` and `_port._proto.svc.ns.svc.zone`; `labels` are those left of `svc.ns`. */
  const lookupService = (owner: string, type: string, svc: ServiceRecord, labels: string[]): ClusterDnsResult => {
    const serviceName = `${svc.name}.${svc.namespace}.svc.${zone}`;
    if (labels.length > 2) return nxdomain();
    const endpointLabelWanted = labels.length === 1 ? labels[0] : '';
    const [port, protocol] = labels.length === 2 ? [stripUnderscore(labels[0]), stripUnderscore(labels[1])] : ['', ''];

    if (svc.kind === 'ExternalName') {
      // A CNAME owns its name for every type; there are no endpoint or port names beneath it.
      if (labels.length > 0) return nxdomain();
      return positive([{ name: owner, type: 'CNAME', ttl: CLUSTER_DNS_TTL, data: svc.externalName }]);
    }

    const targets: Target[] = [];
    if (svc.kind === 'Headless' || endpointLabelWanted) {
      for (const subset of endpoints.get(`${svc.namespace}/${svc.name}`) ?? []) {
        for (const addr of subset.addresses) {
          if (endpointLabelWanted && addr.label !== endpointLabelWanted) continue;
          const name = `${addr.label}.${serviceName}`;
          const ports = subset.ports.filter((p) => portMatches(p, port, protocol));
          // A plain address query needs no port, so an endpoint without ports still resolves.
          if (ports.length === 0 && !port && !protocol) targets.push({ name, ips: [addr.ip] });
          for (const p of ports) targets.push({ name, ips: [addr.ip], port: p });
        }
      }
    } else {
      const ports = svc.ports.filter((p) => portMatches(p, port, protocol));
      if (ports.length === 0 && (port || protocol)) return nxdomain();
      if (ports.length === 0) targets.push({ name: serviceName, ips: svc.clusterIPs });
      for (const p of ports) targets.push({ name: serviceName, ips: svc.clusterIPs, port: p });
    }
    // Like CoreDNS: a headless service without ready endpoints, or a name matching none, does not exist.
    if (targets.length === 0) return nxdomain();
    return answerTargets(owner, type, targets);
  };

  /** `<ip-with-dashes>.<ns>.pod.zone`: any well-formed IP resolves, without checking a pod has it. `labels` are those left of `pod`. */
  const lookupPod = (owner: string, type: string, labels: string[]): ClusterDnsResult => {
    if (labels.length === 1) return nodata(); // `<ns>.pod.zone`
    if (labels.length !== 2) return nxdomain();
    const ip = podLabelToIP(labels[0]);
    if (!ip) return nxdomain();
    return answerTargets(owner, type, [{ name: owner, ips: [ip] }]);
  };

  /** PTR for the addresses the index knows: ClusterIPs name their service, endpoint addresses their endpoint name. */
  const lookupReverse = (owner: string, ip: string): ClusterDnsResult | undefined => {
    const names = new Set<string>();
    for (const byName of services.values()) {
      for (const svc of byName.values()) if (svc.clusterIPs.includes(ip)) names.add(`${svc.name}.${svc.namespace}.svc.${zone}`);
    }
    if (names.size === 0) {
      for (const [key, subsets] of endpoints) {
        const [namespace, name] = key.split('/');
        if (!services.get(namespace)?.has(name)) continue;
        for (const addr of subsets.flatMap((s) => s.addresses)) if (addr.ip === ip) names.add(`${addr.label}.${name}.${namespace}.svc.${zone}`);
      }
    }
    if (names.size === 0) return undefined;
    const answers: Answer[] = [...names].map((data) => ({ name: owner, type: 'PTR', ttl: CLUSTER_DNS_TTL, data }));
    return positive(answers);
  };

  const deleteService = (namespace: string, name: string) => {
    const byName = services.get(namespace.toLowerCase());
    if (!byName?.delete(name.toLowerCase())) return;
    if (byName.size === 0) services.delete(namespace.toLowerCase());
    changed();
  };

  return {
    clusterDomain: zone,
    deleteService,

    upsertService(svc) {
      const namespace = asString(svc.metadata?.namespace) || 'default';
      const name = asString(svc.metadata?.name);
      if (!name) return;
      const spec = asRecord(svc.spec);
      const clusterIP = asString(spec.clusterIP);
      const kind = spec.type === 'ExternalName' ? 'ExternalName' : clusterIP === 'None' ? 'Headless' : 'ClusterIP';
      const ips = asArray(spec.clusterIPs).length > 0 ? asArray(spec.clusterIPs).map(asString) : [clusterIP];
      const record: ServiceRecord = {
        namespace: namespace.toLowerCase(),
        name: name.toLowerCase(),
        kind,
        clusterIPs: kind === 'ClusterIP' ? ips.filter((ip) => isIPv4(ip) || isIPv6(ip)) : [],
        externalName: asString(spec.externalName).toLowerCase().replace(/\.$/, ''),
        ports: readPorts(spec.ports),
      };
      // An ExternalName without a target cannot be answered; treat it as absent rather than emit an empty CNAME.
      if (kind === 'ExternalName' && !record.externalName) {
        deleteService(namespace, name);
        return;
      }
      const byName = services.get(record.namespace) ?? new Map<string, ServiceRecord>();
      services.set(record.namespace, byName.set(record.name, record));
      changed();
    },

    upsertEndpoints(ep) {
      const namespace = (asString(ep.metadata?.namespace) || 'default').toLowerCase();
      const name = asString(ep.metadata?.name).toLowerCase();
      if (!name) return;
      const subsets = asArray(ep.subsets).map((s): EndpointSubset => {
        const subset = asRecord(s);
        // Only ready addresses: notReadyAddresses must not receive traffic (publishNotReadyAddresses moves them here).
        const addresses = asArray(subset.addresses).flatMap((a) => {
          const ip = asString(asRecord(a).ip);
          if (!isIPv4(ip) && !isIPv6(ip)) return [];
          return [{ ip, label: endpointLabel(ip, asString(asRecord(a).hostname)) }];
        });
        return { addresses, ports: readPorts(subset.ports) };
      });
      endpoints.set(`${namespace}/${name}`, subsets);
      changed();
    },

    deleteEndpoints(namespace, name) {
      if (endpoints.delete(`${namespace.toLowerCase()}/${name.toLowerCase()}`)) changed();
    },

    clear() {
      services.clear();
      endpoints.clear();
      changed();
    },

    lookup(rawName, rawType) {
      const owner = rawName.replace(/\.$/, '');
      const name = owner.toLowerCase();
      const type = rawType.toUpperCase();

      if (name.endsWith('.in-addr.arpa')) {
        const ip = reverseNameToIPv4(name);
        return ip && type === 'PTR' ? lookupReverse(owner, ip) : undefined;
      }
      const hostIP = hosts.get(name);
      if (hostIP) return type === 'A' ? positive(addressRecords(owner, [hostIP], 'A')) : nodata();
      if (name !== zone && !name.endsWith(`.${zone}`)) return undefined;

      if (name === zone) {
        if (type === 'SOA') return positive([{ ...soa(), name: owner }]);
        return nodata();
      }
      // Labels below the zone, nearest the zone first: ['svc', ns, service, ...].
      const labels = name
        .slice(0, -(zone.length + 1))
        .split('.')
        .reverse();
      if (labels.length === 1 && labels[0] === 'dns-version') {
        if (type !== 'TXT') return nodata();
        return positive([{ name: owner, type: 'TXT', ttl: CLUSTER_DNS_TTL, data: [DNS_SCHEMA_VERSION] }]);
      }
      if (labels[0] === 'pod') return labels.length === 1 ? nodata() : lookupPod(owner, type, labels.slice(1).reverse());
      if (labels[0] !== 'svc') return nxdomain();
      if (labels.length === 1) return nodata(); // `svc.zone`
      const byName = services.get(labels[1]);
      if (!byName) return nxdomain();
      if (labels.length === 2) return nodata(); // `<ns>.svc.zone` holds services below it
      const svc = byName.get(labels[2]);
      if (!svc) return nxdomain();
      return lookupService(owner, type, svc, labels.slice(3).reverse());
    },
  };
}
