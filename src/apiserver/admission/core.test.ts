import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { POD_UPDATE_MESSAGE } from './core.js';
import { defaultPullPolicy } from './defaults.js';
import { type AdmissionContext, applyDefaults, fieldErrorMessage, type KubeObject, validatorsFor } from './index.js';

const ctx = (operation: 'CREATE' | 'UPDATE' = 'CREATE', oldObject?: KubeObject): AdmissionContext => ({ operation, oldObject, get: () => undefined });

function admit(kind: string, obj: KubeObject, c = ctx(), group = ''): string[] {
  applyDefaults(group, kind, obj);
  return validatorsFor(group, kind).flatMap((v) => v.validate(obj, c).map(fieldErrorMessage));
}

const svc = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'default' }, spec });
const pod = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec });

describe('Service', () => {
  it('a plain ClusterIP service passes and is defaulted', () => {
    const s = svc({ selector: { app: 'web' }, ports: [{ port: 80 }] });
    assert.deepEqual(admit('Service', s), []);
    assert.deepEqual(s.spec, {
      selector: { app: 'web' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    });
  });
  it('ports are required unless ExternalName or headless', () => {
    assert.deepEqual(admit('Service', svc({})), ['spec.ports: Required value']);
    assert.deepEqual(admit('Service', svc({ clusterIP: 'None' })), []);
    assert.deepEqual(admit('Service', svc({ type: 'ExternalName', externalName: 'db.example.com' })), []);
    assert.deepEqual(admit('Service', svc({ type: 'ExternalName' })), ['spec.externalName: Required value']);
  });
  it('port range', () => {
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 70000, targetPort: 8080 }] })), [
      'spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ]);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 0, targetPort: 8080 }] })), [
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    ]);
  });
  it('duplicate port+protocol, and names required and unique with several ports', () => {
    assert.deepEqual(
      admit(
        'Service',
        svc({
          ports: [{ name: 'http', port: 80 }, { name: 'http', port: 80 }, { port: 81 }],
        }),
      ),
      ['spec.ports[1].name: Duplicate value: "http"', 'spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}', 'spec.ports[2].name: Required value'],
    );
    assert.deepEqual(
      admit(
        'Service',
        svc({
          ports: [
            { name: 'http', port: 80, protocol: 'UDP' },
            { name: 'HTTP', port: 80 },
          ],
        }),
      ),
      [
        `spec.ports[1].name: Invalid value: "HTTP": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
      ],
    );
  });
  it('protocol, targetPort, type, clusterIP, selector', () => {
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80, protocol: 'ICMP', targetPort: 'web_port' }] })), [
      'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      'spec.ports[0].targetPort: Invalid value: "web_port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    ]);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80, targetPort: 'web' }] })), []);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80 }], type: 'Magic' })), [
      'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ]);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80 }], clusterIP: '10.0.0.300' })), [
      'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80 }], clusterIP: 'fd00::1' })), [
      'spec.clusterIPs[0]: Invalid value: "fd00::1": expected an IPv4 value as indicated by `ipFamilies[0]`',
    ]);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80 }], selector: { 'app/x/y': 'v' } })), [
      `spec.selector: Invalid value: "app/x/y": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ]);
  });
  it('clusterIP may not change on update', () => {
    const old = svc({ ports: [{ port: 80 }], clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] });
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80 }] }), ctx('UPDATE', old)), []);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80 }], clusterIP: '10.96.0.10' }), ctx('UPDATE', old)), []);
    assert.deepEqual(admit('Service', svc({ ports: [{ port: 80 }], clusterIP: '10.96.0.11' }), ctx('UPDATE', old)), [
      'spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set',
    ]);
  });
});

