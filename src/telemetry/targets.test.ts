import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../client/index.js';
import { scrapeTargets } from './targets.js';

function pod(
  name: string,
  o: { phase?: string; ip?: string; annotations?: Record<string, string>; labels?: Record<string, string>; deleting?: boolean } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      labels: o.labels ?? {},
      annotations: o.annotations ?? { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020', 'prometheus.io/path': '/stats/prometheus' },
      ...(o.deleting ? { deletionTimestamp: '2026-12-04T00:00:00Z' } : {}),
    },
    status: { phase: o.phase ?? 'Running', podIP: o.ip ?? '10.244.0.2' },
  } as KubeObject;
}

describe('Prometheus service discovery of the pods to scrape', () => {
  it('lists running pods that ask to be scraped, at their annotated port and path, labelled as Istio labels them', () => {
    const groups = scrapeTargets([pod('b', { ip: '10.244.0.3', labels: { app: 'istio-vmi', 'kubevirt.io/created-by': 'x', '9lives': 'y' } }), pod('a')]);
    assert.deepEqual(groups, [
      { targets: ['10.244.0.2:15020'], labels: { namespace: 'default', pod: 'a', __metrics_path__: '/stats/prometheus' } },
      {
        targets: ['10.244.0.3:15020'],
        labels: { app: 'istio-vmi', kubevirt_io_created_by: 'x', _9lives: 'y', namespace: 'default', pod: 'b', __metrics_path__: '/stats/prometheus' },
      },
    ]);
  });

  it('leaves out pods not asking, not running, without an address or being deleted; defaults port 80 and /metrics', () => {
    assert.deepEqual(
      scrapeTargets([
        pod('quiet', { annotations: {} }),
        pod('pending', { phase: 'Pending' }),
        pod('noip', { ip: '' }),
        pod('going', { deleting: true }),
        pod('plain', { annotations: { 'prometheus.io/scrape': 'true' } }),
      ]),
      [{ targets: ['10.244.0.2:80'], labels: { namespace: 'default', pod: 'plain', __metrics_path__: '/metrics' } }],
    );
  });
});
