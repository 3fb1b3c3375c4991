// What `virtmesh proxy-status` and `virtmesh proxy-config` print, as istioctl prints
// it (same columns, same cell rules, Go tabwriter alignment), from the control plane's
// sync state and from a proxy's config dump. Pure functions: the CLI only fetches.

import type { Cluster, FilterChain, Listener, RouteMatch } from '../proxy/config.js';
import { canonicalJson } from '../util/canonical-json.js';
import type { ParsedConfigDump } from './config-dump.js';
import { hostMatches } from './model.js';
import type { ProxySyncStatus } from './server.js';

/** Go's tabwriter as istioctl sets it up: each column as wide as its widest cell plus `padding`; the last cell unpadded. */
export function tabulate(rows: string[][], padding: number): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length - 1; i++) widths[i] = Math.max(widths[i] ?? 0, r[i].length);
  }
  return rows.map((r) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i] + padding) : cell)).join('')).join('\n') + (rows.length ? '\n' : '');
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function proxyStatusTable(statuses: ProxySyncStatus[]): string {
  const sorted = [...statuses].sort((a, b) => byText(a.clusterId, b.clusterId) || byText(a.proxy, b.proxy));
  const rows = sorted.map((s) => [
    s.proxy,
    s.clusterId,
    s.types.CDS.status,
    s.types.LDS.status,
    s.types.EDS.status,
    s.types.RDS.status,
    s.types.ECDS.status,
    s.istiod,
    s.istioVersion,
  ]);
  return tabulate([['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ECDS', 'ISTIOD', 'VERSION'], ...rows], 5);
}

/** One proxy in detail: per type what was sent and acknowledged, and why the proxy rejected a push. */
export function proxyStatusDetail(s: ProxySyncStatus): string {
  const head = tabulate(
    [
      ['NAME:', s.proxy],
      ['NODE ID:', s.nodeId],
      ['CLUSTER:', s.clusterId],
      ['ISTIOD:', s.istiod],
      ['VERSION:', s.istioVersion],
      ['CONNECTED:', `${s.connectedAt} from ${s.address}`],
    ],
    1,
  );
  const rows = (['CDS', 'LDS', 'EDS', 'RDS', 'ECDS'] as const).map((t) => {
    const x = s.types[t];
    return [t, x.status, x.sentVersion || '-', x.sentNonce || '-', x.ackedVersion || '-', x.ackedNonce || '-', x.error ?? ''];
  });
  return `${head}\n${tabulate([['TYPE', 'STATUS', 'SENT VERSION', 'SENT NONCE', 'ACKED VERSION', 'ACKED NONCE', 'NACK ERROR'], ...rows], 3)}`;
}

/** istioctl proxy-status <pod>'s verdict per type: does what the proxy has equal what the control plane sent? */
export function compareConfigDumps(sent: ParsedConfigDump, proxy: ParsedConfigDump): string[] {
  const compare = (what: string, a: Array<{ name: string; value: unknown }>, b: Array<{ name: string; value: unknown }>) => {
    // A proxy's dump may tag each resource with its "@type", as Envoy's does; the content is what counts.
    const content = (v: unknown) => canonicalJson({ ...(v as Record<string, unknown>), '@type': undefined });
    const index = (xs: typeof a) => new Map(xs.map((x) => [x.name, content(x.value)]));
    const ia = index(a);
    const ib = index(b);
    const missing = [...ia.keys()].filter((k) => !ib.has(k));
    const extra = [...ib.keys()].filter((k) => !ia.has(k));
    const differ = [...ia.keys()].filter((k) => ib.has(k) && ia.get(k) !== ib.get(k));
    if (missing.length + extra.length + differ.length === 0) return `${what} Match`;
    const say = (label: string, names: string[]) =>
      names.length ? ` ${label}: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` + ${names.length - 5} more` : ''};` : '';
    return `${what} Don't Match:${say('not in the proxy', missing)}${say('only in the proxy', extra)}${say('different', differ)}`.replace(/;$/, '');
  };
  return [
    compare(
      'Clusters',
      sent.clusters.map((c) => ({ name: c.cluster.name, value: c.cluster })),
      proxy.clusters.map((c) => ({ name: c.cluster.name, value: c.cluster })),
    ),
    compare(
      'Listeners',
      sent.listeners.map((l) => ({ name: l.listener.name, value: l.listener })),
      proxy.listeners.map((l) => ({ name: l.listener.name, value: l.listener })),
    ),
    compare(
      'Routes',
      sent.routes.map((r) => ({ name: r.route.name, value: r.route })),
      proxy.routes.map((r) => ({ name: r.route.name, value: r.route })),
    ),
    compare(
      'Endpoints',
      sent.endpoints.map((e) => ({ name: e.endpoints.clusterName, value: e.endpoints })),
      proxy.endpoints.map((e) => ({ name: e.endpoints.clusterName, value: e.endpoints })),
    ),
  ];
}

