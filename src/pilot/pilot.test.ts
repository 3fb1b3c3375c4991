// The control plane against a real API server: objects written through the API reach
// a connected (simulated) proxy, and the CLI reads the result as istioctl would.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { useCluster } from '../../test/helpers/cluster.js';
import { eventually } from '../../test/helpers/eventually.js';
import { readConfig } from '../cli/config.js';
import { proxyConfig, proxyStatus, readPilotInfo, writePilotInfo } from '../cli/mesh.js';
import { type KubeObject, resourcePath } from '../client/index.js';
import { type ClusterLoadAssignment, type Listener, TypeUrl } from '../proxy/config.js';
import { buildConfigDump } from './config-dump.js';
import { type RunningPilot, startPilot } from './index.js';
import { sidecarNode } from './proxy-node.js';
import type { ProxySyncStatus } from './server.js';
import { SimulatedProxy } from './simulated-proxy.js';

const NS = 'default';
const podsPath = (name?: string, sub?: string) => resourcePath({ version: 'v1', plural: 'pods', namespace: NS, name, subresource: sub });
const slicePath = (name?: string) => resourcePath({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespace: NS, name });
const vmiPath = resourcePath({ group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespace: NS });
const vsPath = (name?: string) => resourcePath({ group: 'networking.istio.io', version: 'v1', plural: 'virtualservices', namespace: NS, name });

const ISTIO_POD = 'virt-launcher-istio-vmi-abcde';
const CIRROS_POD = 'virt-launcher-cirros-vmi-fghij';
const HOST = 'istio-vmi-svc.default.svc.cluster.local';
const SVC_CLUSTER = `outbound|8080||${HOST}`;

