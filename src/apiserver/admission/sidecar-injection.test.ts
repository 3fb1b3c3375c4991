import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { launcherPod } from '../../controllers/launcher-pod.js';
import { injectSidecar, wantsSidecar } from './sidecar-injection.js';

const vmi = {
  metadata: { name: 'istio-vmi', namespace: 'default', uid: 'u1', labels: { app: 'istio-vmi' }, annotations: { 'sidecar.istio.io/inject': 'true' } },
  spec: {
    domain: { devices: { interfaces: [{ name: 'default', masquerade: {}, ports: [{ port: 8080 }] }] }, resources: { requests: { memory: '1024M' } } },
    readinessProbe: { httpGet: { port: 8080 }, initialDelaySeconds: 120, periodSeconds: 10, timeoutSeconds: 5 },
    volumes: [{ name: 'containerdisk', containerDisk: { image: 'kubevirt/fedora-cloud-container-disk-demo:devel' } }],
  },
};
const ns = (labels: Record<string, string>) => ({ metadata: { name: 'default', labels } });

describe('sidecar injection', () => {
  const pod = launcherPod(vmi, 1105) as any;

  it("follows Istio's policy: a selected namespace injects unless the pod opts out; a pod label injects elsewhere", () => {
    const enabled = ns({ 'istio-injection': 'enabled' });
    assert.equal(wantsSidecar(pod, enabled), true);
    assert.equal(wantsSidecar(pod, ns({ 'istio.io/rev': 'default' })), true);
    assert.equal(wantsSidecar(pod, ns({ 'istio.io/rev': 'canary' })), false, 'another revision is not ours');
    assert.equal(wantsSidecar(pod, ns({})), false, 'the annotation alone does not select a pod');
    assert.equal(wantsSidecar(pod, ns({ 'istio-injection': 'disabled', 'istio.io/rev': 'default' })), false);
    const variant = (labels: Record<string, string>, annotations: Record<string, string>) => {
      const p = structuredClone(pod);
      p.metadata.labels = { app: 'x', ...labels };
      p.metadata.annotations = { 'kubevirt.io/domain': 'x', ...annotations };
      return p;
    };
    assert.equal(wantsSidecar(variant({}, {}), enabled), true, 'default on in a selected namespace');
    assert.equal(wantsSidecar(variant({}, { 'sidecar.istio.io/inject': 'false' }), enabled), false);
    assert.equal(wantsSidecar(variant({ 'sidecar.istio.io/inject': 'false' }, { 'sidecar.istio.io/inject': 'true' }), enabled), false, 'the label wins');
    assert.equal(wantsSidecar(variant({}, { 'sidecar.istio.io/inject': 'no' }), enabled), false);
    assert.equal(wantsSidecar(variant({ 'sidecar.istio.io/inject': 'true' }, {}), ns({})), true, 'the pod label selects it anywhere');
    assert.equal(wantsSidecar(variant({ 'sidecar.istio.io/inject': 'true' }, {}), ns({ 'istio-injection': 'disabled' })), false);
    assert.equal(wantsSidecar(injectSidecar(pod), enabled), false, 'never twice');
    assert.equal(wantsSidecar({ metadata: { name: 'broken' } }, enabled), false, 'a pod without containers is left to validation');
  });

  const injected = injectSidecar(pod);
  it('adds istio-proxy and istio-validation, making three containers and three init containers', () => {
    assert.deepEqual(
      injected.spec.containers.map((c: any) => c.name),
      ['compute', 'volumecontainerdisk', 'istio-proxy'],
    );
    assert.deepEqual(
      injected.spec.initContainers.map((c: any) => c.name),
      ['istio-validation', 'container-disk-binary', 'volumecontainerdisk-init'],
    );
    const proxy = injected.spec.containers[2];
    assert.equal(proxy.securityContext.runAsUser, 1337);
    assert.deepEqual(proxy.readinessProbe.httpGet, { path: '/healthz/ready', port: 15021, scheme: 'HTTP' });
    const env = Object.fromEntries(proxy.env.map((e: any) => [e.name, e.value ?? e.valueFrom.fieldRef.fieldPath]));
    assert.equal(env.ISTIO_META_WORKLOAD_NAME, 'istio-vmi', "a launcher pod's workload is its VMI");
    assert.equal(env.ISTIO_META_OWNER, 'kubernetes://apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/istio-vmi');
    assert.equal(env.INSTANCE_IP, 'status.podIP');
    assert.equal(env.PILOT_ADDRESS, 'istiod.istio-system.svc:15010');
  });

  it("rewrites the VM's probe to the sidecar's agent and hands the original to it", () => {
    const compute = injected.spec.containers[0];
    assert.deepEqual(compute.readinessProbe, {
      httpGet: { path: '/app-health/compute/readyz', port: 15020, scheme: 'HTTP' },
      initialDelaySeconds: 120,
      periodSeconds: 10,
      timeoutSeconds: 5,
    });
    const probers = JSON.parse(injected.spec.containers[2].env.find((e: any) => e.name === 'ISTIO_KUBE_APP_PROBERS').value);
    assert.deepEqual(probers, { '/app-health/compute/readyz': { httpGet: { port: 8080, scheme: 'HTTP' }, timeoutSeconds: 5 } });
  });

  it("carries Istio's labels and annotations, with the istio-cni network for Multus", () => {
    const { labels, annotations } = injected.metadata;
    assert.equal(labels['security.istio.io/tlsMode'], 'istio');
    assert.equal(labels['service.istio.io/canonical-name'], 'istio-vmi');
    assert.equal(labels['service.istio.io/canonical-revision'], 'latest');
    assert.equal(annotations['k8s.v1.cni.cncf.io/networks'], 'istio-cni');
    assert.equal(annotations['prometheus.io/port'], '15020');
    assert.equal(annotations['traffic.sidecar.istio.io/kubevirtInterfaces'], 'k6t-eth0');
    assert.deepEqual(JSON.parse(annotations['sidecar.istio.io/status']).containers, ['istio-proxy']);
    assert.equal(pod.spec.containers.length, 2, 'the input is left as it was');
  });
});
