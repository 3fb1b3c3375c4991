import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firmwareUUID } from './defaults.js';
import { type AdmissionContext, applyDefaults, fieldErrorMessage, type KubeObject, type Operation, validatorsFor } from './index.js';

const namespaces: Record<string, Record<string, string>> = {
  default: {},
  mesh: { 'istio-injection': 'enabled' },
  rev: { 'istio.io/rev': 'default' },
  off: { 'istio-injection': 'disabled' },
};
const ctx = (operation: Operation = 'CREATE', oldObject?: KubeObject): AdmissionContext => ({
  operation,
  oldObject,
  get: (_g, resource, _ns, name) => (resource === 'namespaces' && namespaces[name] ? { metadata: { name, labels: namespaces[name] } } : undefined),
});

/** Defaults then the kind's checks, as the API server runs them; the messages kubectl would print. */
function admit(kind: string, obj: KubeObject, c: AdmissionContext = ctx()): string[] {
  applyDefaults('kubevirt.io', kind, obj);
  return validatorsFor('kubevirt.io', kind).flatMap((v) => v.validate(obj, c).map(fieldErrorMessage));
}

const istioVMI = (namespace: string): KubeObject => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'istio-vmi', namespace, labels: { app: 'istio-vmi', version: 'v1' }, annotations: { 'sidecar.istio.io/inject': 'true' } },
  spec: {
    domain: {
      devices: {
        interfaces: [{ name: 'default', masquerade: {}, ports: [{ port: 8080 }] }],
        disks: [
          { name: 'containerdisk', disk: { bus: 'virtio' } },
          { name: 'cloudinitdisk', disk: { bus: 'virtio' } },
        ],
      },
      resources: { requests: { memory: '1024M' } },
    },
    networks: [{ name: 'default', pod: {} }],
    readinessProbe: { httpGet: { port: 8080 }, initialDelaySeconds: 120, periodSeconds: 20, timeoutSeconds: 10, failureThreshold: 3, successThreshold: 3 },
    terminationGracePeriodSeconds: 0,
    volumes: [
      { name: 'containerdisk', containerDisk: { image: 'quay.io/kubevirt/fedora-cloud-container-disk-demo:latest' } },
      { name: 'cloudinitdisk', cloudInitNoCloud: { userData: '#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n' } },
    ],
  },
});

const cirrosVMI = (namespace: string): KubeObject => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'cirros-vmi', namespace },
  spec: {
    domain: {
      devices: {
        interfaces: [{ name: 'default', masquerade: {} }],
        disks: [
          { name: 'containerdisk', disk: {} },
          { name: 'cloudinitdisk', disk: {} },
        ],
      },
      resources: { requests: { memory: '128Mi' } },
    },
    networks: [{ name: 'default', pod: {} }],
    volumes: [
      { name: 'containerdisk', containerDisk: { image: 'quay.io/kubevirt/cirros-container-disk-demo' } },
      { name: 'cloudinitdisk', cloudInitNoCloud: { userDataBase64: Buffer.from('#!/bin/sh\necho hi\n').toString('base64') } },
    ],
  },
});

const spec = (o: KubeObject) => o.spec as any;

describe('walkthrough VMIs', () => {
  for (const ns of ['default', 'mesh', 'rev', 'off']) {
    it(`istio-vmi passes in namespace ${ns}`, () => assert.deepEqual(admit('VirtualMachineInstance', istioVMI(ns)), []));
    it(`cirros-vmi passes in namespace ${ns}`, () => assert.deepEqual(admit('VirtualMachineInstance', cirrosVMI(ns)), []));
  }
  it('the same VMIs pass as VM templates', () => {
    for (const vmi of [istioVMI('mesh'), cirrosVMI('mesh')]) {
      const vm: KubeObject = {
        kind: 'VirtualMachine',
        metadata: { name: vmi.metadata?.name, namespace: 'mesh' },
        spec: { runStrategy: 'Always', template: { metadata: { labels: vmi.metadata?.labels }, spec: vmi.spec } },
      };
      assert.deepEqual(admit('VirtualMachine', vm), []);
    }
  });
});

