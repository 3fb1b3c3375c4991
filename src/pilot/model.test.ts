import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMeshConfig } from './index.js';
import { hostMatches, parseDurationMs, resolveHost, servicePortProtocol, workloadName } from './model.js';
import { parseProxyId } from './proxy-node.js';

describe('Istio naming rules', () => {
  it('reads protobuf durations and refuses what is not one', () => {
    assert.deepEqual(['5s', '1.5s', '250ms', '1m30s', '1h', '0s', '', '5', 'abc', '5s junk'].map(parseDurationMs), [
      5000,
      1500,
      250,
      90_000,
      3_600_000,
      0,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("takes a port's protocol from appProtocol, then the name's prefix, else auto; UDP is not proxied", () => {
    assert.deepEqual(
      [
        { name: 'http' },
        { name: 'http-web' },
        { name: 'grpc-api' },
        { name: 'http2' },
        { name: 'tcp-db' },
        { name: 'https' },
        { name: 'web', appProtocol: 'http' },
        { name: 'httpx' },
        {},
        { name: 'dns', protocol: 'UDP' },
      ].map(servicePortProtocol),
      ['http', 'http', 'http', 'http', 'tcp', 'tcp', 'http', 'auto', 'auto', undefined],
    );
  });

  it('qualifies short hosts in the config namespace and matches wildcards', () => {
    assert.equal(resolveHost('reviews', 'shop'), 'reviews.shop.svc.cluster.local');
    assert.equal(resolveHost('reviews.shop.svc.cluster.local', 'default'), 'reviews.shop.svc.cluster.local');
    assert.equal(resolveHost('*', 'default'), '*');
    assert.equal(hostMatches('*.shop.svc.cluster.local', 'reviews.shop.svc.cluster.local'), true);
    assert.equal(hostMatches('*.shop.svc.cluster.local', 'reviews.default.svc.cluster.local'), false);
  });

  it('splits node ids, pod names with dots included', () => {
    assert.deepEqual(parseProxyId('sidecar~10.244.0.5~virt-launcher-istio-vmi-abcde.default~default.svc.cluster.local'), {
      type: 'sidecar',
      ip: '10.244.0.5',
      podName: 'virt-launcher-istio-vmi-abcde',
      namespace: 'default',
    });
    assert.equal(parseProxyId('sidecar~10.0.0.1~a.b.shop~shop.svc.cluster.local')?.podName, 'a.b');
    assert.equal(parseProxyId('not-an-id'), undefined);
    assert.equal(parseProxyId('sidecar~~p.ns~ns.svc.cluster.local'), undefined);
  });

  it("names a Deployment's pod by the Deployment and a launcher pod by its VMI", () => {
    const rs = {
      metadata: {
        name: 'web-6d4cf56db6-x2x7p',
        labels: { 'pod-template-hash': '6d4cf56db6' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'web-6d4cf56db6', controller: true }],
      },
    };
    const vmi = {
      metadata: { name: 'virt-launcher-istio-vmi-abcde', ownerReferences: [{ kind: 'VirtualMachineInstance', name: 'istio-vmi', controller: true }] },
    };
    assert.equal(workloadName(rs), 'web');
    assert.equal(workloadName(vmi), 'istio-vmi');
    assert.equal(workloadName({ metadata: { name: 'bare' } }), 'bare');
  });

  it("reads MeshConfig's outbound policy and connect timeout, with defaults for the rest", () => {
    assert.deepEqual(parseMeshConfig('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\nconnectTimeout: 2s\n'), {
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      connectTimeoutMs: 2000,
    });
    assert.equal(parseMeshConfig(undefined).outboundTrafficPolicy.mode, 'ALLOW_ANY');
    const lines: string[] = [];
    assert.equal(parseMeshConfig('{ not: yaml: [', (l) => lines.push(l)).outboundTrafficPolicy.mode, 'ALLOW_ANY');
    assert.equal(lines.length, 1);
  });
});
