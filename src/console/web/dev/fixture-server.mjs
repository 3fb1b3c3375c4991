// Development only: serves the built console (dist/web) and canned JSON shaped like
// src/telemetry/api.ts on 127.0.0.1, at / and under the /prefix/ path prefix.
//   node src/console/web/dev/fixture-server.mjs [port]
// GET /__fixture?prometheus=down|up&empty=1|0&fail=<path substring> changes what it answers.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../dist/web/', import.meta.url));
const port = Number(process.argv[2] ?? 8089);
const state = { prometheus: true, empty: false, fail: '' };
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

const namespaces = [
  { name: 'default', labels: { 'istio-injection': 'enabled' }, injection: true },
  { name: 'istio-system', labels: {}, injection: false },
  { name: 'kube-system', labels: {}, injection: false },
  { name: 'shop', labels: { 'istio-injection': 'enabled' }, injection: true },
];

const http = (rate, err5 = 0, err4 = 0) => ({ rate, rate3xx: 0, rate4xx: err4, rate5xx: err5, percentErr: rate > 0 ? ((err4 + err5) / rate) * 100 : 0 });

function graph(nsList, graphType = 'workload') {
  const nodes = [];
  const edges = [];
  if (state.empty) return { timestamp: Math.floor(Date.now() / 1000), duration: 60, graphType: 'workload', namespaces: nsList, elements: { nodes, edges } };
  const box = (ns) => nodes.push({ data: { id: `box-${ns}`, nodeType: 'box', isBox: 'namespace', namespace: ns, label: ns, health: 'na' } });
  const wl = (ns, name, extra = {}) =>
    nodes.push({
      data: {
        id: `wl-${ns}-${name}`,
        parent: `box-${ns}`,
        nodeType: 'workload',
        namespace: ns,
        workload: name,
        app: name,
        label: name,
        health: 'healthy',
        hasSidecar: true,
        ...extra,
      },
    });
  const svc = (ns, name, extra = {}) =>
    nodes.push({
      data: { id: `svc-${ns}-${name}`, parent: `box-${ns}`, nodeType: 'service', namespace: ns, service: name, label: name, health: 'healthy', ...extra },
    });
  const edge = (source, target, rate, extra = {}) =>
    edges.push({
      data: {
        id: `${source}->${target}`,
        source,
        target,
        protocol: 'http',
        http: http(rate, extra.err5 ?? 0),
        responses: extra.err5 ? { 200: { '-': rate - extra.err5 }, 503: { UF: extra.err5 } } : { 200: { '-': rate } },
        responseTimeP95: extra.p95 ?? 12.3,
        throughput: rate * 900,
        mtlsPercent: extra.mtls ?? 100,
        health: extra.health ?? 'healthy',
      },
    });
  for (const ns of nsList) box(ns);
  if (nsList.includes('default')) {
    wl('default', 'curl-client', { isRoot: true });
    svc('default', 'istio-vmi');
    if (graphType === 'versionedApp') {
      nodes.push({
        data: {
          id: 'app-default-istio-vmi',
          parent: 'box-default',
          nodeType: 'box',
          isBox: 'app',
          namespace: 'default',
          app: 'istio-vmi',
          label: 'istio-vmi',
          health: 'na',
        },
      });
      wl('default', 'istio-vmi', { nodeType: 'app', version: 'v1', parent: 'app-default-istio-vmi', health: 'degraded', healthReason: '5xx 7.5% >= 5%' });
    } else wl('default', 'istio-vmi', { health: 'degraded', healthReason: '5xx 7.5% >= 5%' });
    wl('default', 'legacy-vm', { hasSidecar: false, health: 'na' });
    svc('default', 'db');
    wl('default', 'db');
    nodes.push({ data: { id: 'passthrough', nodeType: 'unknown', namespace: 'default', label: 'PassthroughCluster', isPassthrough: true, health: 'na' } });
    edge('wl-default-curl-client', 'svc-default-istio-vmi', 2, { err5: 0.15, health: 'degraded' });
    edge('svc-default-istio-vmi', 'wl-default-istio-vmi', 2, { err5: 0.15, health: 'degraded', p95: 48 });
    edge('wl-default-istio-vmi', 'passthrough', 0.2, { mtls: 0, health: 'healthy' });
    edges.push({
      data: {
        id: 'tcp-db',
        source: 'wl-default-istio-vmi',
        target: 'svc-default-db',
        protocol: 'tcp',
        tcp: { bytesPerSec: 4200 },
        throughput: 4200,
        mtlsPercent: 100,
        health: 'na',
      },
    });
    edges.push({
      data: {
        id: 'tcp-db2',
        source: 'svc-default-db',
        target: 'wl-default-db',
        protocol: 'tcp',
        tcp: { bytesPerSec: 4200 },
        throughput: 4200,
        mtlsPercent: 100,
        health: 'na',
      },
    });
  }
  if (nsList.includes('shop')) {
    wl('shop', 'cart', { health: 'failure', healthReason: '5xx 40% >= 10%' });
    svc('shop', 'cart', { health: 'failure' });
    if (nsList.includes('default')) edge('wl-default-istio-vmi', 'svc-shop-cart', 0.5, { err5: 0.2, health: 'failure' });
    edge('svc-shop-cart', 'wl-shop-cart', 0.5, { err5: 0.2, health: 'failure', p95: 1500 });
  }
  return { timestamp: Math.floor(Date.now() / 1000), duration: 60, graphType: 'workload', namespaces: nsList, elements: { nodes, edges } };
}

