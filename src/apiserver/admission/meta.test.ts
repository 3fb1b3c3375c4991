import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldErrorMessage, type KubeObject, type NameRule, validateObjectMeta } from './index.js';

const check = (
  metadata: KubeObject['metadata'],
  opts: { namespaced: boolean; nameRule: NameRule } = { namespaced: true, nameRule: 'subdomain' },
  kind?: string,
) => validateObjectMeta({ kind, metadata }, opts).map(fieldErrorMessage);

const SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

describe('validateObjectMeta', () => {
  it('accepts ordinary metadata', () => {
    assert.deepEqual(
      check({ name: 'web-1.v2', namespace: 'default', labels: { app: 'web', 'app.kubernetes.io/name': 'web' }, annotations: { 'example.com/Note': 'x' } }),
      [],
    );
  });
  it("names are DNS-1123 subdomains, with kube's message", () => {
    assert.deepEqual(check({ name: 'Bad_Name', namespace: 'default' }), [`metadata.name: Invalid value: "Bad_Name": ${SUBDOMAIN}`]);
    assert.deepEqual(check({ name: 'x'.repeat(254), namespace: 'default' }), [
      `metadata.name: Invalid value: "${'x'.repeat(254)}": must be no more than 253 characters`,
    ]);
  });
  it('label-named kinds take 63-character labels; Services DNS-1035 labels', () => {
    const label = { namespaced: false, nameRule: 'label' as const };
    assert.deepEqual(check({ name: 'a.b' }, label, 'Namespace'), [`metadata.name: Invalid value: "a.b": ${LABEL}`]);
    assert.deepEqual(check({ name: 'a'.repeat(64) }, label, 'Namespace'), [
      `metadata.name: Invalid value: "${'a'.repeat(64)}": must be no more than 63 characters`,
    ]);
    assert.deepEqual(check({ name: '1web', namespace: 'default' }, { namespaced: true, nameRule: 'label' }, 'Service'), [
      `metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    ]);
  });
  it('name or generateName; generateName may end in a dash', () => {
    assert.deepEqual(check({ namespace: 'default' }), ['metadata.name: Required value: name or generateName is required']);
    assert.deepEqual(check({ generateName: 'web-', namespace: 'default' }), []);
    assert.deepEqual(check({ generateName: 'Web-', namespace: 'default' }), [`metadata.generateName: Invalid value: "Web-": ${SUBDOMAIN}`]);
  });
  it('namespace is required for namespaced kinds and is a label', () => {
    assert.deepEqual(check({ name: 'x' }), ['metadata.namespace: Required value']);
    assert.deepEqual(check({ name: 'x', namespace: 'My.NS' }), [`metadata.namespace: Invalid value: "My.NS": ${LABEL}`]);
  });
  it('label keys and values', () => {
    assert.deepEqual(check({ name: 'x', namespace: 'd', labels: { '-bad': 'ok', good: 'not ok', 'Example.com/x': 'v' } }), [
      `metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
      `metadata.labels: Invalid value: "not ok": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      `metadata.labels: Invalid value: "Example.com/x": prefix part ${SUBDOMAIN}`,
    ]);
    assert.deepEqual(check({ name: 'x', namespace: 'd', labels: { k: 'v'.repeat(64) } }), [
      `metadata.labels: Invalid value: "${'v'.repeat(64)}": must be no more than 63 characters`,
    ]);
  });
  it('annotations: keys are case-insensitive qualified names, 256 KiB in total', () => {
    assert.deepEqual(check({ name: 'x', namespace: 'd', annotations: { 'Example.COM/Key': 'v' } }), []);
    assert.deepEqual(check({ name: 'x', namespace: 'd', annotations: { big: 'x'.repeat(256 * 1024) } }), [
      'metadata.annotations: Too long: may not be more than 262144 bytes',
    ]);
  });
  it('finalizers are qualified names, standard or prefixed', () => {
    assert.deepEqual(check({ name: 'x', namespace: 'd', finalizers: ['kubernetes', 'example.com/cleanup', 'foregroundDeletion'] }), []);
    assert.deepEqual(check({ name: 'x', namespace: 'd', finalizers: ['cleanup'] }), [
      'metadata.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified',
    ]);
    assert.deepEqual(check({ name: 'x', namespace: 'd', finalizers: ['orphan', 'foregroundDeletion'] }), [
      'metadata.finalizers: Invalid value: ["orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be both set',
    ]);
  });
  it('ownerReferences name their owner completely, and only one is the controller', () => {
    const ref = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'vm', uid: 'u1' };
    assert.deepEqual(check({ name: 'x', namespace: 'd', ownerReferences: [ref] }), []);
    assert.deepEqual(check({ name: 'x', namespace: 'd', ownerReferences: [{ apiVersion: 'kubevirt.io/', kind: '', name: 'vm' }] }), [
      'metadata.ownerReferences.apiVersion: Invalid value: "kubevirt.io/": version must not be empty',
      'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
      'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
    ]);
    const two = [
      { ...ref, controller: true },
      { ...ref, name: 'other', uid: 'u2', controller: true },
    ];
    assert.match(
      check({ name: 'x', namespace: 'd', ownerReferences: two })[0],
      /Only one reference can have Controller set to true\. Found "true" in references for VirtualMachineInstance\/vm and VirtualMachineInstance\/other$/,
    );
  });
});
