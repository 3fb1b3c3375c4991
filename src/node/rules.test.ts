import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { meshReservedPorts, renderPodRules } from './rules.js';

const svc = (endpoints: Array<{ ip: string; port: number }>) => [
  { name: 'plain/web:8080', clusterIP: '10.96.0.20', port: 8080, protocol: 'TCP' as const, endpoints },
];

describe('pod rules', () => {
  it('spreads a service over its endpoints with decreasing probabilities, last one unconditional', () => {
    const rules = renderPodRules(
      svc([
        { ip: '10.244.0.2', port: 8080 },
        { ip: '10.244.0.3', port: 8080 },
        { ip: '10.244.0.4', port: 8080 },
      ]),
    );
    const dnat = rules.split('\n').filter((l) => l.includes('DNAT --to-destination 10.244'));
    assert.equal(dnat.length, 3);
    assert.match(dnat[0], /--probability 0\.33333 -j DNAT --to-destination 10\.244\.0\.2:8080$/);
    assert.match(dnat[1], /--probability 0\.50000 -j DNAT --to-destination 10\.244\.0\.3:8080$/);
    assert.doesNotMatch(dnat[2], /probability/);
  });

  it('rejects connections to a service without endpoints instead of letting them hang', () => {
    const rules = renderPodRules(svc([]));
    assert.match(rules, /-A VIRTMESH-SERVICES-REJ -d 10\.96\.0\.20\/32 -p tcp -m tcp --dport 8080 .* -j REJECT/);
    assert.doesNotMatch(rules, /DNAT --to-destination 10\.244/);
  });

  it('forwards only the declared ports to the guest', () => {
    const rules = renderPodRules([], { guestIP: '10.0.2.2', gatewayIP: '10.0.2.1', bridge: 'k6t-eth0', ports: [{ port: 8080, protocol: 'TCP' }] });
    assert.match(rules, /-A PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10\.0\.2\.2/);
    assert.equal(rules.split('\n').filter((l) => l.startsWith('-A PREROUTING -i eth0')).length, 1);
    assert.match(rules, /-A POSTROUTING -s 10\.0\.2\.2\/32 -o eth0 -j MASQUERADE/);
  });

  it('forwards every port but the mesh reserved ones when none are declared', () => {
    const rules = renderPodRules([], { guestIP: '10.0.2.2', gatewayIP: '10.0.2.1', bridge: 'k6t-eth0' });
    const inbound = rules.split('\n').filter((l) => l.startsWith('-A PREROUTING -i eth0'));
    assert.deepEqual(
      inbound.map((l) => l.split(' ')[5]),
      ['tcp', 'udp'],
    );
    for (const l of inbound) assert.ok(l.includes(`! --dports ${meshReservedPorts.join(',')}`));
  });

  it('comments cannot break out of their quotes', () => {
    const rules = renderPodRules([{ ...svc([])[0], name: 'a"b\\c' }]);
    assert.match(rules, /--comment "abc"/);
  });
});
