// The graph's elements from its nodes and accumulated edges: rates rounded, response
// codes, p95 from the summed buckets, mTLS share, node traffic, roots, health and the
// namespace and app boxes that hold the nodes.

import type { EdgeData, GraphResponse, GraphType, HttpRates, NodeData } from './api.js';
import { healthFromRates } from './health.js';
import { type Buckets, histogramQuantile } from './histogram.js';

export const ids = {
  workload: (ns: string, name: string) => `wl:${ns}:${name}`,
  service: (ns: string, name: string) => `svc:${ns}:${name}`,
  app: (ns: string, app: string) => `app:${ns}:${app}`,
  versionedApp: (ns: string, app: string, version: string) => `vapp:${ns}:${app}:${version}`,
  appBox: (ns: string, app: string) => `box:app:${ns}:${app}`,
  namespaceBox: (ns: string) => `box:ns:${ns}`,
  unknown: 'unknown',
};

export type NodeSpec = Omit<NodeData, 'health'>;

export interface EdgeAcc {
  source: string;
  target: string;
  protocol: 'http' | 'tcp';
  rate: number;
  rate3xx: number;
  rate4xx: number;
  rate5xx: number;
  mtls: number;
  responses: Record<string, Record<string, number>>;
  bytes: number;
  buckets: Buckets;
}

const round = (v: number, digits = 3) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

function httpRates(e: { rate: number; rate3xx: number; rate4xx: number; rate5xx: number }): HttpRates {
  return {
    rate: round(e.rate),
    rate3xx: round(e.rate3xx),
    rate4xx: round(e.rate4xx),
    rate5xx: round(e.rate5xx),
    percentErr: e.rate > 0 ? round((100 * (e.rate4xx + e.rate5xx)) / e.rate, 2) : 0,
  };
}

const byId = (a: { data: { id: string } }, b: { data: { id: string } }) => (a.data.id < b.data.id ? -1 : a.data.id > b.data.id ? 1 : 0);

/** The response: boxes, nodes (traffic, roots, health, outside, sidecar) and edges, all sorted by id. */
export function assemble(
  opts: { graphType: GraphType; duration: number; namespaces: string[]; queryTime: number },
  nodes: Map<string, NodeSpec>,
  edges: Map<string, EdgeAcc>,
  requested: Set<string>,
  reporters: Set<string>,
): GraphResponse {
  type Sum = { rate: number; rate3xx: number; rate4xx: number; rate5xx: number; bytes: number; n: number };
  const zero = (): Sum => ({ rate: 0, rate3xx: 0, rate4xx: 0, rate5xx: 0, bytes: 0, n: 0 });
  const inbound = new Map<string, { http: Sum; tcp: Sum }>();
  const outbound = new Map<string, { http: Sum; tcp: Sum }>();
  const add = (map: typeof inbound, id: string, e: EdgeAcc) => {
    let s = map.get(id);
    if (!s) {
      s = { http: zero(), tcp: zero() };
      map.set(id, s);
    }
    const t = s[e.protocol];
    t.rate += e.rate;
    t.rate3xx += e.rate3xx;
    t.rate4xx += e.rate4xx;
    t.rate5xx += e.rate5xx;
    t.bytes += e.bytes;
    t.n++;
  };

  const edgeOut: Array<{ data: EdgeData }> = [];
  for (const [id, e] of edges) {
    add(inbound, e.target, e);
    add(outbound, e.source, e);
    const data: EdgeData = { id, source: e.source, target: e.target, protocol: e.protocol, mtlsPercent: 0, health: 'na' };
    if (e.protocol === 'http') {
      data.http = httpRates(e);
      data.responses = Object.fromEntries(
        Object.entries(e.responses)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([code, byFlags]) => [code, Object.fromEntries(Object.entries(byFlags).map(([flags, v]) => [flags, round(v)]))]),
      );
      const p95 = histogramQuantile(0.95, e.buckets);
      if (Number.isFinite(p95)) data.responseTimeP95 = round(p95, 2);
      data.throughput = round(e.bytes);
      data.mtlsPercent = e.rate > 0 ? round((100 * e.mtls) / e.rate, 2) : 0;
      const h = healthFromRates(e);
      data.health = h.health;
    } else {
      data.tcp = { bytesPerSec: round(e.bytes) };
      data.throughput = round(e.bytes);
      data.mtlsPercent = e.bytes > 0 ? round((100 * e.mtls) / e.bytes, 2) : 0;
      data.health = e.bytes > 0 ? 'healthy' : 'na';
    }
    edgeOut.push({ data });
  }

  const nodeOut: Array<{ data: NodeData }> = [];
  const boxes = new Map<string, NodeData>();
  const box = (b: NodeData) => {
    if (!boxes.has(b.id)) boxes.set(b.id, b);
    return b.id;
  };
  const nsBox = (ns: string) =>
    box({
      id: ids.namespaceBox(ns),
      nodeType: 'box',
      isBox: 'namespace',
      namespace: ns,
      label: ns,
      health: 'na',
      ...(requested.has(ns) ? {} : { isOutside: true }),
    });

  for (const n of nodes.values()) {
    const data: NodeData = { ...n, health: 'na' };
    if (n.nodeType !== 'unknown') {
      if (!requested.has(n.namespace)) data.isOutside = true;
      const parentNs = nsBox(n.namespace);
      if (opts.graphType === 'versionedApp' && n.nodeType === 'app' && n.app) {
        data.parent = box({
          id: ids.appBox(n.namespace, n.app),
          parent: parentNs,
          nodeType: 'box',
          isBox: 'app',
          namespace: n.namespace,
          app: n.app,
          label: n.app,
          health: 'na',
        });
      } else {
        data.parent = parentNs;
      }
    }
    if (n.nodeType === 'workload' && data.hasSidecar === undefined && n.workload && reporters.has(`${n.namespace}/${n.workload}`)) data.hasSidecar = true;
    const into = inbound.get(n.id);
    const outOf = outbound.get(n.id);
    if (!into && outOf) data.isRoot = true;
    // A node's traffic and health are what reached it; a root's, what it sent.
    const t = into ?? outOf;
    if (t) {
      const traffic: NodeData['traffic'] = {};
      if (t.http.n > 0) traffic.http = httpRates(t.http);
      if (t.tcp.n > 0) traffic.tcp = { bytesPerSec: round(t.tcp.bytes) };
      data.traffic = traffic;
      const h = t.http.rate > 0 ? healthFromRates(t.http) : { health: t.tcp.bytes > 0 ? ('healthy' as const) : ('na' as const) };
      data.health = h.health;
      if ('reason' in h && h.reason) data.healthReason = h.reason;
    }
    nodeOut.push({ data });
  }

  const boxOut = [...boxes.values()].map((data) => ({ data }));
  return {
    timestamp: opts.queryTime,
    duration: opts.duration,
    graphType: opts.graphType,
    namespaces: opts.namespaces,
    // Boxes first, so a parent always precedes its children.
    elements: { nodes: [...boxOut.sort(byId), ...nodeOut.sort(byId)], edges: edgeOut.sort(byId) },
  };
}
