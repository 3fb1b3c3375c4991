import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseStandInNames, standInAddress } from './external-stand-in.js';
import { Ipam } from './ipam.js';

describe('external stand-in', () => {
  it("takes the pod CIDR's last usable address, which the pod IPAM never hands out", () => {
    assert.equal(standInAddress('10.244.0.0/24'), '10.244.0.254');
    assert.equal(standInAddress('10.244.1.16/28'), '10.244.1.30');
    const dir = mkdtempSync(join(tmpdir(), 'virtmesh-standin-'));
    try {
      const ipam = new Ipam(join(dir, 'ipam.json'), '10.244.1.16/28');
      const given = Array.from({ length: 12 }, (_, i) => ipam.allocate(`p${i}`));
      assert.equal(given.at(-1), '10.244.1.29');
      assert.throws(() => ipam.allocate('one-more'), /no free pod address left/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a comma-separated list of host names and refuses anything else with the setting named', () => {
    assert.deepEqual(parseStandInNames(' kubevirt.io, Example.ORG ,'), ['kubevirt.io', 'example.org']);
    assert.deepEqual(parseStandInNames(''), []);
    assert.throws(() => parseStandInNames('kubevirt.io,bad name'), {
      code: 'VM_ERR_CLUSTER_BAD_STAND_IN',
      message: 'VIRTMESH_EXTERNAL_STAND_IN: "bad name" is not a host name with a domain (expected names like kubevirt.io, separated by commas)',
    });
    assert.throws(() => parseStandInNames('localhost'), /"localhost" is not a host name with a domain/);
    assert.throws(() => parseStandInNames('10.1.2.3'), /"10.1.2.3" is not a host name/);
    assert.throws(() => parseStandInNames('web.shop.svc.cluster.local'), /inside the cluster domain cluster.local/);
  });
});
