import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProxyConfigSet } from '../proxy/config.js';
import { buildConfigDump, parseConfigDump } from './config-dump.js';
import { generateProxyConfig } from './generate.js';
import { proxyInfo, sidecarNode } from './proxy-node.js';
import { PushContext } from './push-context.js';
import type { ProxySyncStatus, TypeStatus } from './server.js';
import {
  clusterTable,
  compareConfigDumps,
  describeRouteDomains,
  endpointTable,
  listenerTable,
  proxyStatusDetail,
  proxyStatusTable,
  routeTable,
  tabulate,
} from './tables.js';
import { service, WALKTHROUGH as W, walkthroughSnapshot } from './testing.js';

/** The config of istio-vmi's sidecar with one more service (an HTTP port), as the proxy would dump it. */
function istioVmiDump(): { config: ProxyConfigSet; dump: ReturnType<typeof buildConfigDump> } {
  const web = service('web', { clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 80 }] });
  const snapshot = walkthroughSnapshot({ services: [...walkthroughSnapshot().services, web] });
  const proxy = proxyInfo(sidecarNode({ podName: W.istioPod, namespace: 'default', ip: W.istioIP }));
  assert.ok(proxy);
  const config = generateProxyConfig(new PushContext(snapshot, { version: 'v1', clusterId: 'Kubernetes' }), proxy);
  const v = (items: readonly unknown[]) => ({ version: '2026-01-01T00:00:00Z/1', items: items as never[] });
  return {
    config,
    dump: buildConfigDump({ clusters: v(config.clusters), listeners: v(config.listeners), routes: v(config.routes), endpoints: v(config.endpoints) }),
  };
}

/** Lines as written, trailing spaces made visible by a closing bar. */
const lines = (text: string) => text.split('\n').map((l) => `${l}|`);