describe('the mesh rule', () => {
  const bridged = (ns: string, meta: Record<string, unknown> = {}) => {
    const vmi = cirrosVMI(ns);
    Object.assign(vmi.metadata ?? {}, meta);
    spec(vmi).domain.devices.interfaces = [{ name: 'default', bridge: {} }];
    return vmi;
  };
  const meshMsg =
    'spec.domain.devices.interfaces[0]: Forbidden: Istio is only supported with masquerade network binding and pod network over IPv4 (interface "default" uses bridge binding)';

  it('rejects bridge on the pod network in an injected namespace', () => {
    assert.deepEqual(admit('VirtualMachineInstance', bridged('mesh')), [meshMsg]);
  });
  it('applies to istio.io/rev namespaces too', () => {
    assert.deepEqual(admit('VirtualMachineInstance', bridged('rev')), [meshMsg]);
  });
  it('applies when the VMI asks for injection by label in a plain namespace', () => {
    assert.deepEqual(admit('VirtualMachineInstance', bridged('default', { labels: { 'sidecar.istio.io/inject': 'true' } })), [meshMsg]);
  });
  it('does not apply when the VMI opts out', () => {
    const errs = admit('VirtualMachineInstance', bridged('mesh', { annotations: { 'sidecar.istio.io/inject': 'false' } }));
    assert.equal(errs.length, 1);
    assert.match(errs[0], /not supported by virtmesh/);
  });
  it('rejects bridge on the pod network without the mesh, as virtmesh cannot run it', () => {
    assert.deepEqual(admit('VirtualMachineInstance', bridged('default')), [
      'spec.domain.devices.interfaces[0].name: Invalid value: "default": Bridge on pod network configuration is not supported by virtmesh; use the masquerade binding (masquerade: {}) instead',
    ]);
  });
  it('is checked on a VM template with the template labels', () => {
    const vm: KubeObject = {
      kind: 'VirtualMachine',
      metadata: { name: 'vm', namespace: 'mesh' },
      spec: { runStrategy: 'Always', template: { spec: spec(bridged('mesh')) } },
    };
    assert.deepEqual(admit('VirtualMachine', vm), [
      'spec.template.spec.domain.devices.interfaces[0]: Forbidden: Istio is only supported with masquerade network binding and pod network over IPv4 (interface "default" uses bridge binding)',
    ]);
    (vm.spec as any).template.metadata = { labels: { 'sidecar.istio.io/inject': 'false' } };
    assert.match(admit('VirtualMachine', vm)[0], /not supported by virtmesh/);
  });
  it('rejects an IPv6-only pod network in the mesh', () => {
    const vmi = cirrosVMI('mesh');
    spec(vmi).networks[0].pod = { vmIPv6NetworkCIDR: 'fd10:0:2::/120' };
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.networks[0].pod.vmIPv6NetworkCIDR: Forbidden: Istio is only supported with masquerade network binding and pod network over IPv4 (network "default" is configured for IPv6 only)',
    ]);
    (vmi.metadata as any).namespace = 'default';
    assert.deepEqual(admit('VirtualMachineInstance', vmi), []);
  });
});

