// Bad input gets kubectl's usual error lines, and changes nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useCluster, walkthrough } from './helpers/cluster.js';

describe('bad input through kubectl', () => {
  const c = useCluster();
  /** Every VMI name in the default namespace: what must stay unchanged after each failure. */
  const vmiNames = async () => (await c.k(['get', 'vmi', '-o', 'name'])).trim();
  const rename = (yaml: string, name: string) => yaml.replace(/^ {2}name: .*$/m, `  name: ${name}`);

  it('setup: an injected namespace with the walkthrough VMI', async () => {
    await c.k(['label', 'namespace', 'default', 'istio-injection=enabled']);
    await c.k(['create', '-f', '-'], walkthrough('nad.yaml'));
    await c.k(['create', '-f', '-'], walkthrough('istio-vmi.yaml'));
  });

  it('malformed YAML is refused by kubectl before anything is sent', async () => {
    const before = await vmiNames();
    const r = await c.kubectl(['create', '-f', '-'], 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: [broken\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: error parsing STDIN: error converting YAML to JSON: yaml: /);
    assert.equal(await vmiNames(), before);
  });

  it('an unknown kind is "no matches for kind"', async () => {
    const r = await c.kubectl(['create', '-f', '-'], 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineFoo\nmetadata:\n  name: x\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no matches for kind "VirtualMachineFoo" in version "kubevirt\.io\/v1"/);
  });

  it('a wrong apiVersion is "no matches for kind" in that version', async () => {
    const r = await c.kubectl(['create', '-f', '-'], rename(walkthrough('istio-vmi.yaml'), 'v2-vmi').replace('kubevirt.io/v1', 'kubevirt.io/v2'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no matches for kind "VirtualMachineInstance" in version "kubevirt\.io\/v2"/);
    assert.doesNotMatch(await vmiNames(), /v2-vmi/);
  });

  it('an unknown field is a strict decoding error naming the field', async () => {
    const yaml = rename(walkthrough('istio-vmi.yaml'), 'odd-vmi').replace(/^ {2}domain:$/m, '  domain:\n    bogusField: 1');
    const r = await c.kubectl(['create', '-f', '-'], yaml);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      'Error from server (BadRequest): error when creating "STDIN": VirtualMachineInstance in version "v1" cannot be handled as a VirtualMachineInstance: strict decoding error: unknown field "spec.domain.bogusField"',
    );
    assert.doesNotMatch(await vmiNames(), /odd-vmi/);
  });

  it('an unknown field with --validate=warn is a warning and is dropped', async () => {
    const yaml = rename(walkthrough('istio-vmi.yaml'), 'warn-vmi').replace(/^ {2}domain:$/m, '  domain:\n    bogusField: 1');
    const r = await c.kubectl(['create', '--validate=warn', '-f', '-'], yaml);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: unknown field "spec.domain.bogusField"/);
    const stored = JSON.parse(await c.k(['get', 'vmi', 'warn-vmi', '-o', 'json']));
    assert.equal(stored.spec.domain.bogusField, undefined);
    await c.k(['delete', 'vmi', 'warn-vmi']);
  });

  it('bridge binding in an injected namespace is denied: Istio needs masquerade', async () => {
    const before = await vmiNames();
    const yaml = rename(walkthrough('istio-vmi.yaml'), 'bad-vmi').replace('masquerade: {}', 'bridge: {}');
    const r = await c.kubectl(['create', '-f', '-'], yaml);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^The request is invalid: spec\.domain\.devices\.interfaces\[0\]/);
    assert.match(r.stderr, /masquerade/);
    assert.equal(await vmiNames(), before);
  });

  it('a duplicate name is AlreadyExists', async () => {
    const r = await c.kubectl(['create', '-f', '-'], walkthrough('istio-vmi.yaml'));
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      'Error from server (AlreadyExists): error when creating "STDIN": virtualmachineinstances.kubevirt.io "istio-vmi" already exists',
    );
  });

  it('a wrong JSON type is Invalid with the field path', async () => {
    const yaml = walkthrough('istio-vmi-svc.yaml').replace('port: 8080', 'port: "eighty"');
    const r = await c.kubectl(['create', '-f', '-'], yaml);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /spec\.ports\[0\]\.port/);
    assert.equal((await c.kubectl(['get', 'svc', 'istio-vmi-svc'])).code, 1);
  });

  it("a port out of range is Invalid in kube's words", async () => {
    const r = await c.kubectl(['create', '-f', '-'], walkthrough('istio-vmi-svc.yaml').replace('port: 8080', 'port: 70000'));
    assert.equal(r.code, 1);
    // targetPort defaults to port before validation, so kube reports both.
    assert.equal(
      r.stderr.trim(),
      [
        'The Service "istio-vmi-svc" is invalid: ',
        '* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
        '* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      ].join('\n'),
    );
  });

  it('an Istio weight total other than 100 is denied by validation.istio.io', async () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: split
spec:
  hosts: [istio-vmi-svc]
  http:
  - route:
    - destination: {host: istio-vmi-svc, subset: a}
      weight: 50
    - destination: {host: istio-vmi-svc, subset: b}
      weight: 40
`;
    const r = await c.kubectl(['create', '-f', '-'], vs);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error from server: error when creating "STDIN": admission webhook "validation.istio.io" denied the request: configuration is invalid: .*total destination weight 90 != 100/,
    );
    assert.equal((await c.kubectl(['get', 'vs', 'split'])).code, 1);
  });

  it('creating in a namespace that does not exist is NotFound', async () => {
    const r = await c.kubectl(['create', '-n', 'nowhere', '-f', '-'], walkthrough('istio-vmi-svc.yaml'));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error from server (NotFound): error when creating "STDIN": namespaces "nowhere" not found');
  });

  it("an invalid name is Invalid with kube's RFC 1123 message", async () => {
    const r = await c.kubectl(['create', 'namespace', 'Bad_Name']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of/);
  });
});
