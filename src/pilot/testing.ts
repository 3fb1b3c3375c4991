// The walkthrough's objects as the cluster holds them (Service istio-vmi-svc, the two
// virt-launcher pods, the Service's EndpointSlice), for the control plane's tests and
// its benchmark.

import type { KubeObject } from '../client/index.js';
import { DEFAULT_MESH_CONFIG, type EndpointSlice, type Pod, type Service } from './model.js';
import type { MeshSnapshot } from './push-context.js';

export const WALKTHROUGH = {
  namespace: 'default',
  service: 'istio-vmi-svc',
  host: 'istio-vmi-svc.default.svc.cluster.local',
  clusterIP: '10.96.0.20',
  istioPod: 'virt-launcher-istio-vmi-abcde',
  istioIP: '10.244.0.5',
  cirrosPod: 'virt-launcher-cirros-vmi-fghij',
  cirrosIP: '10.244.0.6',
} as const;

/** A virt-launcher pod as virtmesh's VMI controller and injector make it. */
export function launcherPod(
  vmi: string,
  name: string,
  ip: string | undefined,
  opts: { ports?: number[]; labels?: Record<string, string>; namespace?: string } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? WALKTHROUGH.namespace,
      uid: `uid-${name}`,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: vmi, 'kubevirt.io': 'virt-launcher', 'vm.kubevirt.io/name': vmi, ...opts.labels },
      annotations: { 'kubevirt.io/domain': vmi, 'sidecar.istio.io/inject': 'true' },
      ownerReferences: [
        { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: vmi, uid: `uid-${vmi}`, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      containers: [
        { name: 'compute', ...(opts.ports?.length ? { ports: opts.ports.map((p) => ({ containerPort: p, protocol: 'TCP' })) } : {}) },
        { name: 'volumecontainerdisk' },
        { name: 'istio-proxy', ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }] },
      ],
    },
    status: ip ? { phase: 'Running', podIP: ip } : { phase: 'Pending' },
  };
}

export function service(name: string, spec: Service['spec'], namespace: string = WALKTHROUGH.namespace): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, uid: `uid-svc-${name}`, creationTimestamp: '2026-01-01T00:00:00Z' }, spec };
}

/** The walkthrough's Service: port 8080, unnamed (so auto-detected), selecting app=istio-vmi. */
export const istioVmiService = () =>
  service(WALKTHROUGH.service, {
    selector: { app: 'istio-vmi' },
    ports: [{ port: 8080, protocol: 'TCP', targetPort: 8080 }],
    clusterIP: WALKTHROUGH.clusterIP,
    type: 'ClusterIP',
  });

export interface SliceEndpointSpec {
  ip: string;
  pod?: string;
  ready?: boolean;
  terminating?: boolean;
}

/** An EndpointSlice as the endpointslice controller writes it. */
export function endpointSlice(
  serviceName: string,
  endpoints: SliceEndpointSpec[],
  ports: Array<{ name?: string; port: number }> = [{ port: 8080 }],
  namespace: string = WALKTHROUGH.namespace,
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${serviceName}-x7k2q`,
      namespace,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { 'kubernetes.io/service-name': serviceName, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: (e.ready ?? true) && !e.terminating, serving: e.ready ?? true, terminating: e.terminating ?? false },
      ...(e.pod ? { targetRef: { kind: 'Pod', namespace, name: e.pod, uid: `uid-${e.pod}` } } : {}),
    })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: 'TCP' })),
  };
}

export function emptySnapshot(): MeshSnapshot {
  return {
    services: [],
    endpointSlices: [],
    pods: [],
    namespaces: [],
    virtualServices: [],
    destinationRules: [],
    serviceEntries: [],
    sidecars: [],
    meshConfig: DEFAULT_MESH_CONFIG,
  };
}

/** The walkthrough after `kubectl create`: both VMIs running, istio-vmi behind its Service. */
export function walkthroughSnapshot(extra: Partial<MeshSnapshot> = {}): MeshSnapshot {
  const w = WALKTHROUGH;
  const base = emptySnapshot();
  return {
    ...base,
    services: [istioVmiService()],
    pods: [launcherPod('istio-vmi', w.istioPod, w.istioIP, { ports: [8080] }), launcherPod('cirros-vmi', w.cirrosPod, w.cirrosIP)],
    endpointSlices: [endpointSlice(w.service, [{ ip: w.istioIP, pod: w.istioPod }])],
    namespaces: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'istio-injection': 'enabled' } } } as KubeObject],
    ...extra,
  };
}

/** An Istio config object with the fields the control plane reads. */
export function istioObject<T extends KubeObject>(
  kind: string,
  name: string,
  spec: T['spec'],
  namespace: string = WALKTHROUGH.namespace,
  createdAt = '2026-01-01T00:00:00Z',
): T {
  const group = kind === 'PeerAuthentication' || kind === 'AuthorizationPolicy' ? 'security.istio.io' : 'networking.istio.io';
  return { apiVersion: `${group}/v1`, kind, metadata: { name, namespace, uid: `uid-${kind}-${name}`, creationTimestamp: createdAt }, spec } as unknown as T;
}