describe('interfaces and networks', () => {
  const withNet = (ifaces: unknown[], networks: unknown[]) => {
    const vmi = cirrosVMI('default');
    spec(vmi).domain.devices.interfaces = ifaces;
    spec(vmi).networks = networks;
    return admit('VirtualMachineInstance', vmi);
  };
  it('an interface must name a network', () => {
    assert.deepEqual(withNet([{ name: 'eth1', masquerade: {} }], [{ name: 'default', pod: {} }]), [
      "spec.networks[0].name: Required value: spec.networks[0].name 'default' not found.",
      'spec.domain.devices.interfaces[0].name: Invalid value: "eth1": spec.domain.devices.interfaces[0].name \'eth1\' not found.',
    ]);
  });
  it('interface names are unique (one interface per network)', () => {
    const errs = withNet(
      [
        { name: 'default', masquerade: {} },
        { name: 'default', masquerade: {} },
      ],
      [{ name: 'default', pod: {} }],
    );
    assert.ok(errs.includes('spec.domain.devices.interfaces[1].name: Invalid value: "default": Only one interface can be connected to one specific network'));
  });
  it('network names are unique, and at most one pod network', () => {
    const errs = withNet(
      [{ name: 'default', masquerade: {} }],
      [
        { name: 'default', pod: {} },
        { name: 'default', pod: {} },
      ],
    );
    assert.ok(errs.includes('spec.interfaces: Invalid value: null: more than one interface is connected to a pod network in spec.interfaces'));
    assert.ok(
      errs.includes('spec.networks[1].name: Invalid value: "default": Network with name "default" already exists, every network must have a unique name'),
    );
  });
  it('exactly one binding per interface', () => {
    assert.deepEqual(withNet([{ name: 'default' }], [{ name: 'default', pod: {} }]), [
      'spec.domain.devices.interfaces[0]: Invalid value: "default": logical default interface must have exactly one binding method (found none); virtmesh supports masquerade: {}',
    ]);
    const two = withNet([{ name: 'default', masquerade: {}, bridge: {} }], [{ name: 'default', pod: {} }]);
    assert.match(two[0], /found masquerade, bridge/);
  });
  it('masquerade only on the pod network', () => {
    const errs = withNet([{ name: 'sec', masquerade: {} }], [{ name: 'sec', multus: { networkName: 'br1' } }]);
    assert.deepEqual(errs, ['spec.domain.devices.interfaces[0].name: Invalid value: "sec": Masquerade interface only implemented with pod network']);
  });
  it('bridge on a Multus network is fine; unsupported bindings are refused', () => {
    assert.deepEqual(
      withNet(
        [
          { name: 'default', masquerade: {} },
          { name: 'sec', bridge: {} },
        ],
        [
          { name: 'default', pod: {} },
          { name: 'sec', multus: { networkName: 'br1' } },
        ],
      ),
      [],
    );
    assert.deepEqual(withNet([{ name: 'default', sriov: {} }], [{ name: 'default', pod: {} }]), [
      'spec.domain.devices.interfaces[0].sriov: Forbidden: the sriov binding is not supported by virtmesh; use masquerade: {} on the pod network',
    ]);
  });
  it('a network needs a type, Multus a networkName', () => {
    const errs = withNet([{ name: 'a', bridge: {} }], [{ name: 'a', multus: {} }]);
    assert.deepEqual(errs, ['spec.networks[0]: Required value: CNI delegating plugin must have a networkName']);
    assert.deepEqual(withNet([{ name: 'a', bridge: {} }], [{ name: 'a' }]), ['spec.networks[0]: Required value: should have a network type']);
  });
  it('interface ports: range, protocol, unique names', () => {
    const errs = withNet(
      [{ name: 'default', masquerade: {}, ports: [{ name: 'http', port: 70000 }, { name: 'http', port: 80, protocol: 'SCTP' }, { port: 0 }] }],
      [{ name: 'default', pod: {} }],
    );
    assert.deepEqual(errs, [
      'spec.domain.devices.interfaces[0].ports[0]: Invalid value: 70000: Port field must be in range 0 < x < 65536.',
      'spec.domain.devices.interfaces[0].ports[1].name: Invalid value: "http": Duplicate name of the port: http',
      'spec.domain.devices.interfaces[0].ports[1].protocol: Invalid value: "SCTP": Unknown protocol, only TCP or UDP allowed',
      'spec.domain.devices.interfaces[0].ports[2]: Required value: Port field is mandatory.',
    ]);
  });
});

