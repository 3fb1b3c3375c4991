import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cluster, ClusterLoadAssignment, Listener, ProxyConfigSet, RouteConfiguration } from '../proxy/config.js';
import { generateProxyConfig, proxyResources } from './generate.js';
import type { DestinationRule, ServiceEntry, SidecarResource, VirtualService } from './model.js';
import { proxyInfo, sidecarNode } from './proxy-node.js';
import { type MeshSnapshot, PushContext } from './push-context.js';
import { endpointSlice, istioObject, istioVmiService, launcherPod, service, WALKTHROUGH as W, walkthroughSnapshot } from './testing.js';

const ctxOf = (snapshot: MeshSnapshot, version = 'v1') => new PushContext(snapshot, { version, clusterId: 'Kubernetes' });
const proxy = (podName: string, ip: string, namespace = 'default') => {
  const p = proxyInfo(sidecarNode({ podName, namespace, ip }));
  assert.ok(p);
  return p;
};
const cirros = () => proxy(W.cirrosPod, W.cirrosIP);
const istioVmi = () => proxy(W.istioPod, W.istioIP);
const configFor = (snapshot: MeshSnapshot, p = cirros()) => generateProxyConfig(ctxOf(snapshot), p);

const cluster = (c: ProxyConfigSet, name: string): Cluster => {
  const found = c.clusters.find((x) => x.name === name);
  assert.ok(found, `cluster ${name} in ${c.clusters.map((x) => x.name).join(', ')}`);
  return found;
};
const listener = (c: ProxyConfigSet, name: string): Listener => {
  const found = c.listeners.find((x) => x.name === name);
  assert.ok(found, `listener ${name} in ${c.listeners.map((x) => x.name).join(', ')}`);
  return found;
};
const routeConfig = (c: ProxyConfigSet, name: string): RouteConfiguration => {
  const found = c.routes.find((x) => x.name === name);
  assert.ok(found, `route config ${name} in ${c.routes.map((x) => x.name).join(', ')}`);
  return found;
};
const assignment = (c: ProxyConfigSet, name: string): ClusterLoadAssignment => {
  const found = c.endpoints.find((x) => x.clusterName === name);
  assert.ok(found, `endpoints of ${name} in ${c.endpoints.map((x) => x.clusterName).join(', ')}`);
  return found;
};

const SVC_CLUSTER = `outbound|8080||${W.host}`;

