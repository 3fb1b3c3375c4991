// What the admin endpoints show, shaped as Envoy shows it (so tools and people who
// know istioctl proxy-config and Envoy's admin page find their way): config_dump,
// clusters, listeners, stats in Envoy's text and Prometheus forms, server_info.

import { TypeUrl } from './config.js';
import type { ResourceKind } from './config-store.js';
import { escapeLabelValue } from './metrics.js';
import type { ProxyRuntime } from './runtime.js';

export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING';

export interface ServerFacts {
  state(): ServerState;
  startedAt: number;
  version: string;
}

const STATE_NUMBER: Record<ServerState, number> = { LIVE: 0, DRAINING: 1, PRE_INITIALIZING: 2 };

const uptimeSeconds = (f: ServerFacts) => Math.floor((Date.now() - f.startedAt) / 1000);

/** Envoy's /config_dump: one entry per config kind, each resource with the version that brought it and when. */
export function configDump(rt: ProxyRuntime, facts: ServerFacts): unknown {
  const store = rt.store;
  const stamped = (kind: ResourceKind, name: string) => {
    const s = store.stamp(kind, name);
    return { version_info: s?.version ?? 'static', last_updated: s?.lastUpdated ?? new Date(facts.startedAt).toISOString() };
  };
  const version = (t: TypeUrl) => store.versions.get(t) ?? '';
  return {
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
        bootstrap: {
          node: { id: rt.node.id, cluster: rt.node.cluster, metadata: rt.node.metadata, user_agent_name: 'virtmesh', user_agent_version: facts.version },
        },
        last_updated: new Date(facts.startedAt).toISOString(),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        version_info: version(TypeUrl.cluster),
        static_clusters: [],
        dynamic_active_clusters: [...store.clusters.values()].map((c) => ({
          ...stamped('cluster', c.name),
          cluster: { '@type': TypeUrl.cluster, ...c.config },
        })),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        version_info: version(TypeUrl.listener),
        static_listeners: [],
        dynamic_listeners: store.listeners.map((l) => {
          const s = stamped('listener', l.name);
          return { name: l.name, active_state: { version_info: s.version_info, listener: { '@type': TypeUrl.listener, ...l }, last_updated: s.last_updated } };
        }),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        static_route_configs: [],
        dynamic_route_configs: [...store.routes.values()].map((r) => ({
          ...stamped('route', r.config.name),
          route_config: { '@type': TypeUrl.route, ...r.config },
        })),
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
        static_endpoint_configs: [],
        dynamic_endpoint_configs: [...store.endpoints.values()].map((e) => ({
          ...stamped('endpoint', e.clusterName),
          endpoint_config: { '@type': TypeUrl.endpoint, ...e },
        })),
      },
    ],
  };
}

function healthFlags(status: string, ejected: boolean): string {
  const flags = [status === 'UNHEALTHY' ? '/failed_eds_health' : status === 'DRAINING' ? '/eds_status_draining' : '', ejected ? '/failed_outlier_check' : '']
    .filter(Boolean)
    .join('');
  return flags || 'healthy';
}

