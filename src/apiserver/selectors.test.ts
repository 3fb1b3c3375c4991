import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFieldSelector, parseLabelSelector, selectableFields } from './selectors.js';

describe('label selectors', () => {
  const labels = { app: 'istio-vmi', tier: 'web' };
  const cases: Array<[string, boolean]> = [
    ['app=istio-vmi', true],
    ['app==istio-vmi', true],
    ['app!=istio-vmi', false],
    ['app in (a, istio-vmi)', true],
    ['app notin (istio-vmi)', false],
    ['tier', true],
    ['!tier', false],
    ['!zone', true],
    ['app=istio-vmi,tier=db', false],
    ['app in (x,istio-vmi),tier', true],
  ];
  for (const [sel, want] of cases) it(`${sel} -> ${want}`, () => assert.equal(parseLabelSelector(sel)(labels), want));
  it('rejects nonsense like kube does', () => assert.throws(() => parseLabelSelector('a b c'), /unable to parse requirement/));
});

describe('field selectors', () => {
  it('match the fields a kind supports and reject others', () => {
    const ev = { metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'VirtualMachineInstance', name: 'istio-vmi' } };
    const fields = selectableFields('Event', ev);
    const supported = Object.keys(fields);
    assert.equal(parseFieldSelector('involvedObject.name=istio-vmi,involvedObject.kind=VirtualMachineInstance', supported)(fields), true);
    assert.equal(parseFieldSelector('involvedObject.name!=istio-vmi', supported)(fields), false);
    assert.throws(() => parseFieldSelector('spec.x=1', supported), /^Error: field label not supported: spec\.x$/);
  });
});
