// `cluster up`, five VMIs, `cluster down`, ten times over: after each round no
// namespace, link, rule, process, file or directory of the cluster is left.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, leftovers, startVmCluster, testVmi } from './helpers/vm-cluster.js';

const ROUNDS = Number(process.env.VIRTMESH_TEST_TEARDOWN_ROUNDS ?? 10);

describe('teardown', { timeout: 1_200_000 }, () => {
  it(`leaves nothing behind after ${ROUNDS} rounds of up, five VMIs, down`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const c = await startVmCluster();
      const { tag, stateDir } = c;
      try {
        for (let i = 0; i < 5; i++) await c.k(['create', '-f', '-'], testVmi(`vm${i}`, { memory: '64M' }));
        await eventually(
          `five VMIs Running (round ${round})`,
          async () => {
            const phases = (await c.k(['get', 'vmi', '-o', 'jsonpath={.items[*].status.phase}'])).split(' ');
            return phases.length === 5 && phases.every((p) => p === 'Running');
          },
          120_000,
          1000,
        );
      } finally {
        await c.down();
      }
      assert.deepEqual(leftovers(tag, stateDir), [], `round ${round}`);
    }
  });
});
