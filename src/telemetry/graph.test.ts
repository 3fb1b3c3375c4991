import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { EdgeData, GraphResponse, NodeData } from './api.js';
import { buildGraph, type GraphOptions, type GraphSamples, graphFromSamples, graphQueries } from './graph.js';
import type { PrometheusApi, PromResponse, PromSample } from './prometheus-client.js';

// The walkthrough's traffic as Prometheus answers the graph's queries: cirros-vmi calls
// istio-vmi-svc -> istio-vmi at 1 rps (reported by both sidecars), istio-vmi calls
// kubevirt.io through PassthroughCluster at 0.1 rps, the node calls istio-vmi-svc at
// 0.05 rps (source unknown), and cirros-vmi holds a plaintext TCP connection to istio-vmi.
const dir = new URL('./testdata/walkthrough/', import.meta.url);
const MEMBERS = ['requests', 'durationBuckets', 'requestBytes', 'responseBytes', 'tcpSent', 'tcpReceived'] as const;
const answer = (name: string) => (JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as PromResponse).data?.result as PromSample[];
const walkthrough = (): GraphSamples => Object.fromEntries(MEMBERS.map((m) => [m, answer(m)])) as unknown as GraphSamples;

const T = 1700000000;
const base: GraphOptions & { queryTime: number } = { namespaces: ['default'], graphType: 'workload', duration: 60, queryTime: T };

const node = (g: GraphResponse, id: string): NodeData => {
  const n = g.elements.nodes.find((x) => x.data.id === id)?.data;
  assert.ok(n, `node ${id} in ${g.elements.nodes.map((x) => x.data.id).join(', ')}`);
  return n;
};
const edge = (g: GraphResponse, id: string): EdgeData => {
  const e = g.elements.edges.find((x) => x.data.id === id)?.data;
  assert.ok(e, `edge ${id} in ${g.elements.edges.map((x) => x.data.id).join(', ')}`);
  return e;
};
const nodeIds = (g: GraphResponse) => g.elements.nodes.map((n) => n.data.id);
const edgeIds = (g: GraphResponse) => g.elements.edges.map((e) => e.data.id);

/** A request series like the fixtures' (for variants of the walkthrough). */
function requestSample(reporter: string, code: string, flags: string, rate: number, to = 'istio-vmi'): PromSample {
  const template = walkthrough().requests.find((s) => s.metric.reporter === reporter && s.metric.source_workload === 'cirros-vmi');
  assert.ok(template);
  return { metric: { ...template.metric, destination_workload: to, response_code: code, response_flags: flags }, value: [T, String(rate)] };
}