function series(duration, step, base, labels = {}, stat) {
  const now = Math.floor(Date.now() / 1000);
  const datapoints = [];
  for (let t = now - duration; t <= now; t += step) datapoints.push([t, Math.max(0, base * (1 + 0.3 * Math.sin(t / 60)))]);
  return stat ? { labels, stat, datapoints } : { labels, datapoints };
}

function metrics(q) {
  const d = Number(q.get('duration') ?? 600);
  const s = Number(q.get('step') ?? 15);
  const by = q.get('byLabels');
  const groups = by === 'response_code' ? [{ response_code: '200' }, { response_code: '503' }] : by ? [{ [by]: 'curl-client' }] : [{}];
  const counter = (base) => groups.map((g, i) => series(d, s, base / (i + 1), g));
  const hist = (base) => groups.flatMap((g) => ['avg', '0.5', '0.95', '0.99'].map((st, i) => series(d, s, base * (1 + i), g, st)));
  return {
    request_count: counter(2),
    request_error_count: counter(0.15),
    request_duration_millis: hist(10),
    request_size: hist(200),
    response_size: hist(1500),
    request_throughput: counter(4000),
    response_throughput: counter(24000),
    tcp_sent: q.get('direction') === 'outbound' ? counter(4200) : [],
    tcp_received: q.get('direction') === 'outbound' ? counter(2100) : [],
  };
}

const proxyRow = (name) => ({
  name,
  cluster: 'Kubernetes',
  cds: 'SYNCED',
  lds: 'SYNCED',
  eds: 'SYNCED',
  rds: 'SYNCED',
  ecds: 'NOT SENT',
  istiod: 'istiod-0',
  version: '1.24.0',
});

function workloads(ns) {
  if (ns !== 'default' || state.empty) return [];
  return [
    {
      name: 'istio-vmi',
      namespace: 'default',
      kind: 'VirtualMachineInstance',
      labels: { app: 'istio-vmi', 'kubevirt.io/domain': 'istio-vmi' },
      app: 'istio-vmi',
      istioSidecar: true,
      podCount: 1,
      readyPods: 1,
      health: 'degraded',
      healthReason: '5xx 7.5% >= 5%',
    },
    {
      name: 'curl-client',
      namespace: 'default',
      kind: 'Deployment',
      labels: { app: 'curl-client' },
      istioSidecar: true,
      podCount: 1,
      readyPods: 1,
      health: 'healthy',
    },
    {
      name: 'legacy-vm',
      namespace: 'default',
      kind: 'VirtualMachineInstance',
      labels: { app: 'legacy-vm' },
      istioSidecar: false,
      podCount: 1,
      readyPods: 0,
      health: 'failure',
      healthReason: 'pods not ready',
    },
  ];
}

