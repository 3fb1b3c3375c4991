import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { captureFromAnnotations, meshReservedPorts, renderPodRules } from './rules.js';

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

describe('capture rules (the istio-cni role)', () => {
  const annotations = {
    'sidecar.istio.io/status': '{}',
    'traffic.sidecar.istio.io/kubevirtInterfaces': 'k6t-eth0',
    'traffic.sidecar.istio.io/excludeInboundPorts': '15020',
    'traffic.sidecar.istio.io/includeInboundPorts': '*',
    'traffic.sidecar.istio.io/excludeOutboundPorts': '25',
  };
  const capture = captureFromAnnotations(annotations, 1337);
  const vm = { guestIP: '10.0.2.2', gatewayIP: '10.0.2.1', bridge: 'k6t-eth0', ports: [{ port: 8080, protocol: 'TCP' as const }] };
  const rules = renderPodRules(svc([{ ip: '10.244.0.2', port: 8080 }]), vm, capture).split('\n');

  it('is only for pods with a sidecar', () => {
    assert.equal(captureFromAnnotations({ 'traffic.sidecar.istio.io/kubevirtInterfaces': 'k6t-eth0' }, 1337), undefined);
  });

  it("sends the VM's outbound TCP to 15001 and inbound TCP to 15006, before any service or VM translation", () => {
    const pre = rules.filter((l) => l.startsWith('-A PREROUTING'));
    assert.deepEqual(pre.slice(0, 3), [
      '-A PREROUTING -i k6t-eth0 -p tcp -j ISTIO_KUBEVIRT',
      '-A PREROUTING -p tcp -j ISTIO_INBOUND',
      '-A PREROUTING -j VIRTMESH-SERVICES',
    ]);
    assert.deepEqual(
      rules.filter((l) => l.startsWith('-A ISTIO_KUBEVIRT')),
      ['-A ISTIO_KUBEVIRT -p tcp -m tcp --dport 25 -j RETURN', '-A ISTIO_KUBEVIRT -j ISTIO_REDIRECT'],
      'an excluded port returns into PREROUTING, on to the service rules',
    );
    assert.equal(rules.filter((l) => l.startsWith('-A ISTIO_INBOUND'))[0], '-A ISTIO_INBOUND -i k6t-eth0 -j RETURN');
    assert.ok(rules.includes('-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001'));
    assert.ok(rules.includes('-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006'));
    assert.ok(rules.indexOf('-A OUTPUT -p tcp -j ISTIO_OUTPUT') < rules.indexOf('-A OUTPUT -j VIRTMESH-SERVICES'));
  });

  it("leaves the proxy's own traffic, loopback and Istio's ports alone", () => {
    assert.ok(rules.indexOf('-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN') < rules.indexOf('-A ISTIO_OUTPUT -j ISTIO_REDIRECT'));
    assert.ok(rules.includes('-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN'));
    for (const port of [15008, 15090, 15021, 15020]) assert.ok(rules.includes(`-A ISTIO_INBOUND -p tcp -m tcp --dport ${port} -j RETURN`), String(port));
    assert.ok(rules.indexOf('-A ISTIO_INBOUND -p tcp -m tcp --dport 15008 -j RETURN') < rules.indexOf('-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT'));
  });
});
