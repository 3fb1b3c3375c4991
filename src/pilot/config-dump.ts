// Envoy's /config_dump shape, for what the control plane last sent a proxy (its
// /debug/config_dump) and for reading what a proxy reports it has (proxy-config).

import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from '../proxy/config.js';

export const DumpType = {
  clusters: 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  listeners: 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  routes: 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  endpoints: 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
} as const;

export interface ConfigDump {
  configs: Array<Record<string, unknown>>;
}

interface Versioned<T> {
  version: string;
  items: readonly T[];
}

export interface ConfigDumpParts {
  clusters?: Versioned<Cluster>;
  listeners?: Versioned<Listener>;
  routes?: Versioned<RouteConfiguration>;
  endpoints?: Versioned<ClusterLoadAssignment>;
}

export function buildConfigDump(parts: ConfigDumpParts): ConfigDump {
  const c = parts.clusters ?? { version: '', items: [] };
  const l = parts.listeners ?? { version: '', items: [] };
  const r = parts.routes ?? { version: '', items: [] };
  const e = parts.endpoints ?? { version: '', items: [] };
  return {
    configs: [
      { '@type': DumpType.clusters, version_info: c.version, dynamic_active_clusters: c.items.map((cluster) => ({ version_info: c.version, cluster })) },
      {
        '@type': DumpType.listeners,
        version_info: l.version,
        dynamic_listeners: l.items.map((listener) => ({ name: listener.name, active_state: { version_info: l.version, listener } })),
      },
      { '@type': DumpType.routes, dynamic_route_configs: r.items.map((route_config) => ({ version_info: r.version, route_config })) },
      { '@type': DumpType.endpoints, dynamic_endpoint_configs: e.items.map((endpoint_config) => ({ version_info: e.version, endpoint_config })) },
    ],
  };
}

export interface ParsedConfigDump {
  clusters: Array<{ version: string; cluster: Cluster }>;
  listeners: Array<{ version: string; listener: Listener }>;
  routes: Array<{ version: string; route: RouteConfiguration }>;
  endpoints: Array<{ version: string; endpoints: ClusterLoadAssignment }>;
}

type Entry = Record<string, any>;

/**
 * Reads a config dump leniently: sections found by their @type's last name; static
 * entries (the proxy's own, from its bootstrap) too unless left out, as when comparing
 * with what the control plane sent.
 */
export function parseConfigDump(dump: unknown, opts: { includeStatic?: boolean } = {}): ParsedConfigDump {
  const configs = ((dump as { configs?: unknown })?.configs ?? []) as Entry[];
  if (!Array.isArray(configs)) throw new Error('not a config dump: no "configs" list');
  const section = (name: string): Entry => configs.find((c) => typeof c?.['@type'] === 'string' && c['@type'].endsWith(`.${name}`)) ?? {};
  const includeStatic = opts.includeStatic ?? true;
  const list = (e: Entry, key: string): Entry[] => (Array.isArray(e[key]) && (includeStatic || !key.startsWith('static_')) ? e[key] : []);
  const clusters = section('ClustersConfigDump');
  const listeners = section('ListenersConfigDump');
  const routes = section('RoutesConfigDump');
  const endpoints = section('EndpointsConfigDump');
  return {
    clusters: [...list(clusters, 'static_clusters'), ...list(clusters, 'dynamic_active_clusters')]
      .filter((x) => x.cluster)
      .map((x) => ({ version: x.version_info ?? '', cluster: x.cluster })),
    listeners: [
      ...list(listeners, 'static_listeners').map((x) => ({ version: '', listener: x.listener })),
      ...list(listeners, 'dynamic_listeners').map((x) => ({ version: x.active_state?.version_info ?? '', listener: x.active_state?.listener })),
    ].filter((x) => x.listener),
    routes: [...list(routes, 'static_route_configs'), ...list(routes, 'dynamic_route_configs')]
      .filter((x) => x.route_config)
      .map((x) => ({ version: x.version_info ?? '', route: x.route_config })),
    endpoints: [...list(endpoints, 'static_endpoint_configs'), ...list(endpoints, 'dynamic_endpoint_configs')]
      .filter((x) => x.endpoint_config)
      .map((x) => ({ version: x.version_info ?? '', endpoints: x.endpoint_config })),
  };
}
