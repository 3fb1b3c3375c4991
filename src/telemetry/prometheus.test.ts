// The graph, metrics and health queries against the real Prometheus (Debian's
// package), scraping two sidecars' metrics as virtmesh's proxy renders them: cirros-vmi
// calling istio-vmi-svc -> istio-vmi, and istio-vmi calling out through PassthroughCluster.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { IstioMetrics, type ServiceLabels } from '../proxy/metrics.js';
import type { GraphResponse } from './api.js';
import { buildGraph } from './graph.js';
import { requestRatesByWorkloadAndService, workloadHealth } from './health.js';
import { workloadMetrics } from './metrics.js';
import type { PrometheusClient } from './prometheus-client.js';
import { PROMETHEUS_BINARY, type SidecarMetricsServer, serveSidecarMetrics, startTestPrometheus, type TestPrometheus, workloadMeta } from './testing.js';

describe('against the real Prometheus', { skip: existsSync(PROMETHEUS_BINARY) ? false : `${PROMETHEUS_BINARY} is not installed`, timeout: 60_000 }, () => {
  let prometheus: TestPrometheus | undefined;
  let sidecars: SidecarMetricsServer | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let prom: PrometheusClient;
  const log = () => prometheus?.log() ?? '';
  /** The rate window: short, so that the test waits little for Prometheus to hold a full one. */
  const WINDOW = 5;

  before(async () => {
    // Two sidecars' metrics, counted as the proxy counts them.
    const cirros = workloadMeta('cirros-vmi');
    const istio = workloadMeta('istio-vmi');
    const svc: ServiceLabels = { host: 'istio-vmi-svc.default.svc.cluster.local', name: 'istio-vmi-svc', namespace: 'default' };
    const passthrough: ServiceLabels = { host: 'kubevirt.io', name: 'PassthroughCluster', namespace: 'unknown' };
    const atCirros = new IstioMetrics();
    const atIstio = new IstioMetrics();
    const outHttp = atCirros.labelPrefix('source', 'http', cirros, istio, svc);
    const inHttp = atIstio.labelPrefix('destination', 'http', cirros, istio, svc);
    const outPassthrough = atIstio.labelPrefix('source', 'http', istio, undefined, passthrough);
    // Plaintext TCP: the destination cannot tell who connected.
    const outTcp = atCirros.tcpSeries(atCirros.labelPrefix('source', 'tcp', cirros, istio, svc), 'source', 0);
    const inTcp = atIstio.tcpSeries(atIstio.labelPrefix('destination', 'tcp', undefined, istio, svc), 'destination', 0);
    outTcp.opened = inTcp.opened = 1;
    let tick = 0;
    const step = () => {
      tick++;
      atCirros.recordRequest(outHttp, 'source', 200, 0, 12, 100, 400);
      atIstio.recordRequest(inHttp, 'destination', 200, 0, 10, 100, 400);
      if (tick % 5 === 0) atIstio.recordRequest(outPassthrough, 'source', 200, 0, 80, 50, 2000);
    };
    step();
    ticker = setInterval(step, 200);
    const started = Date.now();
    sidecars = await serveSidecarMetrics(
      new Map([
        ['cirros', atCirros],
        ['istio', atIstio],
      ]),
      () => {
        // TCP bytes grow smoothly with time, so both sidecars' rates agree as real byte counts of one connection do.
        const bytes = (Date.now() - started) * 5;
        outTcp.sent = inTcp.received = bytes;
        outTcp.received = inTcp.sent = bytes * 3;
      },
    );
    prometheus = await startTestPrometheus({ target: sidecars.target, sidecars: ['cirros', 'istio'] });
    prom = prometheus.client;
  });

  after(async () => {
    clearInterval(ticker);
    await prometheus?.close();
    await sidecars?.close();
  });

  /**
   * The graph once Prometheus holds a full rate window of scrapes of both sidecars (rates over
   * a partial one come out low; Prometheus starts scraping a few seconds after it is ready).
   */
  async function graphWhenReady(): Promise<GraphResponse> {
    const deadline = Date.now() + 25_000;
    for (;;) {
      const counts = await prom.query(`count_over_time(istio_requests_total{reporter="destination"}[${WINDOW}s]) >= ${WINDOW}`);
      const tcp = await prom.query(`count_over_time(istio_tcp_sent_bytes_total[${WINDOW}s]) >= ${WINDOW}`);
      if (counts.length > 0 && tcp.length === 2) break;
      if (Date.now() > deadline) assert.fail(`Prometheus holds no full window of scrapes after 25 s\n${log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // A scrape delayed on a busy machine skews one sidecar's TCP rate over so short a window, and the
    // destination's "unknown" bytes then outgrow the source's by more than the tolerance: such a
    // moment passes, a real double count would not.
    for (;;) {
      const g = await buildGraph(prom, { namespaces: ['default'], graphType: 'workload', duration: WINDOW });
      const ids = g.elements.edges.map((e) => e.data.id);
      const unknown = g.elements.nodes.some((n) => n.data.id === 'unknown');
      if (ids.length >= 4 && ids.includes('wl:default:istio-vmi>svc:default:PassthroughCluster:http') && !unknown) return g;
      if (Date.now() > deadline) assert.fail(`no full graph without an unknown source after 25 s: ${ids.join(', ')}\n${log()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  it('builds the workload graph with rates counted once', async () => {
    const g = await graphWhenReady();
    assert.deepEqual(
      g.elements.nodes.map((n) => n.data.id),
      ['box:ns:default', 'svc:default:PassthroughCluster', 'svc:default:istio-vmi-svc', 'wl:default:cirros-vmi', 'wl:default:istio-vmi'],
    );
    assert.deepEqual(
      g.elements.edges.map((e) => e.data.id),
      [
        'svc:default:istio-vmi-svc>wl:default:istio-vmi:http',
        'svc:default:istio-vmi-svc>wl:default:istio-vmi:tcp',
        'wl:default:cirros-vmi>svc:default:istio-vmi-svc:http',
        'wl:default:cirros-vmi>svc:default:istio-vmi-svc:tcp',
        'wl:default:istio-vmi>svc:default:PassthroughCluster:http',
      ],
    );
    const edge = (id: string) => g.elements.edges.find((e) => e.data.id === id)?.data;
    // 5 requests/s: once, not twice (both sidecars report them).
    const http = edge('wl:default:cirros-vmi>svc:default:istio-vmi-svc:http');
    assert.ok(http?.http && http.http.rate > 3 && http.http.rate < 7, `rate ${http?.http?.rate}`);
    assert.ok(http?.responseTimeP95 && http.responseTimeP95 > 5 && http.responseTimeP95 <= 10, `p95 ${http?.responseTimeP95}`);
    // The same p95 Prometheus's own histogram_quantile gives for that pair at that moment (empty low buckets included).
    const [own] = await prom.query(
      `histogram_quantile(0.95, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",source_workload="cirros-vmi",destination_workload="istio-vmi"}[${g.duration}s])) by (le))`,
      g.timestamp,
    );
    assert.ok(Math.abs(Number(own.value[1]) - (http?.responseTimeP95 ?? 0)) < 0.01, `p95 ${http?.responseTimeP95}, Prometheus says ${own.value[1]}`);
    assert.equal(http?.health, 'healthy');
    const out = edge('wl:default:istio-vmi>svc:default:PassthroughCluster:http')?.http?.rate ?? 0;
    assert.ok(out > 0.5 && out < 1.5, `passthrough rate ${out}`);
    const tcp = edge('wl:default:cirros-vmi>svc:default:istio-vmi-svc:tcp')?.tcp?.bytesPerSec ?? 0;
    assert.ok(tcp > 10_000 && tcp < 30_000, `tcp ${tcp} B/s`);
    assert.equal(g.elements.nodes.find((n) => n.data.id === 'wl:default:cirros-vmi')?.data.isRoot, true);
  });

  it('answers the metrics and health queries (every PromQL parses and selects)', async () => {
    await graphWhenReady();
    const m = await workloadMetrics(prom, {
      namespace: 'default',
      workload: 'istio-vmi',
      direction: 'inbound',
      reporter: 'destination',
      duration: 30,
      step: 2,
      rateInterval: `${WINDOW}s`,
      quantiles: ['0.5', '0.95'],
      byLabels: ['source_workload'],
    });
    const count = m.request_count?.[0];
    assert.deepEqual(count?.labels, { source_workload: 'cirros-vmi' });
    assert.ok(count?.datapoints.some(([, v]) => v > 0));
    assert.deepEqual(
      m.request_duration_millis?.map((s) => s.stat),
      ['avg', '0.5', '0.95'],
    );
    assert.ok((m.request_throughput?.[0]?.datapoints.at(-1)?.[1] ?? 0) > 0);
    assert.deepEqual(m.request_error_count, []);
    assert.ok((m.tcp_received?.[0]?.datapoints.at(-1)?.[1] ?? 0) > 0);

    const rates = await requestRatesByWorkloadAndService(prom, ['default'], WINDOW);
    assert.equal(workloadHealth(rates, 'default', 'istio-vmi').health, 'healthy');
    assert.equal(workloadHealth(rates, 'default', 'cirros-vmi').health, 'healthy');
    assert.ok((rates.services.get('default/istio-vmi-svc')?.rate ?? 0) > 3);
  });
});
