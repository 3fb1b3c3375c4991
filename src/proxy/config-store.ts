// The running config: one state of the world per resource type, replaced whole
// and atomically when a push passes validation (a refused push leaves the last
// good state in place). The data path reads it through the indexes kept here.

import { ClusterRuntime } from './cluster.js';
import { type Cluster, type ClusterLoadAssignment, type Listener, type ProxyConfigSet, TypeUrl } from './config.js';
import type { CompiledRouteConfig } from './router.js';
import { compileRouteConfigs, refusal, validateClusters, validateEndpoints, validateListeners } from './validate.js';

export type ResourceKind = 'cluster' | 'listener' | 'route' | 'endpoint';

const KIND_OF: Record<string, ResourceKind | 'extension'> = {
  [TypeUrl.cluster]: 'cluster',
  [TypeUrl.listener]: 'listener',
  [TypeUrl.route]: 'route',
  [TypeUrl.endpoint]: 'endpoint',
  [TypeUrl.extension]: 'extension',
};

/** When and in which version a resource last changed (for config_dump). */
export interface ResourceStamp {
  version: string;
  lastUpdated: string;
  json: string;
}

export class ConfigStore {
  readonly clusters = new Map<string, ClusterRuntime>();
  readonly routes = new Map<string, CompiledRouteConfig>();
  readonly endpoints = new Map<string, ClusterLoadAssignment>();
  listeners: Listener[] = [];
  /** OUTBOUND listeners by "address:port". */
  readonly outboundByAddress = new Map<string, Listener>();
  virtualOutbound: Listener | undefined;
  virtualInbound: Listener | undefined;
  /** Version of the last accepted push per type URL ("" before any). */
  readonly versions = new Map<string, string>();
  readonly #stamps = new Map<ResourceKind, Map<string, ResourceStamp>>();
  readonly #changed: Array<(kind: ResourceKind | 'extension') => void> = [];

  /** Whether a type has been applied at least once. */
  has(kind: ResourceKind): boolean {
    return this.#stamps.has(kind);
  }

  onChange(fn: (kind: ResourceKind | 'extension') => void): void {
    this.#changed.push(fn);
  }

  /** Applies one push (a full state of the world for its type). Returns why it was refused, or undefined. */
  apply(typeUrl: string, resources: unknown, version: string): string | undefined {
    const kind = KIND_OF[typeUrl];
    if (!kind) return `unknown type ${typeUrl}`;
    if (!Array.isArray(resources)) return `resources of ${typeUrl} is not a list`;
    let why: string | undefined;
    switch (kind) {
      case 'cluster':
        why = refusal(() => validateClusters(resources));
        if (!why) this.#applyClusters(resources as Cluster[]);
        break;
      case 'endpoint':
        why = refusal(() => validateEndpoints(resources));
        if (!why) this.#applyEndpoints(resources as ClusterLoadAssignment[]);
        break;
      case 'listener':
        why = refusal(() => validateListeners(resources));
        if (!why) this.#applyListeners(resources as Listener[]);
        break;
      case 'route': {
        let compiled: CompiledRouteConfig[] = [];
        why = refusal(() => {
          compiled = compileRouteConfigs(resources);
        });
        if (!why) {
          this.routes.clear();
          for (const rc of compiled) this.routes.set(rc.config.name, rc);
        }
        break;
      }
      case 'extension':
        // No extensions exist here: an empty ECDS push is the only meaningful one.
        if (resources.length > 0) why = 'extension configs are not supported by this proxy';
        break;
    }
    if (why) return why;
    if (kind !== 'extension') this.#stamp(kind, resources as Array<Record<string, unknown>>, version);
    this.versions.set(typeUrl, version);
    for (const fn of this.#changed) fn(kind);
    return undefined;
  }

  /** Applies a whole config set (static config, tests); throws when a part is refused. */
  applySet(set: Partial<ProxyConfigSet>, version: string): void {
    const parts: Array<[string, unknown[] | undefined]> = [
      [TypeUrl.cluster, set.clusters],
      [TypeUrl.endpoint, set.endpoints],
      [TypeUrl.listener, set.listeners],
      [TypeUrl.route, set.routes],
    ];
    for (const [type, resources] of parts) {
      if (resources === undefined) continue;
      const why = this.apply(type, resources, version);
      if (why) throw new Error(`config refused: ${why}`);
    }
  }

  snapshot(): ProxyConfigSet {
    return {
      clusters: [...this.clusters.values()].map((c) => c.config),
      listeners: this.listeners,
      routes: [...this.routes.values()].map((r) => r.config),
      endpoints: [...this.endpoints.values()],
    };
  }

  stamp(kind: ResourceKind, name: string): ResourceStamp | undefined {
    return this.#stamps.get(kind)?.get(name);
  }

  close(): void {
    for (const c of this.clusters.values()) c.close();
  }

  #stamp(kind: ResourceKind, resources: Array<Record<string, unknown>>, version: string): void {
    const before = this.#stamps.get(kind);
    const after = new Map<string, ResourceStamp>();
    const now = new Date().toISOString();
    for (const r of resources) {
      const name = String(kind === 'endpoint' ? r.clusterName : r.name);
      const json = JSON.stringify(r);
      const old = before?.get(name);
      after.set(name, old && old.json === json ? old : { version, lastUpdated: now, json });
    }
    this.#stamps.set(kind, after);
  }

  #applyClusters(list: Cluster[]): void {
    const next = new Map<string, ClusterRuntime>();
    for (const c of list) {
      const old = this.clusters.get(c.name);
      if (old && JSON.stringify(old.config) === JSON.stringify(c)) {
        next.set(c.name, old);
        continue;
      }
      const rt = new ClusterRuntime(c);
      rt.setEndpoints(this.endpoints.get(c.name)?.endpoints ?? []);
      next.set(c.name, rt);
    }
    for (const [name, old] of this.clusters) if (next.get(name) !== old) old.close();
    this.clusters.clear();
    for (const [name, rt] of next) this.clusters.set(name, rt);
  }

  #applyEndpoints(list: ClusterLoadAssignment[]): void {
    this.endpoints.clear();
    for (const a of list) this.endpoints.set(a.clusterName, a);
    for (const [name, rt] of this.clusters) rt.setEndpoints(this.endpoints.get(name)?.endpoints ?? []);
  }

  #applyListeners(list: Listener[]): void {
    this.listeners = list;
    this.outboundByAddress.clear();
    this.virtualOutbound = undefined;
    this.virtualInbound = undefined;
    for (const l of list) {
      if (l.useOriginalDst || l.name === 'virtualOutbound' || l.name === 'virtualInbound') {
        if (l.trafficDirection === 'OUTBOUND') this.virtualOutbound ??= l;
        else this.virtualInbound ??= l;
      } else if (l.trafficDirection === 'OUTBOUND') this.outboundByAddress.set(`${l.address}:${l.port}`, l);
    }
  }
}
