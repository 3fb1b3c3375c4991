import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TypeUrl } from './config.js';
import { ConfigStore } from './config-store.js';
import { outboundConfig, SERVICE_CLUSTER, serviceRoute } from './test-helpers.js';

describe('config store', () => {
  const cfg = outboundConfig([{ address: '10.244.0.5', port: 8080 }]);

  it('replaces a type whole, and keeps the last good state when a push is refused', () => {
    const store = new ConfigStore();
    assert.equal(store.apply(TypeUrl.cluster, cfg.clusters, 'v1'), undefined);
    assert.equal(store.apply(TypeUrl.cluster, [{ ...cfg.clusters[0], lbPolicy: 'MAGLEV' }], 'v2'), `cluster ${SERVICE_CLUSTER}: unknown lbPolicy "MAGLEV"`);
    assert.equal(store.versions.get(TypeUrl.cluster), 'v1');
    assert.equal(store.clusters.size, 3);
    assert.equal(store.apply(TypeUrl.cluster, [cfg.clusters[0]], 'v3'), undefined);
    assert.deepEqual([...store.clusters.keys()], [SERVICE_CLUSTER]);
  });

  it('keeps the runtime (and its connection pools) of a cluster a push leaves unchanged', () => {
    const store = new ConfigStore();
    store.apply(TypeUrl.cluster, cfg.clusters, 'v1');
    const before = store.clusters.get(SERVICE_CLUSTER);
    store.apply(TypeUrl.cluster, cfg.clusters, 'v2');
    assert.equal(store.clusters.get(SERVICE_CLUSTER), before);
    store.apply(TypeUrl.cluster, [{ ...cfg.clusters[0], connectTimeoutMs: 5 }], 'v3');
    assert.notEqual(store.clusters.get(SERVICE_CLUSTER), before);
  });

  it('stamps each resource with the version that last changed it', () => {
    const store = new ConfigStore();
    store.apply(TypeUrl.route, cfg.routes, 'v1');
    store.apply(TypeUrl.route, [...cfg.routes, { ...serviceRoute(), name: 'other' }], 'v2');
    assert.equal(store.stamp('route', cfg.routes[0].name)?.version, 'v1', 'unchanged: keeps v1');
    assert.equal(store.stamp('route', 'other')?.version, 'v2');
  });

  it('gives endpoints to clusters whichever arrives first', () => {
    const store = new ConfigStore();
    store.apply(TypeUrl.endpoint, cfg.endpoints, 'v1');
    store.apply(TypeUrl.cluster, cfg.clusters, 'v1');
    assert.deepEqual(
      store.clusters.get(SERVICE_CLUSTER)?.endpoints.map((e) => e.key),
      ['10.244.0.5:8080'],
    );
    store.apply(TypeUrl.endpoint, [], 'v2');
    assert.equal(store.clusters.get(SERVICE_CLUSTER)?.endpoints.length, 0);
  });

  it('refuses malformed resources with a message naming them', () => {
    const store = new ConfigStore();
    const cases: Array<[string, unknown, RegExp]> = [
      [TypeUrl.listener, [{ ...cfg.listeners[1], trafficDirection: 'SIDEWAYS' }], /invalid trafficDirection/],
      [TypeUrl.listener, [cfg.listeners[1], { ...cfg.listeners[1], name: 'copy' }], /already taken/],
      [TypeUrl.listener, [{ ...cfg.listeners[1], filterChains: [{ filter: { type: 'udp' } }] }], /unknown filter type/],
      [TypeUrl.route, [serviceRoute([{ match: {}, route: { cluster: 'x' } }])], /needs prefix, path or safeRegex/],
      [TypeUrl.route, [serviceRoute([{ match: { prefix: '/' } }])], /exactly one of route and directResponse/],
      [TypeUrl.route, [serviceRoute([{ match: { prefix: '/', headers: [{ name: 'x', regex: '[' }] }, route: { cluster: 'x' } }])], /invalid regex/],
      [TypeUrl.route, [serviceRoute([{ match: { prefix: '/' }, route: { weightedClusters: [{ name: 'a', weight: 0 }] } }])], /sum to 0/],
      [TypeUrl.cluster, [{ name: '' }], /has no name/],
      [TypeUrl.cluster, 'nope', /not a list/],
      ['type.googleapis.com/unknown', [], /unknown type/],
    ];
    for (const [type, resources, why] of cases) assert.match(store.apply(type, resources, 'v') ?? 'accepted', why, JSON.stringify(resources).slice(0, 80));
    assert.equal(store.versions.size, 0, 'nothing applied');
  });
});