describe('Pod', () => {
  it('a minimal pod passes and is defaulted like kube-apiserver', () => {
    const p = pod({ containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }] }] });
    assert.deepEqual(admit('Pod', p), []);
    const spec = p.spec as any;
    assert.equal(spec.restartPolicy, 'Always');
    assert.equal(spec.dnsPolicy, 'ClusterFirst');
    assert.equal(spec.terminationGracePeriodSeconds, 30);
    assert.equal(spec.schedulerName, 'default-scheduler');
    assert.deepEqual(spec.securityContext, {});
    assert.equal(spec.enableServiceLinks, true);
    assert.equal(spec.serviceAccountName, 'default');
    assert.deepEqual(spec.containers[0], {
      name: 'web',
      image: 'nginx',
      ports: [{ containerPort: 80, protocol: 'TCP' }],
      imagePullPolicy: 'Always',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    });
  });
  it('imagePullPolicy follows the tag', () => {
    assert.equal(defaultPullPolicy('nginx'), 'Always');
    assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
    assert.equal(defaultPullPolicy('nginx:1.25'), 'IfNotPresent');
    assert.equal(defaultPullPolicy('localhost:5000/app'), 'Always');
    assert.equal(defaultPullPolicy('quay.io/x/y@sha256:abc'), 'IfNotPresent');
  });
  it('needs containers with unique valid names and an image', () => {
    assert.deepEqual(admit('Pod', pod({ containers: [] })), ['spec.containers: Required value']);
    assert.deepEqual(admit('Pod', pod({ containers: [{ name: 'a', image: 'x' }, { name: 'a' }, { name: 'B', image: 'x' }] })), [
      'spec.containers[1].name: Duplicate value: "a"',
      'spec.containers[1].image: Required value',
      `spec.containers[2].name: Invalid value: "B": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    ]);
  });
  it('containerPort range and restartPolicy enum', () => {
    assert.deepEqual(admit('Pod', pod({ containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 65536 }] }], restartPolicy: 'Sometimes' })), [
      'spec.containers[0].ports[0].containerPort: Invalid value: 65536: must be between 1 and 65535, inclusive',
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]);
  });
  it('updates may only change images and a few fields', () => {
    const old = pod({ containers: [{ name: 'a', image: 'x:1' }] });
    applyDefaults('', 'Pod', old);
    assert.deepEqual(admit('Pod', pod({ containers: [{ name: 'a', image: 'x:2' }] }), ctx('UPDATE', old)), []);
    assert.deepEqual(admit('Pod', pod({ containers: [{ name: 'a', image: 'x:1' }], activeDeadlineSeconds: 60 }), ctx('UPDATE', old)), []);
    assert.deepEqual(admit('Pod', pod({ containers: [{ name: 'a', image: 'x:1' }], nodeName: 'node-1' }), ctx('UPDATE', old)), []);
    const errs = admit('Pod', pod({ containers: [{ name: 'a', image: 'x:1' }], restartPolicy: 'Never' }), ctx('UPDATE', old));
    assert.equal(errs.length, 1);
    assert.ok(errs[0].startsWith(`spec: Forbidden: ${POD_UPDATE_MESSAGE}`));
    assert.match(errs[0], /spec\.restartPolicy/);
  });
});

describe('Namespace, ConfigMap, Secret', () => {
  it('Namespace defaults and finalizers', () => {
    const ns: KubeObject = { metadata: { name: 'team-a' } };
    assert.deepEqual(admit('Namespace', ns), []);
    assert.deepEqual(ns.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(ns.metadata?.labels, { 'kubernetes.io/metadata.name': 'team-a' });
    assert.deepEqual(admit('Namespace', { metadata: { name: 'b' }, spec: { finalizers: ['cleanup'] } }), [
      'spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified',
    ]);
  });
  it('ConfigMap keys are valid and not in both data and binaryData', () => {
    assert.deepEqual(admit('ConfigMap', { metadata: { name: 'c', namespace: 'd' }, data: { 'app.conf': 'x', KEY_1: 'y' } }), []);
    assert.deepEqual(admit('ConfigMap', { metadata: { name: 'c', namespace: 'd' }, data: { 'a b': 'x', dup: 'y' }, binaryData: { dup: 'eA==' } }), [
      `data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
      'data[dup]: Invalid value: "dup": duplicate of key present in binaryData',
      'binaryData[dup]: Invalid value: "dup": duplicate of key present in data',
    ]);
  });
  it('immutable ConfigMaps keep their data', () => {
    const old: KubeObject = { metadata: { name: 'c', namespace: 'd' }, data: { a: '1' }, immutable: true };
    assert.deepEqual(admit('ConfigMap', { metadata: { name: 'c', namespace: 'd' }, data: { a: '2' }, immutable: true }, ctx('UPDATE', old)), [
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
  });
  it('Secret type defaults to Opaque; typed secrets need their keys; type is immutable', () => {
    const s: KubeObject = { metadata: { name: 's', namespace: 'd' }, data: { password: 'cGFzcw==' } };
    assert.deepEqual(admit('Secret', s), []);
    assert.equal(s.type, 'Opaque');
    assert.deepEqual(admit('Secret', { metadata: { name: 's', namespace: 'd' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' } }), [
      'data[tls.key]: Required value',
    ]);
    assert.deepEqual(admit('Secret', { metadata: { name: 's', namespace: 'd' }, data: { '..x': 'eA==' } }), [
      `data[..x]: Invalid value: "..x": must not start with '..'`,
    ]);
    assert.deepEqual(admit('Secret', { metadata: { name: 's', namespace: 'd' }, type: 'Opaque' }, ctx('UPDATE', { metadata: {}, type: 'kubernetes.io/tls' })), [
      'type: Invalid value: "Opaque": field is immutable',
    ]);
  });
  it('ServiceAccount has only metadata checks', () => {
    assert.deepEqual(validatorsFor('', 'ServiceAccount'), []);
  });
});

describe('Endpoints, EndpointSlice, Event', () => {
  it('Endpoints: IPs valid, ports in range, names with several ports', () => {
    const ep = (subsets: unknown): KubeObject => ({ metadata: { name: 'e', namespace: 'd' }, subsets });
    assert.deepEqual(admit('Endpoints', ep([{ addresses: [{ ip: '10.244.0.5' }], ports: [{ port: 8080 }] }])), []);
    assert.deepEqual(
      admit('Endpoints', ep([{ addresses: [{ ip: 'ten' }, { ip: '0.0.0.0' }], ports: [{ port: 0 }, { name: 'b', port: 80, protocol: 'TCP' }] }])),
      [
        'subsets[0].addresses[0].ip: Invalid value: "ten": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        'subsets[0].addresses[1].ip: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)',
        'subsets[0].ports[0].name: Required value',
        'subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      ],
    );
    assert.deepEqual(admit('Endpoints', ep([{ ports: [{ port: 80 }] }])), ['subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`']);
  });
  it('EndpointSlice: addressType enum, addresses of that type, ports', () => {
    const es = (o: Record<string, unknown>): KubeObject => ({ metadata: { name: 'e', namespace: 'd' }, ...o });
    assert.deepEqual(
      admit('EndpointSlice', es({ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ port: 80 }] }), ctx(), 'discovery.k8s.io'),
      [],
    );
    assert.deepEqual(
      admit(
        'EndpointSlice',
        es({ addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }, { addresses: [] }], ports: [{ port: 99999, protocol: 'ICMP' }] }),
        ctx(),
        'discovery.k8s.io',
      ),
      [
        'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
        'endpoints[1].addresses: Required value: must contain at least 1 address',
        'ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'ports[0].port: Invalid value: 99999: must be between 1 and 65535, inclusive',
      ],
    );
    assert.deepEqual(admit('EndpointSlice', es({ addressType: 'IPv5' }), ctx(), 'discovery.k8s.io'), [
      'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"',
    ]);
    assert.deepEqual(admit('EndpointSlice', es({ addressType: 'FQDN', endpoints: [{ addresses: ['db'] }] }), ctx(), 'discovery.k8s.io'), [
      'endpoints[0].addresses[0]: Invalid value: "db": should be a domain with at least two segments separated by dots',
    ]);
  });
  it('Event: involvedObject.namespace matches; reason and message lengths', () => {
    const ev = (o: Record<string, unknown>): KubeObject => ({
      metadata: { name: 'e', namespace: 'd' },
      involvedObject: { kind: 'Pod', name: 'p', namespace: 'd' },
      ...o,
    });
    assert.deepEqual(admit('Event', ev({ reason: 'Started', message: 'ok' })), []);
    assert.deepEqual(admit('Event', ev({ involvedObject: { kind: 'Pod', name: 'p', namespace: 'other' } })), [
      'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    ]);
    assert.deepEqual(
      admit(
        'Event',
        ev({
          eventTime: '2024-01-01T00:00:00.000000Z',
          reportingComponent: 'virtmesh/vm-controller',
          reportingInstance: 'node-1',
          action: 'Start',
          reason: 'x'.repeat(129),
          message: 'm'.repeat(1025),
        }),
      ),
      ['reason: Invalid value: "": can have at most 128 characters', 'message: Invalid value: "": can have at most 1024 characters'],
    );
  });
});
