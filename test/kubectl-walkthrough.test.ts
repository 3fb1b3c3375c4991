// The walkthrough's kubectl commands, verbatim, against a real API server with the real kubectl.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { useCluster, walkthrough } from './helpers/cluster.js';

describe('the walkthrough with stock kubectl', () => {
  const c = useCluster();

  it('labels the default namespace for injection and shows the label in -o yaml', async () => {
    assert.equal((await c.k(['label', 'namespace', 'default', 'istio-injection=enabled'])).trim(), 'namespace/default labeled');
    const ns = YAML.parse(await c.k(['get', 'ns', 'default', '-o', 'yaml']));
    assert.equal(ns.metadata.labels['istio-injection'], 'enabled');
    assert.equal(ns.metadata.labels['kubernetes.io/metadata.name'], 'default');
    assert.equal(ns.status.phase, 'Active');
  });

  it('creates the NetworkAttachmentDefinition, both VMIs and the Service from stdin', async () => {
    assert.equal((await c.k(['create', '-f', '-'], walkthrough('nad.yaml'))).trim(), 'networkattachmentdefinition.k8s.cni.cncf.io/istio-cni created');
    assert.equal((await c.k(['create', '-f', '-'], walkthrough('istio-vmi.yaml'))).trim(), 'virtualmachineinstance.kubevirt.io/istio-vmi created');
    assert.equal((await c.k(['create', '-f-'], walkthrough('istio-vmi-svc.yaml'))).trim(), 'service/istio-vmi-svc created');
    assert.equal((await c.k(['create', '-f', '-'], walkthrough('cirros-vmi.yaml'))).trim(), 'virtualmachineinstance.kubevirt.io/cirros-vmi created');
  });

  it('prints the real columns for vmi, svc and net-attach-def', async () => {
    const out = await c.k(['get', 'vmi,svc,net-attach-def']);
    const lines = out.split('\n');
    assert.match(lines[0], /^NAME\s+AGE\s+PHASE\s+IP\s+NODENAME\s+READY$/);
    assert.ok(
      lines.some((l) => /^virtualmachineinstance\.kubevirt\.io\/istio-vmi\s+\d+s\s+Pending\s*$/.test(l)),
      out,
    );
    assert.ok(
      lines.some((l) => /^virtualmachineinstance\.kubevirt\.io\/cirros-vmi\s+\d+s/.test(l)),
      out,
    );
    assert.ok(
      lines.some((l) => /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/.test(l)),
      out,
    );
    assert.ok(
      lines.some((l) => /^service\/istio-vmi-svc\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+8080\/TCP\s+\d+s$/.test(l)),
      out,
    );
    assert.ok(
      lines.some((l) => /^service\/kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP/.test(l)),
      out,
    );
    assert.ok(
      lines.some((l) => /^networkattachmentdefinition\.k8s\.cni\.cncf\.io\/istio-cni\s+\d+s$/.test(l)),
      out,
    );
  });

  it('shows wide columns and short names', async () => {
    const wide = await c.k(['get', 'svc', 'istio-vmi-svc', '-o', 'wide']);
    assert.match(wide.split('\n')[0], /SELECTOR$/);
    assert.match(wide, /app=istio-vmi/);
    const vmis = await c.k(['get', 'vmis', '-o', 'name']);
    assert.deepEqual(vmis.trim().split('\n').sort(), ['virtualmachineinstance.kubevirt.io/cirros-vmi', 'virtualmachineinstance.kubevirt.io/istio-vmi']);
  });

  it('stores what was sent, with server-set metadata and KubeVirt defaults, as -o json shows', async () => {
    const vmi = JSON.parse(await c.k(['get', 'vmi', 'istio-vmi', '-o', 'json', '--show-managed-fields']));
    assert.equal(vmi.apiVersion, 'kubevirt.io/v1');
    assert.equal(vmi.metadata.annotations['sidecar.istio.io/inject'], 'true');
    assert.equal(vmi.metadata.labels.app, 'istio-vmi');
    assert.match(vmi.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(vmi.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(vmi.metadata.generation, 1);
    assert.deepEqual(vmi.spec.domain.devices.interfaces[0].ports, [{ port: 8080 }]);
    assert.equal(vmi.spec.readinessProbe.initialDelaySeconds, 120);
    assert.ok(vmi.metadata.managedFields.some((m: { manager: string }) => m.manager === 'kubectl-create'));
  });

  it('describes the VMI with its events', async () => {
    const vmi = JSON.parse(await c.k(['get', 'vmi', 'istio-vmi', '-o', 'json']));
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'istio-vmi.1', namespace: 'default' },
      involvedObject: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'istio-vmi', namespace: 'default', uid: vmi.metadata.uid },
      reason: 'SuccessfulCreate',
      message: 'Created virtual machine pod virt-launcher-istio-vmi-abcde',
      type: 'Normal',
      source: { component: 'virtualmachine-controller' },
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      count: 1,
    };
    await c.k(['create', '-f', '-'], JSON.stringify(event));
    const out = await c.k(['describe', 'vmi', 'istio-vmi']);
    assert.match(out, /^Name:\s+istio-vmi$/m);
    assert.match(out, /^Namespace:\s+default$/m);
    assert.match(out, /^Labels:\s+app=istio-vmi$/m);
    assert.match(out, /^Kind:\s+VirtualMachineInstance$/m);
    assert.match(out, /^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/m);
    assert.match(out, /Normal\s+SuccessfulCreate\s+\S+\s+virtualmachine-controller\s+Created virtual machine pod virt-launcher-istio-vmi-abcde/);
  });

  it('applies twice: created, then unchanged; a changed apply is configured', async () => {
    const svc = walkthrough('istio-vmi-svc.yaml').replace('name: istio-vmi-svc', 'name: applied-svc');
    assert.equal((await c.k(['apply', '-f', '-'], svc)).trim(), 'service/applied-svc created');
    assert.equal((await c.k(['apply', '-f', '-'], svc)).trim(), 'service/applied-svc unchanged');
    assert.equal((await c.k(['apply', '-f', '-'], svc.replace('port: 8080', 'port: 8081'))).trim(), 'service/applied-svc configured');
    const got = JSON.parse(await c.k(['get', 'svc', 'applied-svc', '-o', 'json']));
    assert.deepEqual(
      got.spec.ports.map((p: { port: number }) => p.port),
      [8081],
    );
    const nad = walkthrough('nad.yaml').replace('name: istio-cni', 'name: applied-nad');
    assert.equal((await c.k(['apply', '-f', '-'], nad)).trim(), 'networkattachmentdefinition.k8s.cni.cncf.io/applied-nad created');
    assert.equal((await c.k(['apply', '-f', '-'], nad)).trim(), 'networkattachmentdefinition.k8s.cni.cncf.io/applied-nad unchanged');
  });

  it('applies server-side, twice, and records the field manager', async () => {
    const vmi = walkthrough('cirros-vmi.yaml').replace('name: cirros-vmi', 'name: ssa-vmi');
    assert.equal((await c.k(['apply', '--server-side', '-f', '-'], vmi)).trim(), 'virtualmachineinstance.kubevirt.io/ssa-vmi serverside-applied');
    assert.equal((await c.k(['apply', '--server-side', '-f', '-'], vmi)).trim(), 'virtualmachineinstance.kubevirt.io/ssa-vmi serverside-applied');
    const got = JSON.parse(await c.k(['get', 'vmi', 'ssa-vmi', '-o', 'json', '--show-managed-fields']));
    const mf = got.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
    assert.equal(mf.operation, 'Apply');
    assert.ok(mf.fieldsV1['f:spec'], JSON.stringify(mf));
  });

  it('deletes with kubectl delete -f', async () => {
    const svc = walkthrough('istio-vmi-svc.yaml').replace('name: istio-vmi-svc', 'name: applied-svc');
    assert.equal((await c.k(['delete', '-f', '-'], svc)).trim(), 'service "applied-svc" deleted');
    const r = await c.kubectl(['get', 'svc', 'applied-svc']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error from server (NotFound): services "applied-svc" not found');
  });

  it('patches with every patch type kubectl offers', async () => {
    await c.k(['patch', 'vmi', 'istio-vmi', '--type', 'merge', '-p', '{"metadata":{"labels":{"tier":"web"}}}']);
    await c.k(['patch', 'vmi', 'istio-vmi', '--type', 'json', '-p', '[{"op":"add","path":"/metadata/labels/zone","value":"a"}]']);
    // Two ports need names (kube's rule); strategic merge matches the existing one by port.
    await c.k(['patch', 'svc', 'istio-vmi-svc', '-p', '{"spec":{"ports":[{"port":8080,"name":"http"},{"port":9090,"name":"extra"}]}}']);
    const vmi = JSON.parse(await c.k(['get', 'vmi', 'istio-vmi', '-o', 'json']));
    assert.equal(vmi.metadata.labels.tier, 'web');
    assert.equal(vmi.metadata.labels.zone, 'a');
    assert.equal(vmi.metadata.generation, 1, 'metadata changes do not bump generation');
    const svc = JSON.parse(await c.k(['get', 'svc', 'istio-vmi-svc', '-o', 'json']));
    assert.deepEqual(svc.spec.ports.map((p: { port: number }) => p.port).sort(), [8080, 9090], 'strategic merge keeps the other port');
    const strategicOnCrd = await c.kubectl(['patch', 'vmi', 'istio-vmi', '--type', 'strategic', '-p', '{"metadata":{"labels":{"x":"y"}}}']);
    assert.notEqual(strategicOnCrd.code, 0);
    assert.match(strategicOnCrd.stderr, /strategic/);
  });

  it('filters by label selector and field selector', async () => {
    const byLabel = await c.k(['get', 'vmi', '-l', 'app=istio-vmi', '-o', 'name']);
    assert.equal(byLabel.trim(), 'virtualmachineinstance.kubevirt.io/istio-vmi');
    const notIn = await c.k(['get', 'vmi', '-l', 'app notin (istio-vmi)', '-o', 'name']);
    assert.ok(!notIn.includes('/istio-vmi\n') && notIn.includes('cirros-vmi'));
    const byField = await c.k(['get', 'svc', '--field-selector', 'metadata.name=kubernetes', '-o', 'name']);
    assert.equal(byField.trim(), 'service/kubernetes');
    const bad = await c.kubectl(['get', 'svc', '--field-selector', 'spec.bogus=1']);
    assert.match(bad.stderr, /field label not supported: spec\.bogus/);
  });

  it('lists across namespaces and deletes a namespace with its content', async () => {
    await c.k(['create', 'namespace', 'scratch']);
    await c.k(['create', '-n', 'scratch', '-f', '-'], walkthrough('istio-vmi-svc.yaml'));
    const all = await c.k(['get', 'svc', '-A']);
    assert.match(all, /^scratch\s+istio-vmi-svc\s+ClusterIP/m);
    assert.match(all, /^default\s+kubernetes\s+ClusterIP/m);
    const sa = await c.k(['get', 'serviceaccount', '-n', 'scratch', '-o', 'name']);
    assert.equal(sa.trim(), 'serviceaccount/default');
    assert.equal((await c.k(['delete', 'namespace', 'scratch', '--wait=true', '--timeout=30s'])).trim(), 'namespace "scratch" deleted');
    const gone = await c.kubectl(['get', 'ns', 'scratch']);
    assert.match(gone.stderr, /namespaces "scratch" not found/);
  });

  it('lists the CustomResourceDefinitions a KubeVirt + Istio cluster has, read-only', async () => {
    const names = (await c.k(['get', 'crd', '-o', 'name'])).trim().split('\n');
    for (const n of [
      'virtualmachineinstances.kubevirt.io',
      'virtualmachines.kubevirt.io',
      'network-attachment-definitions.k8s.cni.cncf.io',
      'virtualservices.networking.istio.io',
      'peerauthentications.security.istio.io',
    ]) {
      assert.ok(names.includes(`customresourcedefinition.apiextensions.k8s.io/${n}`), n);
    }
    const crd = JSON.parse(await c.k(['get', 'crd', 'virtualmachineinstances.kubevirt.io', '-o', 'json']));
    assert.deepEqual(crd.spec.names.shortNames, ['vmi', 'vmis']);
    assert.equal(crd.status.conditions.find((x: { type: string }) => x.type === 'Established').status, 'True');
    assert.ok(
      crd.spec.versions[0].additionalPrinterColumns.some((col: { name: string; jsonPath: string }) => col.name === 'Phase' && col.jsonPath === '.status.phase'),
    );
    const del = await c.kubectl(['delete', 'crd', 'virtualmachineinstances.kubevirt.io']);
    assert.notEqual(del.code, 0);
    assert.match(del.stderr, /read-only/);
  });

  it("creates core objects with kubectl's typed generators (protobuf bodies)", async () => {
    assert.equal((await c.k(['create', 'configmap', 'gen-cm', '--from-literal=a=b'])).trim(), 'configmap/gen-cm created');
    assert.equal((await c.k(['create', 'secret', 'generic', 'gen-secret', '--from-literal=k=v'])).trim(), 'secret/gen-secret created');
    assert.equal((await c.k(['create', 'serviceaccount', 'gen-sa'])).trim(), 'serviceaccount/gen-sa created');
    assert.equal((await c.k(['create', 'service', 'clusterip', 'gen-svc', '--tcp=80:8080'])).trim(), 'service/gen-svc created');
    assert.equal(await c.k(['get', 'configmap', 'gen-cm', '-o', 'jsonpath={.data.a}']), 'b');
    assert.equal(await c.k(['get', 'secret', 'gen-secret', '-o', 'jsonpath={.data.k}']), Buffer.from('v').toString('base64'));
    assert.equal(await c.k(['get', 'svc', 'gen-svc', '-o', 'jsonpath={.spec.ports[0].targetPort}']), '8080');
  });
});
