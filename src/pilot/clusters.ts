// Clusters (CDS) as Istio builds them for a sidecar: one per service port
// (outbound|<port>||<host>) and per DestinationRule subset (outbound|<port>|<subset>|<host>)
// with the rule's traffic policy, one per port the workload serves (inbound|<port>||),
// and the three fixed ones (PassthroughCluster, BlackHoleCluster, InboundPassthroughCluster).

import type { Cluster } from '../proxy/config.js';
import type { InboundPort } from './inbound-ports.js';
import { parseDurationMs, type TrafficPolicy } from './model.js';
import type { OutboundScope, PushContext, ServiceModel } from './push-context.js';

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';
/** Where a sidecar reaches its workload: a VM's forwarded ports answer on the pod's loopback. */
export const WORKLOAD_ADDRESS = '127.0.0.1';

export const outboundClusterName = (port: number, subset: string, host: string) => `outbound|${port}|${subset}|${host}`;
export const inboundClusterName = (port: number) => `inbound|${port}||`;

/** Istio's default load balancer since 1.14. */
const DEFAULT_LB: Cluster['lbPolicy'] = 'LEAST_REQUEST';
const LB_POLICIES: Record<string, Cluster['lbPolicy']> = {
  ROUND_ROBIN: 'ROUND_ROBIN',
  LEAST_REQUEST: 'LEAST_REQUEST',
  LEAST_CONN: 'LEAST_REQUEST',
  RANDOM: 'RANDOM',
};
/** Envoy's defaults when outlierDetection is set without them. */
const DEFAULT_CONSECUTIVE_ERRORS = 5;
const DEFAULT_BASE_EJECTION_MS = 30_000;

type PolicyParts = Pick<TrafficPolicy, 'loadBalancer' | 'connectionPool' | 'outlierDetection'>;

/** A policy narrowed to a port: its portLevelSettings entry replaces whole parts (loadBalancer, connectionPool, outlierDetection). */
function forPort(policy: TrafficPolicy | undefined, port: number): PolicyParts {
  if (!policy) return {};
  const { portLevelSettings, ...top } = policy;
  const pl = (portLevelSettings ?? []).find((s) => s.port?.number === port);
  return { ...top, ...(pl ? Object.fromEntries(Object.entries(pl).filter(([k, v]) => k !== 'port' && v !== undefined)) : {}) };
}

/** Istio merges a subset's policy over the rule's, part by part. */
export function effectivePolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): PolicyParts {
  const sub = forPort(subset, port);
  return { ...forPort(top, port), ...Object.fromEntries(Object.entries(sub).filter(([, v]) => v !== undefined)) };
}

function applyPolicy(cluster: Cluster, policy: PolicyParts): Cluster {
  const simple = policy.loadBalancer?.simple?.toUpperCase();
  if (simple === 'PASSTHROUGH') {
    cluster.type = 'ORIGINAL_DST';
    cluster.lbPolicy = 'ROUND_ROBIN';
  } else if (simple && LB_POLICIES[simple]) cluster.lbPolicy = LB_POLICIES[simple];
  const tcp = policy.connectionPool?.tcp;
  const http = policy.connectionPool?.http;
  const connectTimeout = parseDurationMs(tcp?.connectTimeout);
  if (connectTimeout !== undefined) cluster.connectTimeoutMs = connectTimeout;
  if (tcp?.maxConnections !== undefined) cluster.maxConnections = tcp.maxConnections;
  if (http?.maxRequestsPerConnection !== undefined) cluster.maxRequestsPerConnection = http.maxRequestsPerConnection;
  const od = policy.outlierDetection;
  if (od) {
    cluster.consecutiveErrors = od.consecutive5xxErrors ?? od.consecutiveGatewayErrors ?? od.consecutiveErrors ?? DEFAULT_CONSECUTIVE_ERRORS;
    cluster.baseEjectionTimeMs = parseDurationMs(od.baseEjectionTime) ?? DEFAULT_BASE_EJECTION_MS;
  }
  return cluster;
}

/** The clusters of one service: a cluster per port, and per DestinationRule subset. */
export function serviceClusters(ctx: PushContext, scope: OutboundScope, svc: ServiceModel): Cluster[] {
  const dr = ctx.destinationRule(scope.namespace, svc.host);
  const clusters: Cluster[] = [];
  for (const port of svc.ports) {
    const base = (subset: string): Cluster => ({
      name: outboundClusterName(port.port, subset, svc.host),
      type: svc.discovery,
      lbPolicy: svc.discovery === 'ORIGINAL_DST' ? 'ROUND_ROBIN' : DEFAULT_LB,
      connectTimeoutMs: ctx.meshConfig.connectTimeoutMs,
      service: svc.ref,
    });
    clusters.push(applyPolicy(base(''), effectivePolicy(dr?.spec?.trafficPolicy, undefined, port.port)));
    for (const subset of dr?.spec?.subsets ?? []) {
      if (!subset.name) continue;
      clusters.push(applyPolicy(base(subset.name), effectivePolicy(dr?.spec?.trafficPolicy, subset.trafficPolicy, port.port)));
    }
  }
  return clusters;
}

export function outboundClusters(ctx: PushContext, scope: OutboundScope): Cluster[] {
  return scope.services.flatMap((svc) => serviceClusters(ctx, scope, svc));
}

/** One cluster per port the workload serves, leading to it on the pod's loopback. */
export function inboundClusters(ctx: PushContext, ports: InboundPort[]): Cluster[] {
  return ports.map((p) => ({
    name: inboundClusterName(p.port),
    type: 'STATIC',
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: ctx.meshConfig.connectTimeoutMs,
    ...(p.service ? { service: p.service } : {}),
    upstreamAddress: WORKLOAD_ADDRESS,
    upstreamPort: p.port,
  }));
}

/** PassthroughCluster (to the original destination), BlackHoleCluster (nowhere), InboundPassthroughCluster (the workload's loopback, original port). */
export function fixedClusters(ctx: PushContext): Cluster[] {
  const connectTimeoutMs = ctx.meshConfig.connectTimeoutMs;
  return [
    { name: BLACKHOLE_CLUSTER, type: 'STATIC', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs },
    { name: INBOUND_PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs, upstreamAddress: WORKLOAD_ADDRESS },
    { name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs },
  ];
}