describe('proxy-config tables', () => {
  const parsed = parseConfigDump(istioVmiDump().dump);

  it('prints clusters as istioctl: FQDN, port, subset, direction, type and DestinationRule', () => {
    const text = clusterTable(parsed, { destinationRules: [{ name: 'istio-vmi-dr', namespace: 'default', host: W.host }] });
    assert.deepEqual(lines(text), [
      'SERVICE FQDN                                PORT     SUBSET     DIRECTION     TYPE             DESTINATION RULE|',
      '                                            8080     -          inbound       STATIC           |',
      'BlackHoleCluster                            -        -          -             STATIC           |',
      'InboundPassthroughCluster                   -        -          -             ORIGINAL_DST     |',
      'PassthroughCluster                          -        -          -             ORIGINAL_DST     |',
      'istio-vmi-svc.default.svc.cluster.local     8080     -          outbound      EDS              istio-vmi-dr.default|',
      'web.default.svc.cluster.local               80       -          outbound      EDS              |',
      '|',
    ]);
  });

  it('prints listeners as istioctl: a row per filter chain, by port, destinations descending', () => {
    assert.deepEqual(lines(listenerTable(parsed)), [
      'ADDRESSES  PORT  MATCH                                      DESTINATION|',
      '0.0.0.0    80    Trans: raw_buffer; App: HTTP               Route: 80|',
      '0.0.0.0    80    ALL                                        PassthroughCluster|',
      '10.96.0.20 8080  Trans: raw_buffer; App: HTTP               Route: istio-vmi-svc.default.svc.cluster.local:8080|',
      '10.96.0.20 8080  ALL                                        Cluster: outbound|8080||istio-vmi-svc.default.svc.cluster.local|',
      '0.0.0.0    15001 Trans: raw_buffer; App: HTTP               Route: allow_any|',
      '0.0.0.0    15001 ALL                                        PassthroughCluster|',
      '0.0.0.0    15006 Trans: raw_buffer; App: HTTP; Addr: *:8080 Route: inbound|8080|||',
      '0.0.0.0    15006 ALL                                        InboundPassthroughCluster|',
      '0.0.0.0    15006 Addr: *:8080                               Cluster: inbound|8080|||',
      '|',
    ]);
  });

  it('prints routes as istioctl: numeric names first, short domains, the allow_any route left out', () => {
    const text = routeTable(parsed, { virtualServices: [{ name: 'web-vs', namespace: 'default', hosts: ['web.default.svc.cluster.local'] }] });
    assert.deepEqual(lines(text), [
      'NAME                                             VHOST NAME                                       DOMAINS                          MATCH     VIRTUAL SERVICE|',
      '80                                               web.default.svc.cluster.local:80                 web, web.default + 1 more...     /*        web-vs.default|',
      'inbound|8080||                                   inbound|http|8080                                *                                /*        |',
      'istio-vmi-svc.default.svc.cluster.local:8080     istio-vmi-svc.default.svc.cluster.local:8080     *                                /*        |',
      '|',
    ]);
  });

  it('prints endpoints with their health', () => {
    assert.deepEqual(lines(endpointTable(parsed)), [
      'ENDPOINT            STATUS      OUTLIER CHECK     CLUSTER|',
      '10.244.0.5:8080     HEALTHY     OK                outbound|8080||istio-vmi-svc.default.svc.cluster.local|',
      '|',
    ]);
  });

  it('reads static entries too, and sections by the last part of their @type', () => {
    const dump = {
      configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: {} },
        {
          '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
          static_clusters: [{ cluster: { name: 'prometheus_stats', type: 'STATIC', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 250 } }],
        },
      ],
    };
    const p = parseConfigDump(dump);
    assert.deepEqual(
      p.clusters.map((c) => c.cluster.name),
      ['prometheus_stats'],
    );
    assert.deepEqual([p.listeners, p.routes, p.endpoints], [[], [], []]);
    assert.deepEqual(parseConfigDump(dump, { includeStatic: false }).clusters, []);
    assert.throws(() => parseConfigDump({ configs: 'no' }), /not a config dump/);
  });

  it("shortens domains as istioctl's describeRouteDomains does", () => {
    assert.equal(describeRouteDomains([]), '');
    assert.equal(describeRouteDomains(['*']), '*');
    assert.equal(describeRouteDomains(['kubevirt.io', 'kubevirt.io:80']), 'kubevirt.io');
    assert.equal(
      describeRouteDomains([
        'api.shop.svc.cluster.local',
        'api.shop.svc.cluster.local:80',
        'api.shop.svc',
        'api.shop.svc:80',
        'api.shop',
        'api.shop:80',
        '10.96.0.32',
        '10.96.0.32:80',
      ]),
      'api.shop, 10.96.0.32',
    );
  });

  it('aligns columns as Go tabwriter does, leaving the last cell unpadded', () => {
    assert.equal(
      tabulate(
        [
          ['A', 'BB', 'C'],
          ['AAA', 'B', ''],
        ],
        2,
      ),
      'A    BB  C\nAAA  B   \n',
    );
    assert.equal(tabulate([], 2), '');
  });
});

const ISTIO_FIELDS = {
  cluster_id: 'Kubernetes',
  istio_version: '1.10.0',
  cluster_sent: '',
  cluster_acked: '',
  listener_sent: '',
  listener_acked: '',
  route_sent: '',
  route_acked: '',
  endpoint_sent: '',
  endpoint_acked: '',
  extension_config_sent: '',
  extension_config_acked: '',
};

