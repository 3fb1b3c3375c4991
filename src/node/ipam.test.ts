import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Ipam } from './ipam.js';

describe('pod IPAM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-ipam-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('hands out the lowest free address after the gateway and keeps it across restarts', () => {
    const file = join(dir, 'a.json');
    const ipam = new Ipam(file, '10.244.0.0/24');
    assert.equal(ipam.allocate('pod-a'), '10.244.0.2');
    assert.equal(ipam.allocate('pod-b'), '10.244.0.3');
    assert.equal(ipam.allocate('pod-a'), '10.244.0.2', 'the same pod keeps its address');
    const again = new Ipam(file, '10.244.0.0/24');
    assert.equal(again.lookup('pod-b'), '10.244.0.3');
    again.release('pod-a');
    assert.equal(again.allocate('pod-c'), '10.244.0.2', 'a released address is reused');
  });

  it('says when the range is used up', () => {
    const ipam = new Ipam(join(dir, 'b.json'), '10.244.1.0/29'); // .2 to .5 (.6 is the external stand-in's)
    for (let i = 0; i < 4; i++) ipam.allocate(`p${i}`);
    assert.equal(ipam.lookup('p3'), '10.244.1.5');
    assert.throws(() => ipam.allocate('one-too-many'), /no free pod address left/);
  });
});
