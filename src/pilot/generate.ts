// A proxy's config from one push: the outbound part shared by every proxy in the same
// scope (namespace and Sidecar resource), computed once per push, and the inbound part
// of its own workload. Each part is a Fragment: serialized and hashed once however
// many proxies receive it.

import { createHash } from 'node:crypto';
import type { Cluster, ClusterLoadAssignment, Listener, ProxyConfigSet, RouteConfiguration } from '../proxy/config.js';
import { fixedClusters, inboundClusters, outboundClusters } from './clusters.js';
import { outboundEndpoints } from './endpoints.js';
import { inboundRoutes, virtualInboundListener } from './inbound.js';
import { inboundPorts } from './inbound-ports.js';
import { hostMatches, type OutboundMode, type SidecarResource } from './model.js';
import { outboundListenersAndRoutes } from './outbound.js';
import type { ProxyInfo } from './proxy-node.js';
import type { OutboundScope, PushContext, ServiceModel } from './push-context.js';

/** Resources as sent: their JSON (without brackets) made once, and its hash for change detection. */
export class Fragment<T> {
  readonly items: readonly T[];
  #json?: string;
  #buffer?: Buffer;
  #hash?: string;

  constructor(items: readonly T[]) {
    this.items = items;
  }

  get json(): string {
    if (this.#json === undefined) this.#json = this.items.map((i) => JSON.stringify(i)).join(',');
    return this.#json;
  }

  get buffer(): Buffer {
    if (this.#buffer === undefined) this.#buffer = Buffer.from(this.json);
    return this.#buffer;
  }

  get hash(): string {
    if (this.#hash === undefined) this.#hash = createHash('sha1').update(this.json).digest('base64');
    return this.#hash;
  }
}

export interface ProxyResources {
  clusters: Fragment<Cluster>[];
  endpoints: Fragment<ClusterLoadAssignment>[];
  listeners: Fragment<Listener>[];
  routes: Fragment<RouteConfiguration>[];
}

/** The services a Sidecar's egress hosts ("namespace/dnsName") let its workloads reach; all without one. */
function visibleServices(ctx: PushContext, sidecar: SidecarResource | undefined): ServiceModel[] {
  const egress = sidecar?.spec?.egress ?? [];
  if (egress.length === 0) return ctx.services;
  const own = sidecar?.metadata?.namespace;
  const rules = egress
    .flatMap((e) => e.hosts ?? [])
    .map((h) => {
      const [ns, dns] = h.includes('/') ? [h.slice(0, h.indexOf('/')), h.slice(h.indexOf('/') + 1)] : ['*', h];
      return { ns: ns === '.' ? own : ns, dns };
    });
  return ctx.services.filter((s) => rules.some((r) => r.ns !== '~' && (r.ns === '*' || r.ns === s.namespace) && hostMatches(r.dns, s.host)));
}

export function outboundScope(ctx: PushContext, proxy: ProxyInfo): OutboundScope {
  const pod = ctx.pod(proxy.namespace, proxy.podName);
  // The pod's labels; those the proxy announced while the pod is not in the cache yet.
  const sidecar = ctx.sidecar(proxy.namespace, pod?.metadata?.labels ?? proxy.node.metadata?.labels);
  const key = `${proxy.namespace}|${sidecar ? `${sidecar.metadata?.namespace}/${sidecar.metadata?.name}` : ''}`;
  return ctx.cached(ctx.configCache, `scope:${key}`, () => {
    const mode = sidecar?.spec?.outboundTrafficPolicy?.mode?.toUpperCase();
    return {
      key,
      namespace: proxy.namespace,
      mode: mode === 'REGISTRY_ONLY' || mode === 'ALLOW_ANY' ? (mode as OutboundMode) : ctx.meshConfig.outboundTrafficPolicy.mode,
      services: visibleServices(ctx, sidecar),
    };
  });
}

interface ConfigFragments {
  clusters: Fragment<Cluster>;
  listeners: Fragment<Listener>;
  routes: Fragment<RouteConfiguration>;
}

export function proxyResources(ctx: PushContext, proxy: ProxyInfo): ProxyResources {
  const scope = outboundScope(ctx, proxy);
  const outbound = ctx.cached<ConfigFragments>(ctx.configCache, `out:${scope.key}`, () => {
    const { listeners, routes } = outboundListenersAndRoutes(ctx, scope);
    return {
      clusters: new Fragment([...outboundClusters(ctx, scope), ...fixedClusters(ctx)]),
      listeners: new Fragment(listeners),
      routes: new Fragment(routes),
    };
  });
  const endpoints = ctx.cached(ctx.endpointCache, `eds:${scope.key}`, () => new Fragment(outboundEndpoints(ctx, scope)));
  const inbound = ctx.cached<ConfigFragments>(ctx.configCache, `in:${proxy.id}`, () => {
    const ports = inboundPorts(ctx, proxy);
    // Workloads serving the same ports (replicas, look-alike VMs) share one inbound config.
    return ctx.cached<ConfigFragments>(ctx.configCache, `inbound:${JSON.stringify(ports)}`, () => ({
      clusters: new Fragment(inboundClusters(ctx, ports)),
      listeners: new Fragment([virtualInboundListener(ports)]),
      routes: new Fragment(inboundRoutes(ports)),
    }));
  });
  return {
    clusters: [outbound.clusters, inbound.clusters],
    endpoints: [endpoints],
    listeners: [outbound.listeners, inbound.listeners],
    routes: [outbound.routes, inbound.routes],
  };
}

const flat = <T>(fragments: Fragment<T>[]) => fragments.flatMap((f) => [...f.items]);

/** A proxy's whole config from a push, as plain objects. */
export function generateProxyConfig(ctx: PushContext, proxy: ProxyInfo): ProxyConfigSet {
  const r = proxyResources(ctx, proxy);
  return { clusters: flat(r.clusters), listeners: flat(r.listeners), routes: flat(r.routes), endpoints: flat(r.endpoints) };
}