/** Istio config the tables name in their DESTINATION RULE and VIRTUAL SERVICE columns (hosts already fully qualified). */
export interface ConfigRefs {
  destinationRules?: Array<{ name: string; namespace: string; host: string }>;
  virtualServices?: Array<{ name: string; namespace: string; hosts: string[] }>;
}

/** direction|port|subset|fqdn, as Istio's ParseSubsetKey reads a cluster name; undefined for other names. */
function parseClusterName(name: string): { direction: string; port: string; subset: string; fqdn: string } | undefined {
  const parts = name.split('|');
  if (parts.length < 4) return undefined;
  return { direction: parts[0], port: parts[1], subset: parts[2], fqdn: parts.slice(3).join('|') };
}

function destinationRuleOf(refs: ConfigRefs | undefined, fqdn: string): string {
  const dr = (refs?.destinationRules ?? []).find((d) => d.host === fqdn) ?? (refs?.destinationRules ?? []).find((d) => hostMatches(d.host, fqdn));
  return dr ? `${dr.name}.${dr.namespace}` : '';
}

export function clusterTable(dump: ParsedConfigDump, refs?: ConfigRefs): string {
  const rows = dump.clusters.map(({ cluster: c }: { cluster: Cluster }) => {
    const k = parseClusterName(c.name);
    const sortKey = k ? [k.fqdn, k.subset, k.port.padStart(5, '0'), k.direction] : [c.name, '', '', ''];
    const row = k
      ? [k.fqdn, k.port, k.subset || '-', k.direction, c.type, k.direction === 'outbound' ? destinationRuleOf(refs, k.fqdn) : '']
      : [c.name, '-', '-', '-', c.type, ''];
    return { sortKey, row };
  });
  rows.sort((a, b) => {
    for (let i = 0; i < 4; i++) {
      const d = byText(a.sortKey[i], b.sortKey[i]);
      if (d) return d;
    }
    return 0;
  });
  return tabulate([['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], ...rows.map((r) => r.row)], 5);
}

const HTTP_ALPN_NAMES: Array<[string, string[]]> = [['App: HTTP', ['http/1.0', 'http/1.1', 'h2c']]];

function describeChainMatch(chain: FilterChain): string {
  const m = chain.match ?? {};
  const parts: string[] = [];
  if (m.transportProtocol) parts.push(`Trans: ${m.transportProtocol}`);
  if (m.applicationProtocols?.length) {
    const known = HTTP_ALPN_NAMES.find(([, alpns]) => canonicalJson(alpns) === canonicalJson(m.applicationProtocols));
    parts.push(known ? known[0] : `App: ${m.applicationProtocols.join(',')}`);
  }
  if (m.destinationPort !== undefined) parts.push(`Addr: *:${m.destinationPort}`);
  return parts.length ? parts.join('; ') : 'ALL';
}

function describeChainDestination(chain: FilterChain): string {
  const f = chain.filter;
  if (f.type === 'http') return `Route: ${f.routeConfigName}`;
  // The fixed clusters read as themselves; services as "Cluster: <name>".
  return f.cluster.includes('Cluster') ? f.cluster : `Cluster: ${f.cluster}`;
}

export function listenerTable(dump: ParsedConfigDump): string {
  const listeners = dump.listeners.map((l) => l.listener as Listener).sort((a, b) => a.port - b.port || byText(a.address, b.address));
  const rows: string[][] = [];
  for (const l of listeners) {
    const chains = [...l.filterChains, ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])];
    const described = chains.map((c) => ({ match: describeChainMatch(c), destination: describeChainDestination(c) }));
    // istioctl lists a listener's chains by destination, descending.
    described.sort((a, b) => byText(b.destination, a.destination));
    for (const d of described) rows.push([l.address, String(l.port), d.match, d.destination]);
  }
  return tabulate([['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], ...rows], 1);
}

/** istioctl's describeRouteDomains: the shortest names without ports, two of them, and how many more. */
export function describeRouteDomains(domains: string[]): string {
  if (domains.length === 0) return '';
  if (domains.length === 1) return domains[0];
  const withoutPort = domains.filter((d) => !d.includes(':'));
  const unique = new Set(withoutPort);
  const drop = new Set<string>();
  for (const h of withoutPort) {
    const full = h.endsWith('.svc.cluster.local') ? h.slice(0, -'.svc.cluster.local'.length) : h;
    if (full !== h && unique.has(full)) drop.add(h);
    const partial = h.endsWith('.svc') ? h.slice(0, -'.svc'.length) : h;
    if (partial !== h && unique.has(partial)) drop.add(h);
  }
  const kept = withoutPort.filter((d) => !drop.has(d));
  return kept.length > 2 ? `${kept.slice(0, 2).join(', ')} + ${kept.length - 2} more...` : kept.join(', ');
}

export function describeMatch(m: RouteMatch): string {
  const conds: string[] = [];
  if (m.prefix) conds.push(`${m.prefix}*`);
  if (m.path) conds.push(m.path);
  if (m.safeRegex !== undefined) conds.push(`regex ${m.safeRegex}`);
  return conds.join(' ');
}

function virtualServiceOf(refs: ConfigRefs | undefined, vhostName: string): string {
  const colon = vhostName.lastIndexOf(':');
  if (colon <= 0) return '';
  const host = vhostName.slice(0, colon);
  const vs = (refs?.virtualServices ?? []).find((v) => v.hosts.some((h) => hostMatches(h, host)));
  return vs ? `${vs.name}.${vs.namespace}` : '';
}

export function routeTable(dump: ParsedConfigDump, refs?: ConfigRefs): string {
  // Numeric names (port route configs) first, in order; then the rest by name.
  const configs = dump.routes.map((r) => r.route);
  const numeric = (n: string) => (/^\d+$/.test(n) ? Number(n) : undefined);
  configs.sort((a, b) => {
    const na = numeric(a.name);
    const nb = numeric(b.name);
    if (na !== undefined && nb !== undefined) return na - nb;
    if (na !== undefined) return -1;
    if (nb !== undefined) return 1;
    return byText(a.name, b.name);
  });
  const rows: string[][] = [];
  for (const rc of configs) {
    for (const vh of rc.virtualHosts ?? []) {
      const domains = describeRouteDomains(vh.domains ?? []);
      const vs = virtualServiceOf(refs, vh.name);
      if ((vh.routes ?? []).length === 0) rows.push([rc.name, vh.name, domains, '/*', '404']);
      for (const r of vh.routes ?? []) {
        if (r.route?.cluster === 'PassthroughCluster') continue; // istioctl leaves the allow_any route out
        rows.push([rc.name, vh.name, domains, describeMatch(r.match ?? {}), vs]);
      }
    }
  }
  return tabulate([['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], ...rows], 5);
}

export function endpointTable(dump: ParsedConfigDump): string {
  const rows: string[][] = [];
  const assignments = dump.endpoints.map((e) => e.endpoints).sort((a, b) => byText(a.clusterName, b.clusterName));
  for (const cla of assignments) {
    for (const ep of cla.endpoints ?? []) rows.push([`${ep.address}:${ep.port}`, ep.healthStatus, 'OK', cla.clusterName]);
  }
  return tabulate([['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'], ...rows], 5);
}