/** Envoy's /clusters: per cluster and host, counters and health (text, or JSON with ?format=json). */
export function clustersView(rt: ProxyRuntime, json: boolean): string {
  const now = Date.now();
  if (json) {
    const statuses = [...rt.store.clusters.values()].map((c) => ({
      name: c.name,
      observability_name: c.name,
      host_statuses: c.endpoints.map((e) => ({
        address: { socket_address: { address: e.address, port_value: e.port } },
        stats: [
          { name: 'cx_active', value: String(e.connections), type: 'GAUGE' },
          { name: 'rq_active', value: String(e.activeRequests), type: 'GAUGE' },
        ],
        health_status: { eds_health_status: e.healthStatus, ...(e.ejectedUntil > now ? { failed_outlier_check: true } : {}) },
        weight: e.weight,
      })),
    }));
    return JSON.stringify({ cluster_statuses: statuses }, null, 2);
  }
  const lines: string[] = [];
  for (const c of rt.store.clusters.values()) {
    const n = c.name;
    lines.push(`${n}::observability_name::${n}`);
    if (c.config.maxConnections !== undefined) lines.push(`${n}::default_priority::max_connections::${c.config.maxConnections}`);
    for (const e of c.endpoints) {
      const p = `${n}::${e.key}::`;
      lines.push(
        `${p}cx_active::${e.connections}`,
        `${p}rq_active::${e.activeRequests}`,
        `${p}health_flags::${healthFlags(e.healthStatus, e.ejectedUntil > now)}`,
        `${p}weight::${e.weight}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** Envoy's /listeners: name and address of each (text, or JSON with ?format=json). */
export function listenersView(rt: ProxyRuntime, json: boolean): string {
  const ls = rt.store.listeners;
  if (json)
    return JSON.stringify(
      { listener_statuses: ls.map((l) => ({ name: l.name, local_address: { socket_address: { address: l.address, port_value: l.port } } })) },
      null,
      2,
    );
  return ls.map((l) => `${l.name}::${l.address}:${l.port}`).join('\n') + '\n';
}

interface Stat {
  /** Envoy's dotted stat name. */
  name: string;
  /** The Prometheus family and labels the same value is exported as. */
  family: string;
  labels: string;
  value: number;
  gauge: boolean;
}

function envoyStats(rt: ProxyRuntime, facts: ServerFacts): Stat[] {
  const out: Stat[] = [];
  const state = facts.state();
  out.push(
    { name: 'server.live', family: 'envoy_server_live', labels: '', value: state === 'LIVE' ? 1 : 0, gauge: true },
    { name: 'server.state', family: 'envoy_server_state', labels: '', value: STATE_NUMBER[state], gauge: true },
    { name: 'server.uptime', family: 'envoy_server_uptime', labels: '', value: uptimeSeconds(facts), gauge: true },
    {
      name: 'server.total_connections',
      family: 'envoy_server_total_connections',
      labels: '',
      value: [...rt.listenerCounters.values()].reduce((n, c) => n + c.downstream_cx_active, 0),
      gauge: true,
    },
  );
  for (const [t, kind] of [
    [TypeUrl.cluster, 'cds'],
    [TypeUrl.listener, 'lds'],
  ] as const) {
    const applied = rt.store.versions.has(t) ? 1 : 0;
    out.push({
      name: `cluster_manager.${kind}.update_success`,
      family: `envoy_cluster_manager_${kind}_update_success`,
      labels: '',
      value: applied,
      gauge: false,
    });
  }
  for (const [address, c] of rt.listenerCounters) {
    const labels = `envoy_listener_address="${escapeLabelValue(address)}"`;
    out.push(
      { name: `listener.${address}.downstream_cx_total`, family: 'envoy_listener_downstream_cx_total', labels, value: c.downstream_cx_total, gauge: false },
      { name: `listener.${address}.downstream_cx_active`, family: 'envoy_listener_downstream_cx_active', labels, value: c.downstream_cx_active, gauge: true },
    );
  }
  for (const c of rt.store.clusters.values()) {
    const labels = `cluster_name="${escapeLabelValue(c.name)}"`;
    for (const [k, v] of Object.entries(c.stats)) {
      if (typeof v !== 'number') continue;
      out.push({ name: `cluster.${c.name}.${k}`, family: `envoy_cluster_${k}`, labels, value: v, gauge: k.endsWith('_active') });
    }
    for (let cls = 1; cls <= 5; cls++) {
      out.push({
        name: `cluster.${c.name}.upstream_rq_${cls}xx`,
        family: 'envoy_cluster_upstream_rq',
        labels: `response_code_class="${cls}xx",${labels}`,
        value: c.stats.byClass[cls],
        gauge: false,
      });
    }
  }
  return out;
}

/** Envoy's /stats text: "name: value" lines, sorted; `filter` is a regex over names. */
export function statsText(rt: ProxyRuntime, facts: ServerFacts, filter: RegExp | undefined): string {
  const lines = envoyStats(rt, facts)
    .filter((s) => !filter || filter.test(s.name))
    .map((s) => `${s.name}: ${s.value}`)
    .sort();
  return lines.join('\n') + '\n';
}

/** Prometheus text: Istio's standard metrics, then Envoy's own, each family grouped under one TYPE line. */
export function prometheusText(rt: ProxyRuntime, facts: ServerFacts): string {
  const out: string[] = [];
  rt.metrics.render(out);
  const families = new Map<string, Stat[]>();
  for (const s of envoyStats(rt, facts)) {
    let f = families.get(s.family);
    if (!f) {
      f = [];
      families.set(s.family, f);
    }
    f.push(s);
  }
  for (const [family, stats] of families) {
    out.push(`# TYPE ${family} ${stats[0].gauge ? 'gauge' : 'counter'}`);
    for (const s of stats) out.push(s.labels ? `${family}{${s.labels}} ${s.value}` : `${family} ${s.value}`);
  }
  out.push('# TYPE istio_build gauge', `istio_build{component="proxy",tag="${escapeLabelValue(facts.version)}"} 1`);
  return out.join('\n') + '\n';
}

/** Envoy's /server_info. */
export function serverInfo(rt: ProxyRuntime, facts: ServerFacts): unknown {
  const uptime = `${uptimeSeconds(facts)}s`;
  return {
    version: facts.version,
    state: facts.state(),
    hot_restart_version: 'disabled',
    command_line_options: { concurrency: 1, mode: 'Serve', service_cluster: rt.node.cluster, service_node: rt.node.id },
    node: { id: rt.node.id, cluster: rt.node.cluster, metadata: rt.node.metadata },
    uptime_current_epoch: uptime,
    uptime_all_epochs: uptime,
  };
}
