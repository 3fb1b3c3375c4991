import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useCluster } from '../../test/helpers/cluster.js';
import { eventually } from '../../test/helpers/eventually.js';
import { isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import { startEndpointsController } from './endpoints.js';

type Slice = KubeObject & { endpoints?: any[]; ports?: unknown[] };

const NS = 'default';
const podPath = (name?: string, subresource?: string) => resourcePath({ version: 'v1', plural: 'pods', namespace: NS, name, subresource });
const servicePath = (name?: string) => resourcePath({ version: 'v1', plural: 'services', namespace: NS, name });
const endpointsPath = (name?: string) => resourcePath({ version: 'v1', plural: 'endpoints', namespace: NS, name });
const slicesPath = resourcePath({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespace: NS });

/** Gives a misbehaving controller time to write; a correct one passes however long this is. */
const settle = () => new Promise((r) => setTimeout(r, 400));

describe('endpoints controller', () => {
  let controller: { stop(): void } | undefined;
  const logs: string[] = [];
  const cluster = useCluster({ beforeClose: () => controller?.stop() });
  const c = () => cluster.client;

  before(async () => {
    controller = await startEndpointsController({ client: c(), log: (l) => logs.push(l) });
  });

  const createService = (name: string, selector: Record<string, string> | undefined, ports: unknown[] = [{ name: 'http', port: 80, targetPort: 8080 }]) =>
    c().create(servicePath(), { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ...(selector ? { selector } : {}), ports } });

  const createPod = async (name: string, labels: Record<string, string>, status: { ip?: string; ready?: boolean }, extra: Record<string, unknown> = {}) => {
    const containerPorts = [{ name: 'web', containerPort: 9090 }];
    const pod = await c().create(podPath(), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels },
      spec: { containers: [{ name: 'app', image: 'example/app', ports: containerPorts }], ...extra },
    });
    if (status.ip) await setPodStatus(name, status.ip, status.ready ?? true);
    return pod;
  };

  const setPodStatus = (name: string, ip: string, ready: boolean) =>
    c().patch(podPath(name, 'status'), {
      status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    });

  const getEndpoints = (name: string) =>
    c()
      .get(endpointsPath(name))
      .catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
  const slicesOf = async (name: string) => (await c().list<Slice>(slicesPath, { labelSelector: `kubernetes.io/service-name=${name}` })).items;
  const subset = (ep: KubeObject | undefined) => ((ep?.subsets as any[] | undefined) ?? [])[0];
  const ips = (addrs: Array<{ ip: string }> | undefined) => (addrs ?? []).map((a) => a.ip).sort();

  it('lists a ready pod in addresses and in an EndpointSlice owned by the Service', async () => {
    const svc = await createService('web', { app: 'web' });
    const pod = await createPod('web-1', { app: 'web' }, { ip: '10.244.0.11' }, { nodeName: 'node-a' });
    const ep = await eventually('Endpoints with the pod', async () => {
      const e = await getEndpoints('web');
      return ips(subset(e)?.addresses).includes('10.244.0.11') && e;
    });
    const ss = subset(ep);
    assert.deepEqual(ss.addresses, [
      { ip: '10.244.0.11', nodeName: 'node-a', targetRef: { kind: 'Pod', namespace: NS, name: 'web-1', uid: pod.metadata?.uid } },
    ]);
    assert.deepEqual(ss.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.equal(ss.notReadyAddresses, undefined);
    const owner = { apiVersion: 'v1', kind: 'Service', name: 'web', uid: svc.metadata?.uid, controller: true, blockOwnerDeletion: true };
    assert.deepEqual(ep.metadata?.ownerReferences, [owner]);

    const [slice, ...more] = await eventually('an EndpointSlice with the pod', async () => {
      const s = await slicesOf('web');
      return s[0]?.endpoints?.length === 1 && s;
    });
    assert.equal(more.length, 0);
    assert.match(slice.metadata?.name ?? '', /^web-[a-z0-9]{5}$/);
    assert.equal(slice.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.deepEqual(slice.metadata?.ownerReferences, [owner]);
    assert.equal(slice.addressType, 'IPv4');
    assert.deepEqual(slice.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(slice.endpoints, [
      {
        addresses: ['10.244.0.11'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'node-a',
        targetRef: { kind: 'Pod', namespace: NS, name: 'web-1', uid: pod.metadata?.uid },
      },
    ]);
  });

  it('lists an unready pod in notReadyAddresses, and moves it once ready', async () => {
    await createService('slow', { app: 'slow' });
    await createPod('slow-1', { app: 'slow' }, { ip: '10.244.0.21', ready: false });
    await createPod('slow-2', { app: 'slow' }, {}); // no IP yet: no endpoint
    const ep = await eventually('the unready pod', async () => {
      const e = await getEndpoints('slow');
      return subset(e)?.notReadyAddresses && e;
    });
    assert.deepEqual(ips(subset(ep).notReadyAddresses), ['10.244.0.21']);
    assert.equal(subset(ep).addresses, undefined);
    const [slice] = await eventually('the unready pod in the slice', async () => {
      const s = await slicesOf('slow');
      return s[0]?.endpoints?.length === 1 && s;
    });
    assert.deepEqual(
      slice.endpoints?.map((e) => e.conditions),
      [{ ready: false, serving: false, terminating: false }],
    );

    await setPodStatus('slow-1', '10.244.0.21', true);
    await eventually('the pod to become ready', async () => ips(subset(await getEndpoints('slow'))?.addresses).includes('10.244.0.21'));
  });

  it('resolves a named targetPort from the pod’s container ports', async () => {
    await createService('named', { app: 'named' }, [{ name: 'http', port: 80, targetPort: 'web' }]);
    await createPod('named-1', { app: 'named' }, { ip: '10.244.0.31' });
    const ep = await eventually('Endpoints with the resolved port', async () => subset(await getEndpoints('named')));
    assert.deepEqual(ep.ports, [{ name: 'http', port: 9090, protocol: 'TCP' }]);
    const slice = await eventually('the slice port', async () => (await slicesOf('named')).find((s) => (s.ports ?? []).length > 0));
    assert.deepEqual(slice.ports, [{ name: 'http', port: 9090, protocol: 'TCP' }]);
  });

  it('drops pods that are deleted, terminating or no longer selected', async () => {
    await createService('gone', { app: 'gone' });
    await createPod('gone-1', { app: 'gone' }, { ip: '10.244.0.41' });
    await createPod('gone-2', { app: 'gone' }, { ip: '10.244.0.42' });
    await createPod('gone-3', { app: 'gone' }, { ip: '10.244.0.43' }, { nodeName: 'node-a' });
    const all = ['10.244.0.41', '10.244.0.42', '10.244.0.43'];
    await eventually('all three pods', async () => ips(subset(await getEndpoints('gone'))?.addresses).join() === all.join());

    await c().delete(podPath('gone-1'));
    await c().patch(podPath('gone-2'), { metadata: { labels: { app: 'other' } } });
    // A pod on a node is deleted gracefully: it stays, terminating, until its node stops it.
    await c().delete(podPath('gone-3'));
    const ep = await eventually('the pods to go', async () => {
      const e = await getEndpoints('gone');
      return (e?.subsets as unknown[] | undefined)?.length === 0 && e;
    });
    assert.deepEqual(ep.subsets, []);
    const [slice] = await eventually('the terminating pod in the slice', async () => {
      const s = await slicesOf('gone');
      return s[0]?.endpoints?.length === 1 && s[0].endpoints[0].conditions.terminating && s;
    });
    assert.deepEqual((slice.endpoints ?? [])[0].conditions, { ready: false, serving: true, terminating: true });
  });

  it('leaves a Service without selector and its Endpoints alone', async () => {
    await createService('manual', undefined);
    const manual = await c().create(endpointsPath(), {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'manual' },
      subsets: [{ addresses: [{ ip: '192.168.1.10' }], ports: [{ name: 'http', port: 8080 }] }],
    });
    await createPod('manual-1', {}, { ip: '10.244.0.51' });
    await settle();
    const now = await getEndpoints('manual');
    assert.equal(now?.metadata?.resourceVersion, manual.metadata?.resourceVersion);
    assert.deepEqual(await slicesOf('manual'), []);
  });

  it('writes nothing when nothing changed, also across a restart, and adopts its slices', async () => {
    await createService('steady', { app: 'steady' });
    await createPod('steady-1', { app: 'steady' }, { ip: '10.244.0.61' });
    await eventually('the pod', async () => ips(subset(await getEndpoints('steady'))?.addresses).length === 1);
    await eventually('one slice with the pod', async () => (await slicesOf('steady'))[0]?.endpoints?.length === 1);
    const before = await getEndpoints('steady');
    const [sliceBefore] = await slicesOf('steady');

    // Changes that leave the endpoints as they are.
    await c().patch(podPath('steady-1'), { metadata: { annotations: { note: 'irrelevant' } } });
    await setPodStatus('steady-1', '10.244.0.61', true);
    await c().patch(servicePath('steady'), { metadata: { annotations: { note: 'irrelevant' } } });
    controller?.stop();
    controller = await startEndpointsController({ client: c(), log: (l) => logs.push(l) });
    await settle();
    assert.equal((await getEndpoints('steady'))?.metadata?.resourceVersion, before?.metadata?.resourceVersion);
    const slices = await slicesOf('steady');
    assert.deepEqual(
      slices.map((s) => [s.metadata?.name, s.metadata?.resourceVersion]),
      [[sliceBefore.metadata?.name, sliceBefore.metadata?.resourceVersion]],
    );

    // The restarted controller keeps using the slice it finds.
    await createPod('steady-2', { app: 'steady' }, { ip: '10.244.0.62' });
    const after = await eventually('the second pod in the slice', async () => {
      const s = await slicesOf('steady');
      return s[0]?.endpoints?.length === 2 && s;
    });
    assert.deepEqual(
      after.map((s) => s.metadata?.name),
      [sliceBefore.metadata?.name],
    );
  });

  it('puts back what others changed or deleted', async () => {
    await createService('owned', { app: 'owned' });
    await createPod('owned-1', { app: 'owned' }, { ip: '10.244.0.81' });
    const ep = await eventually('the Endpoints', async () => {
      const e = await getEndpoints('owned');
      return subset(e)?.addresses && e;
    });
    const [slice] = await eventually('the slice', async () => {
      const s = await slicesOf('owned');
      return s[0]?.endpoints?.length === 1 && s;
    });
    await c().update(endpointsPath('owned'), { ...ep, subsets: [{ addresses: [{ ip: '10.9.9.9' }], ports: [{ name: 'http', port: 1 }] }] });
    await c().delete(resourcePath({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespace: NS, name: slice.metadata?.name }));
    await eventually('the Endpoints restored', async () => ips(subset(await getEndpoints('owned'))?.addresses).join() === '10.244.0.81');
    await eventually('a new slice', async () => {
      const s = await slicesOf('owned');
      return s.length === 1 && s[0].metadata?.name !== slice.metadata?.name && s[0].endpoints?.length === 1;
    });
  });

  it('lets the Endpoints and slices of a deleted Service go for good', async () => {
    await createService('brief', { app: 'brief' });
    await createPod('brief-1', { app: 'brief' }, { ip: '10.244.0.71' });
    await eventually('the Endpoints', async () => subset(await getEndpoints('brief')));
    await c().delete(servicePath('brief'));
    await eventually('the Endpoints and slices to go', async () => !(await getEndpoints('brief')) && (await slicesOf('brief')).length === 0);
    await setPodStatus('brief-1', '10.244.0.72', true);
    await settle();
    assert.equal(await getEndpoints('brief'), undefined);
    assert.deepEqual(await slicesOf('brief'), []);
  });
});