describe('config generation: the walkthrough', () => {
  it('gives cirros-vmi the outbound cluster of istio-vmi-svc and the three fixed clusters', () => {
    const c = configFor(walkthroughSnapshot());
    assert.deepEqual(
      c.clusters.map((x) => x.name),
      [SVC_CLUSTER, 'BlackHoleCluster', 'InboundPassthroughCluster', 'PassthroughCluster'],
    );
    assert.deepEqual(cluster(c, SVC_CLUSTER), {
      name: SVC_CLUSTER,
      type: 'EDS',
      lbPolicy: 'LEAST_REQUEST',
      connectTimeoutMs: 10_000,
      service: { host: W.host, name: W.service, namespace: 'default' },
    });
    assert.equal(cluster(c, 'PassthroughCluster').type, 'ORIGINAL_DST');
    assert.equal(cluster(c, 'BlackHoleCluster').type, 'STATIC');
    assert.deepEqual(
      { type: cluster(c, 'InboundPassthroughCluster').type, to: cluster(c, 'InboundPassthroughCluster').upstreamAddress },
      { type: 'ORIGINAL_DST', to: '127.0.0.1' },
    );
  });

  it("gives istio-vmi an inbound cluster for its VM's port 8080, reached on the pod's loopback", () => {
    const c = configFor(walkthroughSnapshot(), istioVmi());
    assert.deepEqual(cluster(c, 'inbound|8080||'), {
      name: 'inbound|8080||',
      type: 'STATIC',
      lbPolicy: 'ROUND_ROBIN',
      connectTimeoutMs: 10_000,
      service: { host: W.host, name: W.service, namespace: 'default' },
      upstreamAddress: '127.0.0.1',
      upstreamPort: 8080,
    });
  });

  it('lists the endpoint with the VMI as its workload', () => {
    const cla = assignment(configFor(walkthroughSnapshot()), SVC_CLUSTER);
    assert.deepEqual(cla.endpoints, [
      {
        address: W.istioIP,
        port: 8080,
        healthStatus: 'HEALTHY',
        workload: {
          workload: 'istio-vmi',
          namespace: 'default',
          canonicalService: 'istio-vmi',
          canonicalRevision: 'latest',
          app: 'istio-vmi',
          version: '',
          serviceAccount: 'default',
          principal: 'spiffe://cluster.local/ns/default/sa/default',
          cluster: 'Kubernetes',
          podName: W.istioPod,
          ip: W.istioIP,
        },
      },
    ]);
  });

  it('marks endpoints that are not ready UNHEALTHY and terminating ones DRAINING', () => {
    const slices = [endpointSlice(W.service, [{ ip: '10.244.0.7', ready: false }, { ip: '10.244.0.8', terminating: true }, { ip: '10.244.0.9' }])];
    const cla = assignment(configFor(walkthroughSnapshot({ endpointSlices: slices })), SVC_CLUSTER);
    assert.deepEqual(
      cla.endpoints.map((e) => [e.address, e.healthStatus]),
      [
        ['10.244.0.7', 'UNHEALTHY'],
        ['10.244.0.8', 'DRAINING'],
        ['10.244.0.9', 'HEALTHY'],
      ],
    );
  });

  it('takes canonical names and the service account from the pod', () => {
    const pod = launcherPod('istio-vmi', W.istioPod, W.istioIP, {
      labels: { 'service.istio.io/canonical-name': 'web', version: 'v2' },
    });
    pod.spec = { ...pod.spec, serviceAccountName: 'vm-sa' };
    const cla = assignment(configFor(walkthroughSnapshot({ pods: [pod] })), SVC_CLUSTER);
    const w = cla.endpoints[0].workload;
    assert.deepEqual(
      [w?.workload, w?.canonicalService, w?.canonicalRevision, w?.version, w?.principal],
      ['istio-vmi', 'web', 'v2', 'v2', 'spiffe://cluster.local/ns/default/sa/vm-sa'],
    );
  });

  it('gives the unnamed (auto-detected) port a listener on the cluster IP with an HTTP chain and a TCP chain', () => {
    const c = configFor(walkthroughSnapshot());
    assert.deepEqual(
      c.listeners.map((l) => l.name),
      ['virtualOutbound', `${W.clusterIP}_8080`, 'virtualInbound'],
    );
    assert.deepEqual(listener(c, `${W.clusterIP}_8080`), {
      name: `${W.clusterIP}_8080`,
      address: W.clusterIP,
      port: 8080,
      trafficDirection: 'OUTBOUND',
      protocol: 'auto',
      filterChains: [
        {
          name: `${W.host}:8080`,
          match: { transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.0', 'http/1.1', 'h2c'] },
          filter: { type: 'http', routeConfigName: `${W.host}:8080` },
        },
        { name: SVC_CLUSTER, filter: { type: 'tcp', cluster: SVC_CLUSTER } },
      ],
    });
    assert.deepEqual(listener(c, 'virtualOutbound'), {
      name: 'virtualOutbound',
      address: '0.0.0.0',
      port: 15001,
      trafficDirection: 'OUTBOUND',
      useOriginalDst: true,
      protocol: 'auto',
      filterChains: [
        {
          name: 'virtualOutbound-http',
          match: { transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.0', 'http/1.1', 'h2c'] },
          filter: { type: 'http', routeConfigName: 'allow_any' },
        },
      ],
      defaultFilterChain: { name: 'PassthroughCluster', filter: { type: 'tcp', cluster: 'PassthroughCluster' } },
    });
    assert.deepEqual(routeConfig(c, 'allow_any')?.virtualHosts[0].routes[0].route, { cluster: 'PassthroughCluster' }, 'sniffed HTTP to unknown hosts');
  });

  it("routes the sniffed port's HTTP to the service with Istio's default retries", () => {
    const rc = routeConfig(configFor(walkthroughSnapshot()), `${W.host}:8080`);
    assert.deepEqual(rc, {
      name: `${W.host}:8080`,
      virtualHosts: [
        {
          name: `${W.host}:8080`,
          domains: ['*'],
          routes: [
            {
              name: 'default',
              match: { prefix: '/' },
              route: {
                cluster: SVC_CLUSTER,
                retryPolicy: { retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', numRetries: 2 },
              },
            },
          ],
        },
      ],
    });
  });

  it('gives istio-vmi an inbound chain pair on virtualInbound and an inbound route config', () => {
    const c = configFor(walkthroughSnapshot(), istioVmi());
    const vi = listener(c, 'virtualInbound');
    assert.equal(vi.port, 15006);
    assert.equal(vi.trafficDirection, 'INBOUND');
    assert.deepEqual(vi.filterChains, [
      {
        name: '0.0.0.0_8080',
        match: { destinationPort: 8080, transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.0', 'http/1.1', 'h2c'] },
        filter: { type: 'http', routeConfigName: 'inbound|8080||' },
      },
      { name: '0.0.0.0_8080', match: { destinationPort: 8080 }, filter: { type: 'tcp', cluster: 'inbound|8080||' } },
    ]);
    assert.deepEqual(vi.defaultFilterChain?.filter, { type: 'tcp', cluster: 'InboundPassthroughCluster' });
    assert.deepEqual(routeConfig(c, 'inbound|8080||'), {
      name: 'inbound|8080||',
      virtualHosts: [
        { name: 'inbound|http|8080', domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }] },
      ],
    });
  });

  it('gives cirros-vmi (no ports) no inbound chains, only the passthrough', () => {
    const c = configFor(walkthroughSnapshot());
    assert.deepEqual(listener(c, 'virtualInbound').filterChains, []);
    assert.equal(
      c.routes.some((r) => r.name.startsWith('inbound|')),
      false,
    );
  });

  it('falls back to the ports the proxy announced when its pod is not known yet', () => {
    const p = proxyInfo(sidecarNode({ podName: 'unknown-pod', namespace: 'default', ip: '10.244.0.99', podPorts: [9090] }));
    assert.ok(p);
    const c = configFor(walkthroughSnapshot(), p);
    assert.equal(cluster(c, 'inbound|9090||').upstreamPort, 9090);
  });
});

describe('config generation: ports and protocols', () => {
  const web = service('web', { selector: { app: 'web' }, clusterIP: '10.96.0.30', ports: [{ name: 'http-web', port: 80, targetPort: 8080 }] });
  const db = service('db', { selector: { app: 'db' }, clusterIP: '10.96.0.31', ports: [{ name: 'tcp-db', port: 5432 }] });
  const other = service('api', { selector: { app: 'api' }, clusterIP: '10.96.0.32', ports: [{ name: 'http', port: 80 }] }, 'shop');

  it('routes HTTP-named ports through 0.0.0.0_<port> and route config "<port>", with the allow_any catch-all', () => {
    const c = configFor(walkthroughSnapshot({ services: [istioVmiService(), web, other] }));
    const l = listener(c, '0.0.0.0_80');
    assert.deepEqual(
      l.filterChains.map((f) => f.filter),
      [{ type: 'http', routeConfigName: '80' }],
    );
    assert.deepEqual(l.defaultFilterChain?.filter, { type: 'tcp', cluster: 'PassthroughCluster' });
    const rc = routeConfig(c, '80');
    assert.deepEqual(
      rc.virtualHosts.map((v) => v.name),
      ['api.shop.svc.cluster.local:80', 'web.default.svc.cluster.local:80', 'allow_any'],
    );
    // The short name only from the service's own namespace, as Istio lists domains.
    assert.deepEqual(rc.virtualHosts[1].domains, [
      'web.default.svc.cluster.local',
      'web.default.svc.cluster.local:80',
      'web',
      'web:80',
      'web.default.svc',
      'web.default.svc:80',
      'web.default',
      'web.default:80',
      '10.96.0.30',
      '10.96.0.30:80',
    ]);
    assert.equal(rc.virtualHosts[0].domains.includes('api'), false);
    assert.deepEqual(rc.virtualHosts[2], {
      name: 'allow_any',
      domains: ['*'],
      routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: 'PassthroughCluster' } }],
    });
  });

  it('gives TCP-named ports a TCP-only listener on the cluster IP', () => {
    const c = configFor(walkthroughSnapshot({ services: [db] }));
    assert.deepEqual(listener(c, '10.96.0.31_5432'), {
      name: '10.96.0.31_5432',
      address: '10.96.0.31',
      port: 5432,
      trafficDirection: 'OUTBOUND',
      protocol: 'tcp',
      filterChains: [{ name: 'outbound|5432||db.default.svc.cluster.local', filter: { type: 'tcp', cluster: 'outbound|5432||db.default.svc.cluster.local' } }],
    });
    assert.equal(
      c.routes.some((r) => r.name.includes('5432')),
      false,
    );
  });

  it('reads the protocol from appProtocol before the name, and skips UDP ports', () => {
    const s = service('mixed', {
      clusterIP: '10.96.0.33',
      ports: [
        { name: 'web', port: 81, appProtocol: 'http' },
        { name: 'dns', port: 53, protocol: 'UDP' },
      ],
    });
    const c = configFor(walkthroughSnapshot({ services: [s] }));
    assert.ok(c.listeners.some((l) => l.name === '0.0.0.0_81'));
    assert.equal(
      c.clusters.some((x) => x.name.includes('|53|')),
      false,
    );
  });

  it('makes headless services ORIGINAL_DST clusters without endpoints', () => {
    const s = service('headless', { clusterIP: 'None', selector: { app: 'x' }, ports: [{ name: 'tcp', port: 9000 }] });
    const c = configFor(walkthroughSnapshot({ services: [s] }));
    assert.equal(cluster(c, 'outbound|9000||headless.default.svc.cluster.local').type, 'ORIGINAL_DST');
    assert.equal(
      c.endpoints.some((e) => e.clusterName.includes('headless')),
      false,
    );
  });

  it('gives the inbound port the protocol of the Service that targets it (named targetPort included)', () => {
    const pod = launcherPod('istio-vmi', W.istioPod, W.istioIP, { ports: [8080] });
    const compute = pod.spec?.containers?.[0];
    if (compute?.ports) compute.ports[0].name = 'web';
    const s = service('web', { selector: { app: 'istio-vmi' }, clusterIP: '10.96.0.30', ports: [{ name: 'http-web', port: 80, targetPort: 'web' }] });
    const c = configFor(walkthroughSnapshot({ services: [s], pods: [pod] }), istioVmi());
    assert.deepEqual(listener(c, 'virtualInbound').filterChains, [
      { name: '0.0.0.0_8080', match: { destinationPort: 8080 }, filter: { type: 'http', routeConfigName: 'inbound|8080||' } },
    ]);
    assert.equal(cluster(c, 'inbound|8080||').service?.name, 'web');
  });
});