describe('memory', () => {
  const withMemory = (requests: unknown, guest?: unknown) => {
    const vmi = cirrosVMI('default');
    if (requests === undefined) delete spec(vmi).domain.resources;
    else spec(vmi).domain.resources.requests.memory = requests;
    if (guest !== undefined) spec(vmi).domain.memory = { guest };
    return admit('VirtualMachineInstance', vmi);
  };
  it('rejects impossible memory with a clear message', () => {
    assert.deepEqual(withMemory('0'), [
      'spec.domain.resources.requests.memory: Invalid value: "0": spec.domain.resources.requests.memory \'0\': must be greater than or equal to 1Mi.',
    ]);
    assert.deepEqual(withMemory('-1G'), [
      'spec.domain.resources.requests.memory: Invalid value: "-1G": spec.domain.resources.requests.memory \'-1G\': must be greater than or equal to 0.',
    ]);
    assert.deepEqual(withMemory('lots'), [
      'spec.domain.resources.requests.memory: Invalid value: "lots": quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'',
    ]);
    assert.deepEqual(withMemory('512Ki'), [
      'spec.domain.resources.requests.memory: Invalid value: "512Ki": spec.domain.resources.requests.memory \'512Ki\': must be greater than or equal to 1Mi.',
    ]);
    assert.deepEqual(withMemory(undefined, '0'), [
      'spec.domain.memory.guest: Invalid value: "0": spec.domain.memory.guest \'0\': must be greater than or equal to 1Mi.',
    ]);
  });
  it('accepts requests or guest memory, and requires one of them', () => {
    assert.deepEqual(withMemory('1Gi'), []);
    assert.deepEqual(withMemory(undefined, '256Mi'), []);
    assert.deepEqual(withMemory(undefined), [
      "spec.domain.resources.requests.memory: Required value: no memory requested, at least one of 'spec.domain.memory.guest', 'spec.domain.memory.hugepages.size' or 'spec.domain.resources.requests.memory' must be set",
    ]);
  });
});

describe('disks and volumes', () => {
  it('disks name volumes, names are unique, one target, known bus', () => {
    const vmi = cirrosVMI('default');
    spec(vmi).domain.devices.disks = [
      { name: 'containerdisk', disk: { bus: 'ide' } },
      { name: 'cloudinitdisk', disk: {}, cdrom: {} },
      { name: 'containerdisk', disk: { bus: 'floppy' } },
      { name: 'missing', disk: {} },
    ];
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.domain.devices.disks[0].disk.bus: Invalid value: "ide": IDE bus is not supported',
      'spec.domain.devices.disks[1]: Invalid value: ["disk","cdrom"]: spec.domain.devices.disks[1] can only have a single target type defined',
      'spec.domain.devices.disks[2].name: Invalid value: "containerdisk": spec.domain.devices.disks[2] and spec.domain.devices.disks[0] must not have the same Name.',
      'spec.domain.devices.disks[2].disk.bus: Invalid value: "floppy": spec.domain.devices.disks[2] is set with an unrecognized bus floppy, must be one of: [virtio scsi sata usb]',
      'spec.domain.devices.disks[3].name: Invalid value: "missing": spec.domain.devices.disks[3].Name \'missing\' not found.',
    ]);
  });
  it('refuses volume sources virtmesh cannot run', () => {
    const vmi = cirrosVMI('default');
    spec(vmi).volumes[0] = { name: 'containerdisk', persistentVolumeClaim: { claimName: 'pvc' } };
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.volumes[0].persistentVolumeClaim: Forbidden: persistentVolumeClaim is not supported by virtmesh (supported volume sources: containerDisk, cloudInitNoCloud, emptyDisk)',
    ]);
    spec(vmi).volumes[0] = { name: 'containerdisk', dataVolume: { name: 'dv' } };
    assert.match(admit('VirtualMachineInstance', vmi)[0], /^spec\.volumes\[0\]\.dataVolume: Forbidden: dataVolume is not supported by virtmesh/);
  });
  it('volume names are unique and each volume has one source', () => {
    const vmi = cirrosVMI('default');
    spec(vmi).volumes.push({ name: 'cloudinitdisk', emptyDisk: { capacity: '1Gi' }, containerDisk: { image: 'x' } });
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.volumes[2].name: Invalid value: "cloudinitdisk": spec.volumes[2] and spec.volumes[1] must not have the same Name.',
      'spec.volumes[2]: Invalid value: "cloudinitdisk": spec.volumes[2] must have exactly one source type set',
    ]);
  });
  it('cloudInitNoCloud needs exactly one inline user data source', () => {
    const vmi = cirrosVMI('default');
    spec(vmi).volumes[1].cloudInitNoCloud = { userData: '#cloud-config', userDataBase64: 'IyE=' };
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.volumes[1].cloudInitNoCloud: Invalid value: ["userData","userDataBase64"]: spec.volumes[1].cloudInitNoCloud must have only one userdatasource set.',
    ]);
    spec(vmi).volumes[1].cloudInitNoCloud = { userDataSecretRef: { name: 's' } };
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.volumes[1].cloudInitNoCloud.userDataSecretRef: Forbidden: userDataSecretRef is not supported by virtmesh; put the data inline',
    ]);
    spec(vmi).volumes[1].cloudInitNoCloud = { userDataBase64: 'not base64!' };
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.volumes[1].cloudInitNoCloud.userDataBase64: Invalid value: "not base64!": spec.volumes[1].cloudInitNoCloud.userDataBase64 is not a valid base64 value.',
    ]);
    spec(vmi).volumes[1].cloudInitNoCloud = {};
    assert.deepEqual(admit('VirtualMachineInstance', vmi), [
      'spec.volumes[1].cloudInitNoCloud: Required value: spec.volumes[1].cloudInitNoCloud must have one userdatasource set (userData or userDataBase64).',
    ]);
  });
});

