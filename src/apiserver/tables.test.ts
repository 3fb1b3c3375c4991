import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findByKind } from './resources.js';
import { humanDuration, toTable } from './tables.js';

describe('humanDuration (the AGE column)', () => {
  const s = 1000;
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [120 * s, '2m'],
    [253 * s, '4m13s'],
    [600 * s, '10m'],
    [179 * 60 * s, '179m'],
    [3 * 3600 * s, '3h'],
    [(3 * 3600 + 5 * 60) * s, '3h5m'],
    [30 * 3600 * s, '30h'],
    [50 * 3600 * s, '2d2h'],
    [10 * 86400 * s, '10d'],
    [800 * 86400 * s, '2y70d'],
  ];
  for (const [ms, want] of cases) it(`${ms / 1000}s -> ${want}`, () => assert.equal(humanDuration(ms), want));
});

describe('toTable', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const created = '2026-01-01T00:05:47Z';
  it('prints pods as kubectl shows them, Init:0/3 while init containers have not run', () => {
    const pod = (status: object, extra: object = {}) => ({
      metadata: { name: 'virt-launcher-istio-vmi-x', creationTimestamp: created },
      spec: { containers: [{}, {}, {}], ...extra },
      status,
    });
    const def = findByKind('', 'Pod');
    assert.ok(def);
    const running = toTable(
      def,
      [pod({ phase: 'Running', containerStatuses: [1, 2, 3].map(() => ({ ready: true, restartCount: 0, state: { running: {} } })) })],
      { now },
    );
    assert.deepEqual((running.rows as Array<{ cells: unknown[] }>)[0].cells.slice(0, 5), ['virt-launcher-istio-vmi-x', '3/3', 'Running', 0, '4m13s']);
    const init = toTable(def, [pod({ phase: 'Pending' }, { initContainers: [{}, {}, {}] })], { now });
    assert.equal((init.rows as Array<{ cells: unknown[] }>)[0].cells[2], 'Init:0/3');
  });
  it('prints a VMI with the KubeVirt CRD columns', () => {
    const def = findByKind('kubevirt.io', 'VirtualMachineInstance');
    assert.ok(def);
    const t = toTable(
      def,
      [
        {
          metadata: { name: 'istio-vmi', creationTimestamp: created },
          status: { phase: 'Running', nodeName: 'node01', interfaces: [{ ipAddress: '10.244.0.5' }], conditions: [{ type: 'Ready', status: 'True' }] },
        },
      ],
      { now },
    );
    assert.deepEqual(
      (t.columnDefinitions as Array<{ name: string; priority: number }>).filter((c) => c.priority === 0).map((c) => c.name),
      ['Name', 'Age', 'Phase', 'IP', 'NodeName', 'Ready'],
    );
    assert.deepEqual((t.rows as Array<{ cells: unknown[] }>)[0].cells.slice(0, 6), ['istio-vmi', '4m13s', 'Running', '10.244.0.5', 'node01', 'True']);
  });
});
