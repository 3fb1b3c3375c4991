import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthFromRates, requestRatesByWorkloadAndService, responseClass, serviceHealth, workloadHealth } from './health.js';
import type { PrometheusApi, PromSample } from './prometheus-client.js';

describe('health with Kiali default tolerances', () => {
  it('judges by the share of 5xx and 4xx', () => {
    assert.deepEqual(healthFromRates({ rate: 0, rate4xx: 0, rate5xx: 0 }), { health: 'na' });
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0, rate5xx: 0 }), { health: 'healthy' });
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0, rate5xx: 0.001 }), { health: 'degraded', reason: '5xx 0.1% > 0%' });
    assert.deepEqual(healthFromRates({ rate: 8, rate4xx: 0, rate5xx: 1 }), { health: 'failure', reason: '5xx 12.5% >= 10%' });
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0, rate5xx: 0.1 }), { health: 'failure', reason: '5xx 10% >= 10%' });
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0.09, rate5xx: 0 }), { health: 'healthy' });
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0.1, rate5xx: 0 }), { health: 'degraded', reason: '4xx 10% >= 10%' });
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0.25, rate5xx: 0 }), { health: 'failure', reason: '4xx 25% >= 20%' });
    // The worse verdict wins; 5xx first on a tie.
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0.15, rate5xx: 0.01 }), { health: 'degraded', reason: '5xx 1% > 0%' });
    assert.deepEqual(healthFromRates({ rate: 1, rate4xx: 0.3, rate5xx: 0.01 }), { health: 'failure', reason: '4xx 30% >= 20%' });
  });

  it('counts responses without a code as 5xx', () => {
    assert.equal(responseClass('0'), '5xx');
    assert.equal(responseClass('-'), '5xx');
    assert.equal(responseClass('503'), '5xx');
    assert.equal(responseClass('404'), '4xx');
    assert.equal(responseClass('301'), '3xx');
    assert.equal(responseClass('200'), '2xx');
  });

  it('reads per-workload and per-service rates for the lists, one query each', async () => {
    const s = (metric: Record<string, string>, v: number): PromSample => ({ metric, value: [1700000000, String(v)] });
    const asked: string[] = [];
    const prom: PrometheusApi = {
      async query(q) {
        asked.push(q);
        if (q.includes('reporter="destination",destination_workload_namespace')) {
          return [
            s({ destination_workload_namespace: 'default', destination_workload: 'istio-vmi', response_code: '200' }, 0.9),
            s({ destination_workload_namespace: 'default', destination_workload: 'istio-vmi', response_code: '503' }, 0.1),
          ];
        }
        if (q.includes('reporter="source"')) {
          return [
            s({ source_workload_namespace: 'default', source_workload: 'cirros-vmi', response_code: '200' }, 1),
            s({ source_workload_namespace: 'default', source_workload: 'cirros-vmi', response_code: '0' }, 0.01),
          ];
        }
        const svc = { destination_service_namespace: 'default', destination_service_name: 'istio-vmi-svc', destination_workload_namespace: 'default' };
        return [
          s({ ...svc, reporter: 'destination', destination_workload: 'istio-vmi', response_code: '200' }, 1),
          s({ ...svc, reporter: 'source', destination_workload: 'istio-vmi', response_code: '200' }, 1),
          s({ ...svc, destination_service_name: 'plain-svc', reporter: 'source', destination_workload: 'unknown', response_code: '404' }, 1),
        ];
      },
      queryRange: () => Promise.reject(new Error('not used')),
    };
    const rates = await requestRatesByWorkloadAndService(prom, ['default'], 60, 1700000000);
    assert.equal(asked.length, 3);
    assert.ok(asked.every((q) => q.includes('=~"default"') && q.includes('[60s]')));
    assert.deepEqual(workloadHealth(rates, 'default', 'istio-vmi'), { health: 'failure', reason: '5xx 10% >= 10%' });
    assert.deepEqual(workloadHealth(rates, 'default', 'cirros-vmi'), { health: 'degraded', reason: '5xx 1% > 0%' });
    assert.deepEqual(workloadHealth(rates, 'default', 'idle'), { health: 'na' });
    assert.deepEqual(rates.services.get('default/istio-vmi-svc'), { rate: 1, rate4xx: 0, rate5xx: 0 }, 'counted once');
    assert.deepEqual(serviceHealth(rates, 'default', 'plain-svc'), { health: 'failure', reason: '4xx 100% >= 20%' });
  });
});