describe('probes', () => {
  const withProbe = (probe: unknown) => {
    const vmi = istioVMI('default');
    spec(vmi).readinessProbe = probe;
    return admit('VirtualMachineInstance', vmi);
  };
  it('tcpSocket and httpGet with ports by number or name pass', () => {
    assert.deepEqual(withProbe({ tcpSocket: { port: 22 } }), []);
    assert.deepEqual(withProbe({ httpGet: { port: 'http', path: '/' } }), []);
  });
  it('exactly one handler, and no guest-agent probes', () => {
    assert.deepEqual(withProbe({ periodSeconds: 5 }), [
      'spec.readinessProbe: Required value: either spec.readinessProbe.tcpSocket, spec.readinessProbe.exec or spec.readinessProbe.httpGet must be set if a spec.readinessProbe is specified',
    ]);
    assert.deepEqual(withProbe({ exec: { command: ['true'] } }), [
      'spec.readinessProbe.exec: Forbidden: exec probes run through the QEMU guest agent, which virtmesh does not support; use httpGet or tcpSocket',
    ]);
    assert.match(withProbe({ httpGet: { port: 80 }, tcpSocket: { port: 80 } })[0], /must have exactly one probe type set/);
  });
  it('periods, thresholds and ports are checked', () => {
    assert.deepEqual(withProbe({ httpGet: { port: 0 }, periodSeconds: 0, failureThreshold: -1 }), [
      'spec.readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.readinessProbe.periodSeconds: Invalid value: 0: must be greater than or equal to 1',
      'spec.readinessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 1',
    ]);
  });
});

