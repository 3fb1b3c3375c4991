import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import type { KubeObject } from '../admission/types.js';
import { checkStructure, pruneUnknownFields, schemaFor } from './index.js';

const VMI = { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstance' };
const VM = { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachine' };

/** The walkthrough's istio-vmi, verbatim. */
const walkthroughVmi = (): KubeObject =>
  parse(`
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  annotations:
    sidecar.istio.io/inject: "true"
  labels:
    app: istio-vmi
  name: istio-vmi
spec:
  domain:
    devices:
      interfaces:
        - name: default
          masquerade: {}
          ports:
            - port: 8080
      disks:
        - disk:
            bus: virtio
          name: containerdisk
        - disk:
            bus: virtio
          name: cloudinitdisk
    resources:
      requests:
        memory: 1024M
  networks:
    - name: default
      pod: {}
  readinessProbe:
    httpGet:
      port: 8080
    initialDelaySeconds: 120
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
    successThreshold: 3
  terminationGracePeriodSeconds: 0
  volumes:
    - name: containerdisk
      containerDisk:
        image: kubevirt/fedora-cloud-container-disk-demo:devel
    - cloudInitNoCloud:
        userData: |
          #cloud-config
          password: fedora
          chpasswd: { expire: False }
      name: cloudinitdisk
`);

describe('KubeVirt schemas', () => {
  it('accepts the walkthrough VirtualMachineInstance as it is', () => {
    assert.deepEqual(checkStructure(walkthroughVmi(), VMI), { unknownFields: [], errors: [] });
  });

  it('accepts a VMI with the status a controller writes', () => {
    const vmi = walkthroughVmi();
    vmi.status = {
      phase: 'Running',
      nodeName: 'virtmesh',
      conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-01-01T00:00:00Z' }],
      interfaces: [{ name: 'default', ipAddress: '10.244.0.12', ipAddresses: ['10.244.0.12'], mac: '52:54:00:12:34:56' }],
      guestOSInfo: { id: 'fedora' },
    };
    assert.deepEqual(checkStructure(vmi, VMI), { unknownFields: [], errors: [] });
  });

  it('reports exactly the unknown field under spec.domain', () => {
    const vmi = walkthroughVmi();
    (vmi.spec as { domain: Record<string, unknown> }).domain.bogusField = 1;
    const result = checkStructure(vmi, VMI);
    assert.deepEqual(result.unknownFields, ['spec.domain.bogusField']);
    assert.deepEqual(result.errors, []);
  });

  it('treats an empty struct such as masquerade as closed', () => {
    const vmi = walkthroughVmi();
    const spec = vmi.spec as { domain: { devices: { interfaces: Array<Record<string, unknown>> } } };
    spec.domain.devices.interfaces[0].masquerade = { mode: 'x' };
    assert.deepEqual(checkStructure(vmi, VMI).unknownFields, ['spec.domain.devices.interfaces[0].masquerade.mode']);
  });

  it('reports a string terminationGracePeriodSeconds as kube-apiserver does', () => {
    const vmi = walkthroughVmi();
    (vmi.spec as Record<string, unknown>).terminationGracePeriodSeconds = 'x';
    const { errors } = checkStructure(vmi, VMI);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].type, 'FieldValueTypeInvalid');
    assert.equal(errors[0].field, 'spec.terminationGracePeriodSeconds');
    assert.equal(errors[0].badValue, 'string');
    assert.equal(errors[0].detail, 'spec.terminationGracePeriodSeconds in body must be of type integer: "string"');
  });

  it('accepts memory as a number, rejects it as a boolean', () => {
    const vmi = walkthroughVmi();
    const resources = (vmi.spec as { domain: { resources: { requests: Record<string, unknown> } } }).domain.resources;
    resources.requests.memory = 1073741824;
    assert.deepEqual(checkStructure(vmi, VMI).errors, []);
    resources.requests.memory = true;
    assert.deepEqual(
      checkStructure(vmi, VMI).errors.map((e) => e.detail),
      ['spec.domain.resources.requests.memory in body must be of type string,number: "boolean"'],
    );
  });

  it('reports required fields: a disk without a name, a VMI without a spec', () => {
    const vmi = walkthroughVmi();
    const devices = (vmi.spec as { domain: { devices: { disks: Array<Record<string, unknown>> } } }).domain.devices;
    delete devices.disks[1].name;
    assert.deepEqual(checkStructure(vmi, VMI).errors, [{ type: 'FieldValueRequired', field: 'spec.domain.devices.disks[1].name', detail: undefined }]);
    assert.deepEqual(
      checkStructure({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'x' } }, VMI).errors.map((e) => e.field),
      ['spec'],
    );
  });

  it('prunes unknown fields and keeps the rest', () => {
    const vmi = walkthroughVmi();
    const spec = vmi.spec as { domain: Record<string, unknown> };
    spec.domain.bogusField = { deep: true };
    const pruned = pruneUnknownFields(vmi, VMI);
    assert.deepEqual(pruned, walkthroughVmi());
    assert.deepEqual(spec.domain.bogusField, { deep: true }, 'the input is left alone');
  });

  it('knows VirtualMachine, whose template carries a VMI spec', () => {
    const vm: KubeObject = {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'vm' },
      spec: { runStrategy: 'Always', template: { metadata: { labels: { app: 'vm' } }, spec: walkthroughVmi().spec } },
    };
    assert.deepEqual(checkStructure(vm, VM), { unknownFields: [], errors: [] });
    (vm.spec as { template: { metadata: Record<string, unknown> } }).template.metadata.labelz = {};
    assert.deepEqual(checkStructure(vm, VM).unknownFields, ['spec.template.metadata.labelz']);
  });

  it('checks a VMI in well under a millisecond once warm', () => {
    const vmi = walkthroughVmi();
    checkStructure(vmi, VMI);
    const n = 2000;
    const start = performance.now();
    for (let i = 0; i < n; i++) checkStructure(vmi, VMI);
    const perCheck = (performance.now() - start) / n;
    assert.ok(perCheck < 0.25, `${perCheck} ms per check`);
  });

  it('serves a schema with spec and status, and the generated file says where it comes from', () => {
    const schema = schemaFor(VMI) as { properties: Record<string, { properties?: Record<string, unknown> }> };
    assert.ok(schema.properties.spec.properties?.domain);
    assert.ok(schema.properties.status.properties?.phase);
    assert.doesNotMatch(JSON.stringify(schema), /\$ref/);
    const generated = JSON.parse(readFileSync(new URL('./kubevirt.gen.json', import.meta.url), 'utf8'));
    assert.match(generated.$comment, /gen-kubevirt-schema\.mjs/);
    assert.match(generated.$comment, /Apache-2\.0/);
  });
});