describe('proxy-status', () => {
  const t = (status: TypeStatus['status'], extra: Partial<TypeStatus> = {}): TypeStatus => ({
    typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
    status,
    sentVersion: status === 'NOT SENT' ? '' : 'v2',
    sentNonce: status === 'NOT SENT' ? '' : 'n2',
    ackedVersion: status === 'SYNCED' ? 'v2' : 'v1',
    ackedNonce: status === 'SYNCED' ? 'n2' : 'n1',
    ...extra,
  });
  const entry = (name: string, types: Partial<ProxySyncStatus['types']> = {}): ProxySyncStatus => ({
    proxy: name,
    nodeId: `sidecar~10.244.0.5~${name}~default.svc.cluster.local`,
    clusterId: 'Kubernetes',
    istioVersion: '1.10.0',
    istiod: 'istiod-node01',
    address: '10.244.0.5:40000',
    connectedAt: '2026-01-01T00:00:00.000Z',
    types: { CDS: t('SYNCED'), LDS: t('SYNCED'), EDS: t('SYNCED'), RDS: t('SYNCED'), ECDS: t('SYNCED'), ...types },
    ...ISTIO_FIELDS,
  });

  it("prints istioctl's columns, one proxy a line, by name", () => {
    const text = proxyStatusTable([
      entry('virt-launcher-istio-vmi-99t8t.default', { RDS: t('NACKED', { error: 'bad regex' }), EDS: t('STALE') }),
      entry('virt-launcher-cirros-vmi-9f765.default', { ECDS: t('NOT SENT') }),
    ]);
    assert.deepEqual(lines(text), [
      'NAME                                       CLUSTER        CDS        LDS        EDS        RDS        ECDS         ISTIOD            VERSION|',
      'virt-launcher-cirros-vmi-9f765.default     Kubernetes     SYNCED     SYNCED     SYNCED     SYNCED     NOT SENT     istiod-node01     1.10.0|',
      'virt-launcher-istio-vmi-99t8t.default      Kubernetes     SYNCED     SYNCED     STALE      NACKED     SYNCED       istiod-node01     1.10.0|',
      '|',
    ]);
  });

  it('details one proxy: versions and nonces per type, and the NACK reason', () => {
    const text = proxyStatusDetail(entry('virt-launcher-istio-vmi-99t8t.default', { RDS: t('NACKED', { error: 'route 8080: invalid regex' }) }));
    assert.match(text, /^NAME: +virt-launcher-istio-vmi-99t8t\.default$/m);
    assert.match(text, /^RDS +NACKED +v2 +n2 +v1 +n1 +route 8080: invalid regex$/m);
    assert.match(text, /^CDS +SYNCED +v2 +n2 +v2 +n2 +$/m);
  });

  it('compares what was sent with what the proxy has', () => {
    const { config, dump } = istioVmiDump();
    const sent = parseConfigDump(dump);
    assert.deepEqual(compareConfigDumps(sent, sent), ['Clusters Match', 'Listeners Match', 'Routes Match', 'Endpoints Match']);
    const tagged = parseConfigDump({
      configs: (dump.configs as Array<Record<string, any>>).map((section) =>
        section.dynamic_active_clusters
          ? { ...section, dynamic_active_clusters: section.dynamic_active_clusters.map((c: any) => ({ ...c, cluster: { '@type': 'Cluster', ...c.cluster } })) }
          : section,
      ),
    });
    assert.equal(compareConfigDumps(sent, tagged)[0], 'Clusters Match');
    const v = (items: readonly unknown[]) => ({ version: 'v0', items: items as never[] });
    const older = parseConfigDump(
      buildConfigDump({
        clusters: v(config.clusters.slice(1)),
        listeners: v(config.listeners),
        routes: v(config.routes.map((r) => ({ ...r, virtualHosts: [] }))),
        endpoints: v(config.endpoints),
      }),
    );
    const verdict = compareConfigDumps(sent, older);
    assert.match(verdict[0], /^Clusters Don't Match: not in the proxy: outbound\|8080\|\|istio-vmi-svc\.default\.svc\.cluster\.local$/);
    assert.equal(verdict[1], 'Listeners Match');
    assert.match(verdict[2], /^Routes Don't Match: different: 80, allow_any, istio-vmi-svc\.default\.svc\.cluster\.local:8080, inbound\|8080\|\|$/);
  });
});