describe('graph from recorded Prometheus answers (the walkthrough)', () => {
  it('matches the golden workload graph (UPDATE_GOLDEN=1 rewrites it)', () => {
    const g = graphFromSamples(walkthrough(), base);
    const golden = new URL('graph-workload.golden.json', dir);
    const text = `${JSON.stringify(g, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden, text);
    assert.deepEqual(g, JSON.parse(readFileSync(golden, 'utf8')));
  });

  it('draws workloads, the service between them, PassthroughCluster and the unknown source, with readable ids', () => {
    const g = graphFromSamples(walkthrough(), base);
    assert.deepEqual(nodeIds(g), [
      'box:ns:default',
      'svc:default:PassthroughCluster',
      'svc:default:istio-vmi-svc',
      'unknown',
      'wl:default:cirros-vmi',
      'wl:default:istio-vmi',
    ]);
    assert.deepEqual(edgeIds(g), [
      'svc:default:istio-vmi-svc>wl:default:istio-vmi:http',
      'svc:default:istio-vmi-svc>wl:default:istio-vmi:tcp',
      'unknown>svc:default:istio-vmi-svc:http',
      'wl:default:cirros-vmi>svc:default:istio-vmi-svc:http',
      'wl:default:cirros-vmi>svc:default:istio-vmi-svc:tcp',
      'wl:default:istio-vmi>svc:default:PassthroughCluster:http',
    ]);
    const pt = node(g, 'svc:default:PassthroughCluster');
    assert.equal(pt.isPassthrough, true);
    assert.equal(pt.label, 'PassthroughCluster');
    assert.equal(pt.parent, 'box:ns:default', 'in the source workload namespace');
    const unknown = node(g, 'unknown');
    assert.equal(unknown.nodeType, 'unknown');
    assert.equal(unknown.label, 'unknown');
    assert.equal(unknown.parent, undefined);
    const box = node(g, 'box:ns:default');
    assert.equal(box.nodeType, 'box');
    assert.equal(box.isBox, 'namespace');
    for (const id of ['wl:default:cirros-vmi', 'wl:default:istio-vmi', 'svc:default:istio-vmi-svc']) assert.equal(node(g, id).parent, 'box:ns:default');
    assert.equal(node(g, 'wl:default:istio-vmi').app, 'istio-vmi');
    assert.equal(node(g, 'wl:default:istio-vmi').hasSidecar, true, 'it reported metrics, so it runs a sidecar');
  });

  it('counts a request reported by both sidecars once, from the destination', () => {
    const g = graphFromSamples(walkthrough(), base);
    const e = edge(g, 'wl:default:cirros-vmi>svc:default:istio-vmi-svc:http');
    assert.equal(e.http?.rate, 1);
    assert.deepEqual(e.responses, { 200: { '-': 1 } });
    // The destination's histogram, not the source's (which would give 37.5).
    assert.equal(e.responseTimeP95, 17.5);
    assert.equal(e.throughput, 380);
    assert.equal(e.mtlsPercent, 0);
    assert.equal(e.health, 'healthy');
    const into = edge(g, 'svc:default:istio-vmi-svc>wl:default:istio-vmi:http');
    assert.equal(into.http?.rate, 1.05, 'cirros-vmi and the unknown source');
    assert.equal(node(g, 'wl:default:istio-vmi').traffic?.http?.rate, 1.05);
    assert.equal(edge(g, 'wl:default:istio-vmi>svc:default:PassthroughCluster:http').http?.rate, 0.1, 'only the source reports Passthrough traffic');
  });

  it('takes TCP bytes from the source sidecar and leaves no phantom "unknown" TCP source', () => {
    const g = graphFromSamples(walkthrough(), base);
    assert.equal(edge(g, 'wl:default:cirros-vmi>svc:default:istio-vmi-svc:tcp').tcp?.bytesPerSec, 500);
    assert.ok(!edgeIds(g).some((id) => id.startsWith('unknown>') && id.endsWith(':tcp')));
    // A client without a sidecar sending more than the meshed ones did: the rest is drawn from unknown.
    const s = walkthrough();
    s.tcpSent = (s.tcpSent ?? []).map((x) => (x.metric.reporter === 'destination' ? { ...x, value: [T, '1401'] as [number, string] } : x));
    assert.equal(edge(graphFromSamples(s, base), 'unknown>svc:default:istio-vmi-svc:tcp').tcp?.bytesPerSec, 1000);
  });

  it('marks roots, sums node traffic over inbound edges (roots: outbound) and judges health', () => {
    const g = graphFromSamples(walkthrough(), base);
    assert.equal(node(g, 'wl:default:cirros-vmi').isRoot, true);
    assert.equal(node(g, 'unknown').isRoot, true);
    assert.equal(node(g, 'wl:default:istio-vmi').isRoot, undefined);
    assert.equal(node(g, 'wl:default:cirros-vmi').traffic?.http?.rate, 1);
    assert.equal(node(g, 'wl:default:cirros-vmi').traffic?.tcp?.bytesPerSec, 500);
    for (const n of g.elements.nodes) if (n.data.nodeType !== 'box') assert.equal(n.data.health, 'healthy', n.data.id);
  });

  it('turns 5xx into degraded and failure, counting flag-only failures the destination never saw', () => {
    const degraded = walkthrough();
    degraded.requests = degraded.requests.map((s) =>
      s.metric.reporter === 'destination' && s.metric.source_workload === 'cirros-vmi' ? { ...s, value: [T, '0.95'] as [number, string] } : s,
    );
    degraded.requests.push(requestSample('destination', '503', '-', 0.05));
    let g = graphFromSamples(degraded, base);
    let e = edge(g, 'wl:default:cirros-vmi>svc:default:istio-vmi-svc:http');
    assert.equal(e.health, 'degraded');
    assert.equal(e.http?.rate5xx, 0.05);
    assert.equal(e.http?.percentErr, 5);
    assert.equal(node(g, 'wl:default:cirros-vmi').healthReason, '5xx 5% > 0%');

    // Connect failures reported only by cirros's sidecar (UF, no response code): 0.2 of 1.15 is 17.4%.
    degraded.requests.push(requestSample('source', '0', 'UF', 0.2), requestSample('source', '503', 'UF', 0.1));
    g = graphFromSamples(degraded, base);
    e = edge(g, 'wl:default:cirros-vmi>svc:default:istio-vmi-svc:http');
    assert.equal(e.http?.rate, 1.3);
    assert.deepEqual(e.responses, { 0: { UF: 0.2 }, 200: { '-': 0.95 }, 503: { '-': 0.05, UF: 0.1 } });
    assert.equal(e.health, 'failure');
    const root = node(g, 'wl:default:cirros-vmi');
    assert.equal(root.health, 'failure');
    assert.equal(root.healthReason, '5xx 26.9% >= 10%');
  });

  it('uses the source report for a destination without a sidecar', () => {
    const s = walkthrough();
    s.requests.push(requestSample('source', '200', '-', 0.5, 'plain-vm'));
    const g = graphFromSamples(s, base);
    assert.equal(edge(g, 'svc:default:istio-vmi-svc>wl:default:plain-vm:http').http?.rate, 0.5);
  });

  it('draws app, versioned app and service graphs', () => {
    const app = graphFromSamples(walkthrough(), { ...base, graphType: 'app' });
    assert.deepEqual(
      nodeIds(app).filter((id) => id.startsWith('app:')),
      ['app:default:cirros-vmi', 'app:default:istio-vmi'],
    );
    assert.equal(edge(app, 'app:default:cirros-vmi>svc:default:istio-vmi-svc:http').http?.rate, 1);

    const noSvc = graphFromSamples(walkthrough(), { ...base, graphType: 'app', injectServiceNodes: false });
    assert.equal(edge(noSvc, 'app:default:cirros-vmi>app:default:istio-vmi:http').http?.rate, 1);
    assert.ok(nodeIds(noSvc).includes('svc:default:PassthroughCluster'), 'no workload behind it: the service node stays');

    const versioned = graphFromSamples(walkthrough(), { ...base, graphType: 'versionedApp' });
    const v = node(versioned, 'vapp:default:istio-vmi:latest');
    assert.equal(v.parent, 'box:app:default:istio-vmi');
    assert.equal(v.version, 'latest');
    assert.equal(node(versioned, 'box:app:default:istio-vmi').parent, 'box:ns:default');
    assert.equal(node(versioned, 'box:app:default:istio-vmi').isBox, 'app');

    const svc = graphFromSamples(walkthrough(), { ...base, graphType: 'service' });
    assert.deepEqual(nodeIds(svc), ['box:ns:default', 'svc:default:PassthroughCluster', 'svc:default:istio-vmi-svc', 'unknown', 'wl:default:cirros-vmi']);
    // istio-vmi receives through istio-vmi-svc, so its outbound traffic leaves from there.
    assert.equal(edge(svc, 'svc:default:istio-vmi-svc>svc:default:PassthroughCluster:http').http?.rate, 0.1);
    assert.equal(edge(svc, 'wl:default:cirros-vmi>svc:default:istio-vmi-svc:http').http?.rate, 1);
  });

  it('adds idle workloads and services, marks missing sidecars and nodes outside the namespaces', () => {
    const g = graphFromSamples(walkthrough(), {
      ...base,
      includeIdle: true,
      knownWorkloads: [
        { namespace: 'default', name: 'istio-vmi', app: 'istio-vmi', hasSidecar: true },
        { namespace: 'default', name: 'cirros-vmi', app: 'cirros-vmi', hasSidecar: true },
        { namespace: 'default', name: 'lonely-vmi', hasSidecar: false },
        { namespace: 'other', name: 'elsewhere', hasSidecar: true },
      ],
      knownServices: [
        { namespace: 'default', name: 'istio-vmi-svc' },
        { namespace: 'default', name: 'quiet-svc' },
      ],
    });
    const idle = node(g, 'wl:default:lonely-vmi');
    assert.equal(idle.isIdle, true);
    assert.equal(idle.hasSidecar, false);
    assert.equal(idle.health, 'na');
    assert.equal(node(g, 'svc:default:quiet-svc').isIdle, true);
    assert.equal(node(g, 'wl:default:istio-vmi').isIdle, undefined);
    assert.ok(!nodeIds(g).includes('wl:other:elsewhere'), 'idle nodes only in the namespaces asked for');
    assert.ok(
      !nodeIds(graphFromSamples(walkthrough(), { ...base, knownWorkloads: [{ namespace: 'default', name: 'lonely-vmi', hasSidecar: false }] })).includes(
        'wl:default:lonely-vmi',
      ),
    );

    // Asked only for another namespace: default's nodes are outside.
    const outside = graphFromSamples(walkthrough(), { ...base, namespaces: ['other'] });
    assert.equal(node(outside, 'wl:default:istio-vmi').isOutside, true);
    assert.equal(node(outside, 'box:ns:default').isOutside, true);
  });

  it('draws one workload node graph: only the edges into and out of it', () => {
    const g = graphFromSamples(walkthrough(), { ...base, focus: { namespace: 'default', workload: 'cirros-vmi' } });
    assert.deepEqual(edgeIds(g), [
      'svc:default:istio-vmi-svc>wl:default:istio-vmi:http',
      'svc:default:istio-vmi-svc>wl:default:istio-vmi:tcp',
      'wl:default:cirros-vmi>svc:default:istio-vmi-svc:http',
      'wl:default:cirros-vmi>svc:default:istio-vmi-svc:tcp',
    ]);
    assert.equal(edge(g, 'svc:default:istio-vmi-svc>wl:default:istio-vmi:http').http?.rate, 1, 'without the unknown source');
  });

  it('asks Prometheus with queries like Kiali, at the query time, and is deterministic', async () => {
    const asked: Array<{ q: string; t?: number }> = [];
    const samples = walkthrough();
    const queries = graphQueries(['default'], 60);
    const prom: PrometheusApi = {
      async query(q, t) {
        asked.push({ q, t });
        const member = (Object.keys(queries) as Array<keyof GraphSamples>).find((k) => queries[k] === q);
        assert.ok(member, q);
        // Prometheus returns series in no particular order.
        return [...(samples[member] ?? [])].reverse();
      },
      queryRange: () => Promise.reject(new Error('not used')),
    };
    const g = await buildGraph(prom, { ...base });
    assert.equal(asked.length, 6);
    assert.ok(asked.every((a) => a.t === T));
    assert.match(
      queries.requests,
      /^sum\(rate\(istio_requests_total\{reporter="destination",destination_service_namespace=~"default"\}\[60s\]\)\) by \(reporter,source_workload_namespace,.*response_code,response_flags,connection_security_policy\) or sum\(rate\(istio_requests_total\{reporter="source",source_workload_namespace=~"default"\}\[60s\]\)\)/,
    );
    assert.match(graphQueries(['default', 'kube-system'], 600).tcpSent, /destination_service_namespace=~"default\|kube-system"\}\[600s\]/);
    assert.deepEqual(g, graphFromSamples(walkthrough(), base));
  });
});