describe('config generation: VirtualService', () => {
  const vs = (spec: VirtualService['spec'], name = 'istio-vmi-vs', namespace = 'default') =>
    istioObject<VirtualService>('VirtualService', name, spec, namespace);

  it('translates matches, weighted subsets, timeout, retries, fault and rewrite', () => {
    const v = vs({
      hosts: ['istio-vmi-svc'],
      http: [
        {
          name: 'canary',
          match: [{ uri: { prefix: '/v2' }, headers: { 'X-User': { exact: 'alice' } } }, { uri: { regex: '^/beta/.*' } }],
          route: [
            { destination: { host: 'istio-vmi-svc', subset: 'v2' }, weight: 80 },
            { destination: { host: 'istio-vmi-svc.default.svc.cluster.local', subset: 'v1', port: { number: 8080 } }, weight: 20 },
          ],
          timeout: '2.5s',
          retries: { attempts: 3, perTryTimeout: '500ms', retryOn: '5xx' },
          fault: { abort: { httpStatus: 503, percentage: { value: 10 } }, delay: { fixedDelay: '1s' } },
          rewrite: { uri: '/', authority: 'internal' },
          headers: { request: { set: { 'x-canary': 'yes' } } },
        },
        { route: [{ destination: { host: 'istio-vmi-svc' } }], retries: { attempts: 0 } },
      ],
    });
    const rc = routeConfig(configFor(walkthroughSnapshot({ virtualServices: [v] })), `${W.host}:8080`);
    const routes = rc.virtualHosts[0].routes;
    const action = {
      weightedClusters: [
        { name: `outbound|8080|v2|${W.host}`, weight: 80 },
        { name: `outbound|8080|v1|${W.host}`, weight: 20 },
      ],
      timeoutMs: 2500,
      retryPolicy: { retryOn: '5xx', numRetries: 3, perTryTimeoutMs: 500 },
      prefixRewrite: '/',
      hostRewrite: 'internal',
    };
    const extras = {
      fault: { abort: { httpStatus: 503, percentage: 10 }, delay: { fixedDelayMs: 1000, percentage: 100 } },
      requestHeadersToAdd: [{ key: 'x-canary', value: 'yes' }],
    };
    assert.deepEqual(routes, [
      { name: 'canary', match: { prefix: '/v2', headers: [{ name: 'x-user', exact: 'alice' }] }, route: action, ...extras },
      { name: 'canary', match: { safeRegex: '^/beta/.*' }, route: action, ...extras },
      {
        match: { prefix: '/' },
        route: { cluster: SVC_CLUSTER, retryPolicy: { retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', numRetries: 0 } },
      },
    ]);
  });

  it('passes RE2 regexes through unchanged, even what a JavaScript RegExp cannot compile', () => {
    const v = vs({ hosts: ['istio-vmi-svc'], http: [{ match: [{ uri: { regex: '/(?P<name>x)' } }], route: [{ destination: { host: 'istio-vmi-svc' } }] }] });
    const rc = routeConfig(configFor(walkthroughSnapshot({ virtualServices: [v] })), `${W.host}:8080`);
    assert.equal(rc.virtualHosts[0].routes[0].match.safeRegex, '/(?P<name>x)');
  });

  it('answers exact paths, header presence, directResponse and matches on other ports', () => {
    const v = vs({
      hosts: ['istio-vmi-svc'],
      http: [
        { match: [{ uri: { exact: '/health' }, headers: { 'x-debug': {} } }], directResponse: { status: 204, body: { string: 'ok' } } },
        { match: [{ port: 9999 }], route: [{ destination: { host: 'elsewhere' } }] },
      ],
    });
    const routes = routeConfig(configFor(walkthroughSnapshot({ virtualServices: [v] })), `${W.host}:8080`).virtualHosts[0].routes;
    assert.deepEqual(routes, [{ match: { path: '/health', headers: [{ name: 'x-debug', present: true }] }, directResponse: { status: 204, body: 'ok' } }]);
  });

  it('ignores VirtualServices bound to gateways only, and applies the older of two', () => {
    const gw = vs({ hosts: ['istio-vmi-svc'], gateways: ['ingress'], http: [{ route: [{ destination: { host: 'gateway-only' } }] }] }, 'gw');
    const older = istioObject<VirtualService>(
      'VirtualService',
      'older',
      { hosts: ['istio-vmi-svc'], http: [{ name: 'older', route: [{ destination: { host: 'istio-vmi-svc' } }] }] },
      'default',
      '2026-01-01T00:00:00Z',
    );
    const newer = istioObject<VirtualService>(
      'VirtualService',
      'newer',
      { hosts: ['istio-vmi-svc'], http: [{ name: 'newer', route: [{ destination: { host: 'istio-vmi-svc' } }] }] },
      'default',
      '2026-02-01T00:00:00Z',
    );
    const rc = routeConfig(configFor(walkthroughSnapshot({ virtualServices: [newer, gw, older] })), `${W.host}:8080`);
    assert.deepEqual(
      rc.virtualHosts[0].routes.map((r) => r.name),
      ['older'],
    );
  });

  it('sends a TCP port to the VirtualService tcp route destination', () => {
    const db = service('db', { clusterIP: '10.96.0.31', ports: [{ name: 'tcp', port: 5432 }] });
    const v = vs({ hosts: ['db'], tcp: [{ route: [{ destination: { host: 'db', subset: 'primary' } }] }] }, 'db');
    const l = listener(configFor(walkthroughSnapshot({ services: [db], virtualServices: [v] })), '10.96.0.31_5432');
    assert.deepEqual(l.filterChains[0].filter, { type: 'tcp', cluster: 'outbound|5432|primary|db.default.svc.cluster.local' });
  });
});

describe('config generation: DestinationRule', () => {
  const dr = (spec: DestinationRule['spec']) => istioObject<DestinationRule>('DestinationRule', 'istio-vmi-dr', spec);
  const v1 = launcherPod('istio-vmi', W.istioPod, W.istioIP, { ports: [8080], labels: { version: 'v1' } });
  const v2 = launcherPod('istio-vmi', 'virt-launcher-istio-vmi-zzzzz', '10.244.0.7', { ports: [8080], labels: { version: 'v2' } });
  const slices = [
    endpointSlice(W.service, [
      { ip: W.istioIP, pod: W.istioPod },
      { ip: '10.244.0.7', pod: 'virt-launcher-istio-vmi-zzzzz' },
    ]),
  ];
  const snapshot = (d: DestinationRule) =>
    walkthroughSnapshot({ pods: [v1, v2, launcherPod('cirros-vmi', W.cirrosPod, W.cirrosIP)], endpointSlices: slices, destinationRules: [d] });

  it('applies load balancer, connection pool and outlier detection, and makes subset clusters', () => {
    const c = configFor(
      snapshot(
        dr({
          host: 'istio-vmi-svc',
          trafficPolicy: {
            loadBalancer: { simple: 'LEAST_CONN' },
            connectionPool: { tcp: { maxConnections: 10, connectTimeout: '3s' }, http: { maxRequestsPerConnection: 1 } },
            outlierDetection: { consecutive5xxErrors: 3, baseEjectionTime: '15s' },
          },
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } },
          ],
        }),
      ),
    );
    assert.deepEqual(cluster(c, SVC_CLUSTER), {
      name: SVC_CLUSTER,
      type: 'EDS',
      lbPolicy: 'LEAST_REQUEST',
      connectTimeoutMs: 3000,
      service: { host: W.host, name: W.service, namespace: 'default' },
      maxConnections: 10,
      maxRequestsPerConnection: 1,
      consecutiveErrors: 3,
      baseEjectionTimeMs: 15_000,
    });
    assert.equal(cluster(c, `outbound|8080|v1|${W.host}`).lbPolicy, 'LEAST_REQUEST');
    assert.equal(cluster(c, `outbound|8080|v2|${W.host}`).lbPolicy, 'RANDOM');
    assert.equal(cluster(c, `outbound|8080|v2|${W.host}`).maxConnections, 10);
    assert.deepEqual(
      assignment(c, `outbound|8080|v1|${W.host}`).endpoints.map((e) => e.address),
      [W.istioIP],
    );
    assert.deepEqual(
      assignment(c, `outbound|8080|v2|${W.host}`).endpoints.map((e) => e.address),
      ['10.244.0.7'],
    );
    assert.equal(assignment(c, SVC_CLUSTER).endpoints.length, 2);
  });

  it('lets a port-level setting replace the rule-wide one for its port', () => {
    const c = configFor(
      snapshot(
        dr({
          host: W.host,
          trafficPolicy: { loadBalancer: { simple: 'RANDOM' }, portLevelSettings: [{ port: { number: 8080 }, loadBalancer: { simple: 'ROUND_ROBIN' } }] },
        }),
      ),
    );
    assert.equal(cluster(c, SVC_CLUSTER).lbPolicy, 'ROUND_ROBIN');
  });

  it("prefers a rule in the proxy's own namespace", () => {
    const mine = istioObject<DestinationRule>('DestinationRule', 'mine', { host: W.host, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }, 'shop');
    const theirs = istioObject<DestinationRule>('DestinationRule', 'theirs', {
      host: 'istio-vmi-svc',
      trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } },
    });
    const s = walkthroughSnapshot({ destinationRules: [theirs, mine] });
    assert.equal(cluster(generateProxyConfig(ctxOf(s), proxy('p', '10.244.0.50', 'shop')), SVC_CLUSTER).lbPolicy, 'RANDOM');
    assert.equal(cluster(configFor(s), SVC_CLUSTER).lbPolicy, 'ROUND_ROBIN');
  });
});

