import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterRuntime, endpointForFlow } from './cluster.js';
import type { Cluster, LbEndpoint } from './config.js';

const base: Cluster = { name: 'c', type: 'EDS', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000 };
const eps = (...ports: number[]): LbEndpoint[] => ports.map((port) => ({ address: '10.0.0.1', port, healthStatus: 'HEALTHY' }));
const pickPorts = (c: ClusterRuntime, n: number, now = 0) => Array.from({ length: n }, () => c.pick(undefined, now)?.port);

describe('load balancing', () => {
  it('ROUND_ROBIN takes the healthy endpoints in turn', () => {
    const c = new ClusterRuntime(base);
    c.setEndpoints([...eps(1, 2), { address: '10.0.0.1', port: 3, healthStatus: 'UNHEALTHY' }, { address: '10.0.0.1', port: 4, healthStatus: 'DRAINING' }]);
    assert.deepEqual(pickPorts(c, 4), [1, 2, 1, 2]);
  });

  it('LEAST_REQUEST prefers the endpoint with fewer requests in flight (power of two choices)', () => {
    const c = new ClusterRuntime({ ...base, lbPolicy: 'LEAST_REQUEST' });
    c.setEndpoints(eps(1, 2));
    c.endpoints[0].activeRequests = 5;
    const picks = pickPorts(c, 200);
    // Only a draw of the busy endpoint twice picks it: about a quarter of the time.
    const busy = picks.filter((p) => p === 1).length;
    assert.ok(busy > 0 && busy < 100, `busy endpoint picked ${busy} of 200 times`);
  });

  it('RANDOM reaches every endpoint', () => {
    const c = new ClusterRuntime({ ...base, lbPolicy: 'RANDOM' });
    c.setEndpoints(eps(1, 2, 3));
    assert.deepEqual(new Set(pickPorts(c, 300)), new Set([1, 2, 3]));
  });

  it('a retry avoids the endpoints already tried while others remain', () => {
    const c = new ClusterRuntime(base);
    c.setEndpoints(eps(1, 2, 3));
    const first = c.pick(undefined, 0)!;
    for (let i = 0; i < 10; i++) assert.notEqual(c.pick([first], 0), first);
    assert.equal(c.pick(c.endpoints, 0) !== undefined, true, 'all tried: any endpoint again');
  });

  it('no healthy endpoint: nothing to pick', () => {
    const c = new ClusterRuntime(base);
    c.setEndpoints([{ address: '10.0.0.1', port: 1, healthStatus: 'UNHEALTHY' }]);
    assert.equal(c.pick(undefined, 0), undefined);
  });

  it('ejects an endpoint after consecutive errors, for a growing time, and falls back to all when all are out', () => {
    const c = new ClusterRuntime({ ...base, consecutiveErrors: 2, baseEjectionTimeMs: 1000 });
    c.setEndpoints(eps(1, 2));
    const [a] = c.endpoints;
    c.noteResult(a, true, 0);
    assert.equal(a.ejectedUntil, 0, 'one error is not enough');
    c.noteResult(a, true, 0);
    assert.equal(a.ejectedUntil, 1000);
    assert.deepEqual(new Set(pickPorts(c, 10, 500)), new Set([2]));
    assert.deepEqual(new Set(pickPorts(c, 10, 1500)), new Set([1, 2]), 'back after the ejection time');
    c.noteResult(a, true, 2000);
    c.noteResult(a, true, 2000);
    assert.equal(a.ejectedUntil, 4000, 'the second ejection lasts twice as long');
  });

  it('keeps endpoint state across EDS updates for endpoints that stay', () => {
    const c = new ClusterRuntime(base);
    c.setEndpoints(eps(1, 2));
    const kept = c.endpoints[0];
    kept.activeRequests = 3;
    c.setEndpoints(eps(1, 3));
    assert.equal(c.endpoints[0], kept);
    assert.equal(c.endpoints[0].activeRequests, 3);
  });

  it('fixed and original destinations: inbound goes to loopback, outbound to the original address', () => {
    const inbound = new ClusterRuntime({ ...base, type: 'ORIGINAL_DST' });
    const dst = { address: '10.244.0.5', port: 8080 };
    assert.equal(endpointForFlow(inbound, { direction: 'INBOUND', dst }, undefined, 0)?.key, '127.0.0.1:8080');
    assert.equal(endpointForFlow(inbound, { direction: 'OUTBOUND', dst }, undefined, 0)?.key, '10.244.0.5:8080');
    const pinned = new ClusterRuntime({ ...base, type: 'STATIC', upstreamAddress: '127.0.0.1', upstreamPort: 9000 });
    assert.equal(endpointForFlow(pinned, { direction: 'INBOUND', dst }, undefined, 0)?.key, '127.0.0.1:9000');
  });
});