function api(path, q) {
  if (state.fail && path.includes(state.fail)) return [503, { error: `fixture failure for ${state.fail}`, detail: 'set by /__fixture?fail=' }];
  const promDown = [503, { error: 'Prometheus at http://127.0.0.1:9090 is unreachable: connect ECONNREFUSED 127.0.0.1:9090' }];
  if (path === '/api/status')
    return [
      200,
      {
        version: '0.1.0-dev',
        prometheus: state.prometheus
          ? { url: 'http://127.0.0.1:9090', ok: true }
          : { url: 'http://127.0.0.1:9090', ok: false, error: 'connect ECONNREFUSED 127.0.0.1:9090' },
        kubernetes: { url: 'https://127.0.0.1:6443', ok: true },
        controlPlane: { url: 'http://127.0.0.1:15014', ok: true },
      },
    ];
  if (path === '/api/namespaces') return [200, namespaces];
  if (path === '/api/namespaces/graph')
    return state.prometheus ? [200, graph((q.get('namespaces') ?? '').split(',').filter(Boolean), q.get('graphType') ?? 'workload')] : promDown;
  if (path === '/api/proxy-status')
    return [200, state.empty ? [] : [proxyRow('virt-launcher-istio-vmi-abcde.default'), { ...proxyRow('cart-1.shop'), rds: 'STALE', lds: 'NACKED' }]];
  if (path === '/api/istio/config')
    return [
      200,
      [
        { kind: 'VirtualService', name: 'istio-vmi', namespace: 'default', createdAt: new Date(Date.now() - 3600e3).toISOString(), validations: [] },
        {
          kind: 'DestinationRule',
          name: 'istio-vmi',
          namespace: 'default',
          createdAt: new Date().toISOString(),
          validations: [{ severity: 'warning', code: 'KIA0203', message: 'This subset’s labels are not found in any matching host', path: 'spec/subsets[0]' }],
        },
        {
          kind: 'VirtualService',
          name: 'broken',
          namespace: 'default',
          createdAt: new Date().toISOString(),
          validations: [
            {
              severity: 'error',
              code: 'KIA1101',
              message: 'DestinationWeight on route doesn\u2019t have a valid service (host not found)',
              path: 'spec/http[0]/route[0]/destination/host',
            },
          ],
        },
      ],
    ];
  let m = path.match(/^\/api\/namespaces\/([^/]+)\/workloads$/);
  if (m) return [200, workloads(decodeURIComponent(m[1]))];
  m = path.match(/^\/api\/namespaces\/([^/]+)\/services$/);
  if (m)
    return [
      200,
      m[1] === 'default' && !state.empty
        ? [
            {
              name: 'istio-vmi',
              namespace: 'default',
              type: 'ClusterIP',
              clusterIP: '10.96.0.20',
              ports: '80/TCP',
              selector: { app: 'istio-vmi' },
              endpoints: 1,
              health: 'degraded',
              validations: [],
            },
            {
              name: 'db',
              namespace: 'default',
              type: 'ClusterIP',
              clusterIP: '10.96.0.21',
              ports: '5432/TCP',
              selector: { app: 'db' },
              endpoints: 0,
              health: 'failure',
              validations: [{ severity: 'warning', code: 'KIA0701', message: 'Deployment exposing same port as Service not found' }],
            },
          ]
        : [],
    ];
  m = path.match(/^\/api\/namespaces\/([^/]+)\/workloads\/([^/]+)$/);
  if (m) {
    const w = workloads(m[1]).find((x) => x.name === decodeURIComponent(m[2]));
    if (!w) return [404, { error: `workload ${m[1]}/${m[2]} not found` }];
    const pod = {
      name: `virt-launcher-${w.name}-abcde`,
      phase: 'Running',
      ready: '3/3',
      status: 'Running',
      podIP: '10.244.0.12',
      containers: ['compute', 'istio-proxy'],
      initContainers: ['istio-init'],
      createdAt: new Date(Date.now() - 5400e3).toISOString(),
      proxyStatus: w.istioSidecar ? { ...proxyRow(`virt-launcher-${w.name}-abcde.default`), eds: 'STALE' } : undefined,
    };
    return [200, { ...w, pods: [pod], services: [w.name] }];
  }
  m = path.match(/^\/api\/namespaces\/([^/]+)\/workloads\/([^/]+)\/graph$/);
  if (m) return state.prometheus ? [200, graph(['default'])] : promDown;
  m = path.match(/^\/api\/namespaces\/([^/]+)\/workloads\/([^/]+)\/metrics$/);
  if (m) return state.prometheus ? [200, metrics(q)] : promDown;
  m = path.match(/^\/api\/namespaces\/([^/]+)\/pods\/([^/]+)\/logs$/);
  if (m) {
    const c = q.get('container');
    return [
      200,
      c === 'compute'
        ? 'SeaBIOS (version 1.16)\nBooting from Hard Disk...\n[    0.000000] Linux version 6.1\nistio-vmi login: '
        : `${new Date().toISOString()} info Envoy proxy is ready\n`,
    ];
  }
  return [404, { error: `no route for ${path}` }];
}

createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  let path = url.pathname;
  if (path === '/__fixture') {
    if (url.searchParams.has('prometheus')) state.prometheus = url.searchParams.get('prometheus') !== 'down';
    if (url.searchParams.has('empty')) state.empty = url.searchParams.get('empty') === '1';
    if (url.searchParams.has('fail')) state.fail = url.searchParams.get('fail') ?? '';
    res.end(JSON.stringify(state));
    return;
  }
  if (path.startsWith('/prefix/')) path = path.slice('/prefix'.length);
  if (path.startsWith('/api/')) {
    const [status, body] = api(path, url.searchParams);
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
    res.end(text);
    return;
  }
  const file = normalize(join(root, path === '/' ? 'index.html' : path));
  if (!file.startsWith(root)) {
    res.writeHead(403).end();
    return;
  }
  try {
    const data = await readFile(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(data);
  } catch {
    res.writeHead(404).end('not found');
  }
}).listen(port, '127.0.0.1', () => console.log(`fixture server on http://127.0.0.1:${port}/ (and /prefix/)`));
