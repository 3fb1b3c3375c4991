import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../client/index.js';
import { type MeshObjects, validateDestinationRule, validateIstioObject, validateService, validateVirtualService } from './validations.js';

const obj = (kind: string, name: string, spec: unknown, extra: Record<string, unknown> = {}): KubeObject =>
  ({ kind, metadata: { name, namespace: 'default', ...extra }, spec }) as KubeObject;
const pod = (labels: Record<string, string>, sidecar = true) =>
  ({
    kind: 'Pod',
    metadata: { name: `p-${Object.values(labels).join('-')}`, namespace: 'default', labels },
    spec: { containers: [{ name: 'compute' }, ...(sidecar ? [{ name: 'istio-proxy' }] : [])] },
  }) as KubeObject;

const mesh: MeshObjects = {
  services: [obj('Service', 'istio-vmi-svc', { selector: { app: 'istio-vmi' }, ports: [{ name: 'http', port: 8080 }] })],
  serviceEntries: [obj('ServiceEntry', 'kubevirt', { hosts: ['kubevirt.io', '*.example.com'] })],
  pods: [pod({ app: 'istio-vmi', version: 'v1' })],
};

describe('Istio config validations', () => {
  it('KIA1101: a route destination naming no Service or ServiceEntry', () => {
    const vs = obj('VirtualService', 'vs', {
      hosts: ['istio-vmi-svc'],
      http: [
        { route: [{ destination: { host: 'istio-vmi-svc' } }, { destination: { host: 'missing' } }] },
        { route: [{ destination: { host: 'istio-vmi-svc.default.svc.cluster.local' } }] },
        { route: [{ destination: { host: 'kubevirt.io' } }, { destination: { host: 'api.example.com' } }] },
      ],
      tcp: [{ route: [{ destination: { host: 'gone.other.svc.cluster.local' } }] }],
    });
    assert.deepEqual(validateVirtualService(vs, mesh), [
      {
        code: 'KIA1101',
        severity: 'error',
        message: "DestinationWeight on route doesn't have a valid service (host not found)",
        path: 'spec/http[0]/route[1]/destination/host',
      },
      {
        code: 'KIA1101',
        severity: 'error',
        message: "DestinationWeight on route doesn't have a valid service (host not found)",
        path: 'spec/tcp[0]/route[0]/destination/host',
      },
    ]);
  });

  it('KIA1104 for a lone weighted destination; a warning when weights do not add up to 100', () => {
    const vs = obj('VirtualService', 'vs', {
      http: [
        { route: [{ destination: { host: 'istio-vmi-svc' }, weight: 50 }] },
        { route: [{ destination: { host: 'istio-vmi-svc' }, weight: 100 }] },
        {
          route: [
            { destination: { host: 'istio-vmi-svc' }, weight: 70 },
            { destination: { host: 'istio-vmi-svc' }, weight: 20 },
          ],
        },
        {
          route: [
            { destination: { host: 'istio-vmi-svc' }, weight: 70 },
            { destination: { host: 'istio-vmi-svc' }, weight: 30 },
          ],
        },
      ],
    });
    assert.deepEqual(
      validateVirtualService(vs, mesh).map((v) => [v.code, v.severity, v.path]),
      [
        ['KIA1104', 'warning', 'spec/http[0]/route[0]/weight'],
        ['VM1100', 'warning', 'spec/http[2]/route'],
      ],
    );
  });

  it('KIA0202 and KIA0203: DestinationRule hosts and subsets', () => {
    assert.deepEqual(validateDestinationRule(obj('DestinationRule', 'dr', { host: 'nothing-here' }), mesh), [
      {
        code: 'KIA0202',
        severity: 'error',
        message: 'This host has no matching entry in the service registry (service, workload or service entries)',
        path: 'spec/host',
      },
    ]);
    const dr = obj('DestinationRule', 'dr', {
      host: 'istio-vmi-svc',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    });
    assert.deepEqual(validateDestinationRule(dr, mesh), [
      { code: 'KIA0203', severity: 'error', message: "This subset's labels are not found in any matching host", path: 'spec/subsets[1]' },
    ]);
    assert.deepEqual(validateDestinationRule(obj('DestinationRule', 'se', { host: 'kubevirt.io', subsets: [{ name: 'a', labels: { x: 'y' } }] }), mesh), []);
    assert.deepEqual(validateIstioObject(dr, mesh).length, 1);
    assert.deepEqual(validateIstioObject(obj('Sidecar', 's', {}), mesh), []);
  });

  it("KIA0601/KIA0602: port names of meshed Services must name Istio's protocol", () => {
    const svc = obj('Service', 'istio-vmi-svc', {
      selector: { app: 'istio-vmi' },
      ports: [
        { name: 'http', port: 8080 },
        { name: 'http-web', port: 8081 },
        { name: 'web', port: 8082 },
        { port: 8083 },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'x', port: 8084, appProtocol: 'http' },
        { name: 'y', port: 8085, appProtocol: 'soap' },
        { name: 'HTTP2-grpc', port: 8086 },
      ],
    });
    assert.deepEqual(
      validateService(svc, mesh.pods ?? []).map((v) => [v.code, v.path]),
      [
        ['KIA0601', 'spec/ports[2]'],
        ['KIA0601', 'spec/ports[3]'],
        ['KIA0602', 'spec/ports[6]'],
      ],
    );
    assert.deepEqual(validateService(svc, [pod({ app: 'istio-vmi' }, false)]), [], 'no sidecar behind it: not checked');
  });
});
