import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsQueryError, metricsQueries, seriesFromMatrix, serviceMetrics, workloadMetrics } from './metrics.js';
import type { PrometheusApi, PromSeries } from './prometheus-client.js';

const q = { rateInterval: '1m', quantiles: ['0.5', '0.95'], byLabels: ['response_code'] };

describe('workload and service metrics', () => {
  it('builds Kiali-shaped PromQL per metric', () => {
    const queries = metricsQueries({ reporter: 'destination', destination_workload_namespace: 'default', destination_workload: 'istio-vmi' }, q);
    const by = (name: string, stat?: string) => queries.find((m) => m.name === name && m.stat === stat)?.promql;
    const sel = 'reporter="destination",destination_workload_namespace="default",destination_workload="istio-vmi"';
    assert.equal(by('request_count'), `sum(rate(istio_requests_total{${sel}}[1m])) by (response_code)`);
    assert.equal(by('request_error_count'), `sum(rate(istio_requests_total{${sel},response_code=~"[45][0-9]{2}|0"}[1m])) by (response_code)`);
    assert.equal(
      by('request_duration_millis', '0.95'),
      `histogram_quantile(0.95, sum(rate(istio_request_duration_milliseconds_bucket{${sel}}[1m])) by (le,response_code))`,
    );
    assert.equal(
      by('request_duration_millis', 'avg'),
      `sum(rate(istio_request_duration_milliseconds_sum{${sel}}[1m])) by (response_code) / sum(rate(istio_request_duration_milliseconds_count{${sel}}[1m])) by (response_code)`,
    );
    assert.equal(by('request_size', '0.5'), `histogram_quantile(0.5, sum(rate(istio_request_bytes_bucket{${sel}}[1m])) by (le,response_code))`);
    assert.equal(by('request_throughput'), `sum(rate(istio_request_bytes_sum{${sel}}[1m])) by (response_code) * 8`);
    assert.equal(by('response_throughput'), `sum(rate(istio_response_bytes_sum{${sel}}[1m])) by (response_code) * 8`);
    assert.equal(by('tcp_opened'), `sum(rate(istio_tcp_connections_opened_total{${sel}}[1m])) by (response_code)`);
    assert.equal(by('tcp_received'), `sum(rate(istio_tcp_received_bytes_total{${sel}}[1m])) by (response_code)`);
    assert.equal(queries.length, 2 + 3 * 3 + 2 + 4);
    const ungrouped = metricsQueries({ a: 'b' }, { ...q, byLabels: [] });
    assert.equal(ungrouped[0].promql, 'sum(rate(istio_requests_total{a="b"}[1m]))');
    assert.match(ungrouped.find((m) => m.stat === '0.5')?.promql ?? '', /by \(le\)\)$/);
  });

  it('refuses input that would be spliced into PromQL', () => {
    assert.throws(() => metricsQueries({}, { ...q, byLabels: ['a"}) or vector(1'] }), MetricsQueryError);
    assert.throws(() => metricsQueries({}, { ...q, quantiles: ['2'] }), MetricsQueryError);
    assert.throws(() => metricsQueries({}, { ...q, rateInterval: '1m]' }), MetricsQueryError);
    // Label values are quoted, so a name cannot break out of its string.
    assert.match(metricsQueries({ destination_workload: 'x"y' }, q)[0].promql, /destination_workload="x\\"y"/);
  });

  it('maps matrices to series: byLabels values, stats, NaN left out, sorted', () => {
    const matrix: PromSeries[] = [
      {
        metric: { response_code: '503', other: 'x' },
        values: [
          [100, '0.1'],
          [115, 'NaN'],
        ],
      },
      {
        metric: { response_code: '200' },
        values: [
          [100, '1'],
          [115, '1.5'],
        ],
      },
      { metric: { response_code: '404' }, values: [[100, 'NaN']] },
    ];
    assert.deepEqual(seriesFromMatrix(matrix, ['response_code'], '0.95'), [
      {
        labels: { response_code: '200' },
        stat: '0.95',
        datapoints: [
          [100, 1],
          [115, 1.5],
        ],
      },
      { labels: { response_code: '503' }, stat: '0.95', datapoints: [[100, 0.1]] },
    ]);
    assert.deepEqual(seriesFromMatrix([{ metric: {}, values: [[1, '2']] }], []), [{ labels: {}, datapoints: [[1, 2]] }]);
  });

  it('runs every range query at once over [queryTime - duration, queryTime] and groups the answers', async () => {
    const calls: Array<{ promql: string; start: number; end: number; step: number }> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const prom: PrometheusApi = {
      query: () => Promise.reject(new Error('not used')),
      async queryRange(promql, start, end, step) {
        calls.push({ promql, start, end, step });
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        return [{ metric: { response_code: '200' }, values: [[end, '1']] }];
      },
    };
    const m = await workloadMetrics(prom, {
      namespace: 'default',
      workload: 'cirros-vmi',
      direction: 'outbound',
      reporter: 'source',
      duration: 600,
      step: 15,
      queryTime: 1700000000,
      ...q,
    });
    assert.ok(calls.every((c) => c.start === 1699999400 && c.end === 1700000000 && c.step === 15));
    assert.ok(calls.every((c) => c.promql.includes('source_workload_namespace="default",source_workload="cirros-vmi"')));
    assert.equal(maxInFlight, calls.length);
    assert.deepEqual(m.request_count, [{ labels: { response_code: '200' }, datapoints: [[1700000000, 1]] }]);
    assert.deepEqual(
      m.request_duration_millis?.map((s) => s.stat),
      ['avg', '0.5', '0.95'],
    );

    calls.length = 0;
    await serviceMetrics(prom, {
      namespace: 'default',
      service: 'istio-vmi-svc',
      reporter: 'destination',
      duration: 60,
      step: 15,
      queryTime: 1700000000,
      ...q,
    });
    assert.ok(calls.every((c) => c.promql.includes('reporter="destination",destination_service_namespace="default",destination_service_name="istio-vmi-svc"')));
  });
});