describe('VirtualMachine', () => {
  it('paths are under spec.template.spec, and VM fields are checked', () => {
    const vmi = cirrosVMI('default');
    spec(vmi).domain.resources.requests.memory = 'lots';
    const vm: KubeObject = {
      kind: 'VirtualMachine',
      metadata: { name: 'vm', namespace: 'default' },
      spec: { running: true, runStrategy: 'Sometimes', template: { spec: vmi.spec } },
    };
    assert.deepEqual(admit('VirtualMachine', vm), [
      'spec.running: Invalid value: true: Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead',
      'spec.runStrategy: Invalid value: "Sometimes": Invalid RunStrategy (Sometimes)',
      'spec.template.spec.domain.resources.requests.memory: Invalid value: "lots": quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'',
    ]);
  });
  it('needs a template; reports as KubeVirt webhooks', () => {
    assert.deepEqual(admit('VirtualMachine', { kind: 'VirtualMachine', metadata: { name: 'x', namespace: 'default' }, spec: {} }), [
      'spec.template: Required value: missing virtual machine template.',
    ]);
    assert.equal(validatorsFor('kubevirt.io', 'VirtualMachine')[0].webhook, 'virtualmachine-validator.kubevirt.io');
    assert.equal(validatorsFor('kubevirt.io', 'VirtualMachineInstance')[0].webhook, 'virtualmachineinstances-create-validator.kubevirt.io');
  });
  it('a VMI spec may not be changed by an update', () => {
    const old = cirrosVMI('default');
    applyDefaults('kubevirt.io', 'VirtualMachineInstance', old);
    assert.deepEqual(admit('VirtualMachineInstance', cirrosVMI('default'), ctx('UPDATE', old)), []);
    const changed = cirrosVMI('default');
    spec(changed).domain.resources.requests.memory = '1Gi';
    assert.deepEqual(admit('VirtualMachineInstance', changed, ctx('UPDATE', old)), ['spec: Forbidden: update of VMI object is restricted']);
  });
});

describe('VMI defaults', () => {
  it('fills what KubeVirt fills', () => {
    const vmi: KubeObject = {
      metadata: { name: 'bare', namespace: 'default' },
      spec: {
        domain: { devices: { disks: [{ name: 'containerdisk' }] }, memory: { guest: '128Mi' } },
        volumes: [{ name: 'containerdisk', containerDisk: { image: 'x' } }],
      },
    };
    applyDefaults('kubevirt.io', 'VirtualMachineInstance', vmi);
    const s = spec(vmi);
    assert.equal(s.domain.machine.type, 'q35');
    assert.deepEqual(s.domain.cpu, { cores: 1, sockets: 1, threads: 1 });
    assert.equal(s.domain.firmware.uuid, firmwareUUID('bare'));
    assert.deepEqual(s.domain.devices.disks, [{ name: 'containerdisk', disk: { bus: 'virtio' } }]);
    assert.deepEqual(s.domain.devices.interfaces, [{ name: 'default', masquerade: {} }]);
    assert.deepEqual(s.networks, [{ name: 'default', pod: {} }]);
    assert.equal(s.domain.resources.requests.memory, '128Mi');
    assert.deepEqual(validatorsFor('kubevirt.io', 'VirtualMachineInstance')[0].validate(vmi, ctx()), []);
  });
  it('keeps what the user set and derives a stable v5 UUID', () => {
    const vmi = istioVMI('mesh');
    spec(vmi).domain.cpu = { cores: 2 };
    applyDefaults('kubevirt.io', 'VirtualMachineInstance', vmi);
    assert.deepEqual(spec(vmi).domain.cpu, { cores: 2, sockets: 1, threads: 1 });
    assert.equal(spec(vmi).domain.devices.interfaces.length, 1);
    assert.equal(spec(vmi).readinessProbe.periodSeconds, 20);
    assert.match(firmwareUUID('istio-vmi'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(firmwareUUID('istio-vmi'), firmwareUUID('istio-vmi'));
  });
  it('does not add an interface when autoattachPodInterface is false', () => {
    const vmi: KubeObject = { metadata: { name: 'x' }, spec: { domain: { devices: { autoattachPodInterface: false } } } };
    applyDefaults('kubevirt.io', 'VirtualMachineInstance', vmi);
    assert.equal(spec(vmi).networks, undefined);
  });
});