describe('config generation: ServiceEntry', () => {
  const se = (name: string, spec: ServiceEntry['spec']) => istioObject<ServiceEntry>('ServiceEntry', name, spec);

  it('makes an HTTP entry resolved by DNS a cluster with its host as endpoint, routed by Host on 0.0.0.0_80', () => {
    const c = configFor(
      walkthroughSnapshot({
        serviceEntries: [
          se('kubevirt-io', { hosts: ['kubevirt.io'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS', location: 'MESH_EXTERNAL' }),
        ],
      }),
    );
    assert.deepEqual(cluster(c, 'outbound|80||kubevirt.io').service, { host: 'kubevirt.io', name: 'kubevirt.io', namespace: 'default' });
    assert.deepEqual(assignment(c, 'outbound|80||kubevirt.io').endpoints, [{ address: 'kubevirt.io', port: 80, healthStatus: 'HEALTHY' }]);
    const vh = routeConfig(c, '80').virtualHosts.find((v) => v.name === 'kubevirt.io:80');
    assert.deepEqual(vh?.domains, ['kubevirt.io', 'kubevirt.io:80']);
  });

  it('makes a TCP entry with an address and static endpoints a listener on that address', () => {
    const c = configFor(
      walkthroughSnapshot({
        serviceEntries: [
          se('db', {
            hosts: ['db.example.com'],
            addresses: ['240.0.0.1'],
            ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }],
            resolution: 'STATIC',
            endpoints: [{ address: '127.0.0.1', ports: { tcp: 15432 } }, { address: '127.0.0.2' }],
          }),
        ],
      }),
    );
    assert.equal(listener(c, '240.0.0.1_5432').filterChains[0].filter.type, 'tcp');
    assert.deepEqual(
      assignment(c, 'outbound|5432||db.example.com').endpoints.map((e) => `${e.address}:${e.port}`),
      ['127.0.0.1:15432', '127.0.0.2:5432'],
    );
  });

  it('makes resolution NONE an ORIGINAL_DST cluster', () => {
    const c = configFor(
      walkthroughSnapshot({
        serviceEntries: [se('any', { hosts: ['*.example.org'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'NONE' })],
      }),
    );
    assert.equal(cluster(c, 'outbound|443||*.example.org').type, 'ORIGINAL_DST');
  });
});

describe('config generation: outbound traffic policy and Sidecar', () => {
  const web = service('web', { clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 80 }] });
  const registryOnly = { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' as const }, connectTimeoutMs: 10_000 };

  it('sends unknown destinations to BlackHoleCluster under REGISTRY_ONLY', () => {
    const c = configFor(walkthroughSnapshot({ services: [istioVmiService(), web], meshConfig: registryOnly }));
    assert.deepEqual(listener(c, 'virtualOutbound').defaultFilterChain?.filter, { type: 'tcp', cluster: 'BlackHoleCluster' });
    assert.deepEqual(listener(c, '0.0.0.0_80').defaultFilterChain?.filter, { type: 'tcp', cluster: 'BlackHoleCluster' });
    const catchAll = routeConfig(c, '80').virtualHosts.at(-1);
    assert.deepEqual(catchAll, { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }] });
  });

  it("narrows outbound config to a Sidecar's egress hosts and takes its outbound policy", () => {
    const sc = istioObject<SidecarResource>('Sidecar', 'default', {
      egress: [{ hosts: ['./web.default.svc.cluster.local'] }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    });
    const c = configFor(walkthroughSnapshot({ services: [istioVmiService(), web], sidecars: [sc] }));
    assert.deepEqual(
      c.clusters.filter((x) => x.name.startsWith('outbound')).map((x) => x.name),
      ['outbound|80||web.default.svc.cluster.local'],
    );
    assert.deepEqual(listener(c, 'virtualOutbound').defaultFilterChain?.filter, { type: 'tcp', cluster: 'BlackHoleCluster' });
  });
});

describe('config generation: sharing between proxies', () => {
  it('shares outbound fragments within a namespace and reuses them when only endpoints change', () => {
    const ctx = ctxOf(walkthroughSnapshot());
    const a = proxyResources(ctx, cirros());
    const b = proxyResources(ctx, istioVmi());
    assert.equal(a.clusters[0], b.clusters[0]);
    assert.equal(a.endpoints[0], b.endpoints[0]);
    assert.notEqual(a.clusters[1], b.clusters[1]);

    const changed = walkthroughSnapshot({ endpointSlices: [endpointSlice(W.service, [{ ip: W.istioIP, pod: W.istioPod, ready: false }])] });
    const next = new PushContext(changed, { version: 'v2', clusterId: 'Kubernetes', reuseConfigOf: ctx });
    const c = proxyResources(next, cirros());
    assert.equal(c.clusters[0], a.clusters[0]);
    assert.notEqual(c.endpoints[0].hash, a.endpoints[0].hash);
  });
});