describe('mesh control plane with a real API server', () => {
  let pilot: RunningPilot | undefined;
  const proxies: SimulatedProxy[] = [];
  const logs: string[] = [];
  // Registered before the cluster's own hook: the control plane and its proxies stop before the API server does.
  after(async () => {
    for (const p of proxies) await p.close();
    await pilot?.close();
  });
  const cluster = useCluster();
  const c = () => cluster.client;
  let clusterIP = '';

  /** A VMI (the pods' owner, so the garbage collector leaves them) and its launcher pod with the given IP. */
  async function launcherPod(vmi: string, pod: string, ip: string, ports: number[]) {
    const owner = await c().create(vmiPath, {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: vmi, labels: { app: vmi } },
      spec: {
        domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] }, resources: { requests: { memory: '128M' } } },
        networks: [{ name: 'default', pod: {} }],
      },
    });
    await c().create(podsPath(), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: pod,
        labels: { app: vmi, 'kubevirt.io': 'virt-launcher' },
        annotations: { 'kubevirt.io/domain': vmi },
        ownerReferences: [
          { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: vmi, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: {
        containers: [
          {
            name: 'compute',
            image: 'quay.io/kubevirt/virt-launcher:v1.4.0',
            ...(ports.length ? { ports: ports.map((p) => ({ containerPort: p, protocol: 'TCP' })) } : {}),
          },
          { name: 'istio-proxy', image: 'virtmesh/proxy' },
        ],
      },
    });
    await c().patch(podsPath(pod, 'status'), { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } });
  }

  const slice = (ready: boolean) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'istio-vmi-svc-abcde', labels: { 'kubernetes.io/service-name': 'istio-vmi-svc' } },
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.244.0.5'], conditions: { ready, serving: ready, terminating: false }, targetRef: { kind: 'Pod', namespace: NS, name: ISTIO_POD } },
    ],
    ports: [{ name: '', port: 8080, protocol: 'TCP' }],
  });

  before(async () => {
    const svc = await c().create(resourcePath({ version: 'v1', plural: 'services', namespace: NS }), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'istio-vmi-svc' },
      spec: { selector: { app: 'istio-vmi' }, ports: [{ port: 8080, protocol: 'TCP' }] },
    });
    clusterIP = (svc.spec as { clusterIP: string }).clusterIP;
    await launcherPod('istio-vmi', ISTIO_POD, '10.244.0.5', [8080]);
    await launcherPod('cirros-vmi', CIRROS_POD, '10.244.0.6', []);
    await c().create(slicePath(), slice(true));
    pilot = await startPilot({
      client: c(),
      xdsHost: '127.0.0.1',
      xdsPort: 0,
      debugHost: '127.0.0.1',
      debugPort: 0,
      name: 'istiod-node01',
      debounceMs: 20,
      log: (l) => logs.push(l),
    });
  });

  const connect = async (pod: string, ip: string, reject?: (res: { typeUrl: string; resources: unknown[] }) => string | undefined) => {
    const p = await SimulatedProxy.connect({ host: '127.0.0.1', port: pilot?.xdsPort ?? 0, node: sidecarNode({ podName: pod, namespace: NS, ip }), reject });
    proxies.push(p);
    return p;
  };
  const statusOf = (pod: string) => pilot?.syncStatus().find((s) => s.proxy === `${pod}.${NS}`);
  const synced = (s: ProxySyncStatus | undefined) => s !== undefined && Object.values(s.types).every((t) => t.status === 'SYNCED');
  const eds = (p: SimulatedProxy) => p.resources<ClusterLoadAssignment>(TypeUrl.endpoint).find((a) => a.clusterName === SVC_CLUSTER);

  it("gives a connected proxy the Service's cluster, listener and endpoint, with the VMI as workload", async () => {
    const p = await connect(CIRROS_POD, '10.244.0.6');
    await p.waitFor('endpoints of istio-vmi-svc', () => eds(p)?.endpoints.length === 1);
    assert.deepEqual(
      p.resources<{ name: string }>(TypeUrl.cluster).map((x) => x.name),
      [SVC_CLUSTER, 'outbound|443||kubernetes.default.svc.cluster.local', 'BlackHoleCluster', 'InboundPassthroughCluster', 'PassthroughCluster'],
    );
    assert.ok(p.resources<Listener>(TypeUrl.listener).some((l) => l.name === `${clusterIP}_8080`));
    const ep = eds(p)?.endpoints[0];
    assert.deepEqual(
      [ep?.address, ep?.port, ep?.healthStatus, ep?.workload?.workload, ep?.workload?.app],
      ['10.244.0.5', 8080, 'HEALTHY', 'istio-vmi', 'istio-vmi'],
    );
    await eventually('proxy SYNCED', async () => synced(statusOf(CIRROS_POD)));
  });

  it('sends a changed endpoint as a new EDS version, and syncz reports it SYNCED', async () => {
    const p = proxies[0];
    const before = p.version(TypeUrl.endpoint);
    const cdsSent = p.responsesOf(TypeUrl.cluster).length;
    await c().patch(slicePath('istio-vmi-svc-abcde'), { endpoints: slice(false).endpoints });
    await p.waitFor('the endpoint UNHEALTHY', () => eds(p)?.endpoints[0]?.healthStatus === 'UNHEALTHY');
    const after = p.version(TypeUrl.endpoint);
    assert.notEqual(after, before);
    assert.match(after, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\/\d+$/);
    assert.equal(p.responsesOf(TypeUrl.cluster).length, cdsSent);
    const status = await eventually('EDS of the new version ACKed', async () => {
      const s = statusOf(CIRROS_POD);
      return synced(s) && s?.types.EDS.ackedVersion === after && s;
    });
    assert.equal(status.istiod, 'istiod-node01');
  });

  it('follows MeshConfig: REGISTRY_ONLY sends unknown destinations to BlackHoleCluster', async () => {
    const p = proxies[0];
    const outboundDefault = () => p.resources<Listener>(TypeUrl.listener).find((l) => l.name === 'virtualOutbound')?.defaultFilterChain?.filter;
    assert.deepEqual(outboundDefault(), { type: 'tcp', cluster: 'PassthroughCluster' });
    await c().create(resourcePath({ version: 'v1', plural: 'namespaces' }), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
    await c().create(resourcePath({ version: 'v1', plural: 'configmaps', namespace: 'istio-system' }), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio' },
      data: { mesh: 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n' },
    });
    await p.waitFor(
      'BlackHoleCluster as the default',
      () => JSON.stringify(outboundDefault()) === JSON.stringify({ type: 'tcp', cluster: 'BlackHoleCluster' }),
    );
  });

  it('reports a proxy that rejects a VirtualService regex NACKED, and SYNCED again once it is gone', async () => {
    const rejectUncompilable = (res: { typeUrl: string; resources: unknown[] }) => {
      const m = res.typeUrl === TypeUrl.route ? JSON.stringify(res.resources).match(/"safeRegex":("(?:[^"\\]|\\.)*")/) : null;
      if (!m) return undefined;
      try {
        new RegExp(JSON.parse(m[1]));
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    };
    const p = await connect(ISTIO_POD, '10.244.0.5', rejectUncompilable);
    await eventually('istio-vmi SYNCED', async () => synced(statusOf(ISTIO_POD)));
    const good = p.version(TypeUrl.route);
    await c().create(vsPath(), {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'bad-regex' },
      spec: { hosts: ['istio-vmi-svc'], http: [{ match: [{ uri: { regex: '/(?P<name>x)' } }], route: [{ destination: { host: 'istio-vmi-svc' } }] }] },
    });
    const nacked = await eventually('RDS NACKED', async () => statusOf(ISTIO_POD)?.types.RDS.status === 'NACKED' && statusOf(ISTIO_POD));
    assert.match(nacked.types.RDS.error ?? '', /Invalid regular expression/);
    assert.equal(p.version(TypeUrl.route), good);
    await c().delete(vsPath('bad-regex'));
    await eventually('SYNCED after the VirtualService is gone', async () => synced(statusOf(ISTIO_POD)));
    assert.notEqual(p.version(TypeUrl.route), good);
  });

  describe('the CLI', () => {
    const output = () => {
      const chunks: string[] = [];
      const stream = new Writable({
        write(chunk, _enc, done) {
          chunks.push(String(chunk));
          done();
        },
      });
      return { stream, text: () => chunks.join('') };
    };
    const cfg = () => {
      writePilotInfo(cluster.dir, { debugUrl: `http://127.0.0.1:${pilot?.debugPort}`, name: 'istiod-node01' });
      return readConfig({ VIRTMESH_STATE_DIR: cluster.dir });
    };
    /** What the simulated proxy would serve as its admin /config_dump. */
    const proxyDump = (p: SimulatedProxy) => () =>
      Promise.resolve(
        buildConfigDump({
          clusters: { version: p.version(TypeUrl.cluster), items: p.resources(TypeUrl.cluster) },
          listeners: { version: p.version(TypeUrl.listener), items: p.resources(TypeUrl.listener) },
          routes: { version: p.version(TypeUrl.route), items: p.resources(TypeUrl.route) },
          endpoints: { version: p.version(TypeUrl.endpoint), items: p.resources(TypeUrl.endpoint) },
        }),
      );

    it('proxy-status lists both proxies SYNCED, with the control plane named', async () => {
      await eventually('both SYNCED', async () => synced(statusOf(CIRROS_POD)) && synced(statusOf(ISTIO_POD)));
      const out = output();
      await proxyStatus(cfg(), undefined, {}, out.stream);
      const lines = out.text().trimEnd().split('\n');
      assert.match(lines[0], /^NAME +CLUSTER +CDS +LDS +EDS +RDS +ECDS +ISTIOD +VERSION$/);
      assert.match(lines[1], /^virt-launcher-cirros-vmi-fghij\.default +Kubernetes +SYNCED +SYNCED +SYNCED +SYNCED +SYNCED +istiod-node01 +1\.10\.0$/);
      assert.match(lines[2], /^virt-launcher-istio-vmi-abcde\.default +Kubernetes( +SYNCED){5} +istiod-node01 +1\.10\.0$/);
    });

    it("proxy-status <pod> details one proxy and compares the proxy's config with what was sent", async () => {
      const out = output();
      await proxyStatus(cfg(), CIRROS_POD, { namespace: NS }, out.stream, { client: c(), fetchProxyDump: proxyDump(proxies[0]) });
      assert.match(out.text(), /^EDS +SYNCED /m);
      assert.match(out.text(), /^Clusters Match\nListeners Match\nRoutes Match\nEndpoints Match$/m);
    });

    it('proxy-config prints the tables of what the proxy has, and JSON with -o json', async () => {
      const out = output();
      await proxyConfig(cfg(), 'cluster', `${CIRROS_POD}.${NS}`, {}, out.stream, { client: c(), fetchProxyDump: proxyDump(proxies[0]) });
      assert.match(out.text(), /^istio-vmi-svc\.default\.svc\.cluster\.local +8080 +- +outbound +EDS +$/m);
      const json = output();
      await proxyConfig(cfg(), 'endpoint', CIRROS_POD, { output: 'json' }, json.stream, { client: c(), fetchProxyDump: proxyDump(proxies[0]) });
      assert.equal((JSON.parse(json.text()) as ClusterLoadAssignment[])[0].clusterName, SVC_CLUSTER);
    });

    it('says clearly when the control plane has not written where it is', async () => {
      const cfgWithout = readConfig({ VIRTMESH_STATE_DIR: `${cluster.dir}/nowhere` });
      assert.throws(() => readPilotInfo(cfgWithout.stateDir), /the mesh control plane is not running \(no .*pilot\.json\)/);
      await assert.rejects(proxyStatus(cfgWithout, undefined, {}, output().stream), /the mesh control plane is not running/);
    });

    it('proxy-config refuses a pod without a sidecar as istioctl does', async () => {
      await c().create(podsPath(), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'app', image: 'busybox' }] } });
      await assert.rejects(
        proxyConfig(cfg(), 'cluster', 'plain', {}, output().stream, { client: c(), fetchProxyDump: () => Promise.resolve({} as KubeObject) }),
        /container istio-proxy is not valid for pod plain/,
      );
      await assert.rejects(proxyConfig(cfg(), 'cluster', 'nothere', {}, output().stream, { client: c() }), /pods "nothere" not found/);
    });
  });
});
