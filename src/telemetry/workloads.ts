// Workload and service list rows from API server objects. A pod's workload is named
// by the same rule the sidecar's metrics use (the mesh model's workloadName: a
// launcher pod's VMI, a ReplicaSet's Deployment), so list rows and graph nodes match.
// Health is merged in by the caller (see health.ts).

import { type ResourceDef, toTable } from '../apiserver/index.js';
import type { KubeObject } from '../client/index.js';
import { type Pod, PROXY_CONTAINER, selects, workloadName } from '../pilot/index.js';
import type { PodInfo, ServiceListItem, WorkloadDetails, WorkloadListItem } from './api.js';

export type WorkloadSummary = Omit<WorkloadListItem, 'health' | 'healthReason'>;
export type WorkloadDetailsSummary = Omit<WorkloadDetails, 'health' | 'healthReason'>;
export type ServiceSummary = Omit<ServiceListItem, 'health' | 'validations'>;

type Obj = KubeObject & { spec?: any; status?: any };

const controllerOf = (o: Obj) => (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);

/** What owns a pod's workload: VirtualMachineInstance, Deployment (through its ReplicaSet), another controller's kind, or Pod. */
function workloadKind(pod: Obj): string {
  const owner = controllerOf(pod);
  if (!owner) return 'Pod';
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && String(owner.name).endsWith(`-${hash}`)) return 'Deployment';
  return String(owner.kind);
}

const isReady = (pod: Obj) => (pod.status?.conditions ?? []).some((c: { type?: string; status?: string }) => c.type === 'Ready' && c.status === 'True');
const hasSidecar = (pod: Obj) => (pod.spec?.containers ?? []).some((c: { name?: string }) => c.name === PROXY_CONTAINER);
/** Labels the pods' controller stamps on every pod; not the workload's own. */
const POD_ONLY_LABELS = ['pod-template-hash', 'controller-revision-hash', 'kubevirt.io/created-by'];
const byName = (a: Obj, b: Obj) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);
const inNamespace = (namespace: string | undefined) => (o: Obj) => namespace === undefined || namespace === 'all' || o.metadata.namespace === namespace;

function appAndVersion(labels: Record<string, string>): Pick<WorkloadListItem, 'app' | 'version'> {
  const app = labels.app ?? labels['app.kubernetes.io/name'];
  const version = labels.version ?? labels['app.kubernetes.io/version'];
  return { ...(app ? { app } : {}), ...(version ? { version } : {}) };
}

/**
 * One row per workload of the pods (and of VMIs that have no pod yet), in `namespace`
 * ("all" or undefined: every namespace). A VMI's workload shows the VMI's labels.
 */
export function workloadsFromPods(pods: KubeObject[], vmis: KubeObject[] = [], namespace?: string): WorkloadSummary[] {
  const groups = new Map<string, { namespace: string; name: string; kind: string; pods: Obj[] }>();
  for (const pod of (pods as Obj[]).filter(inNamespace(namespace)).sort(byName)) {
    const ns = pod.metadata.namespace ?? 'default';
    const name = workloadName(pod as Pod);
    const key = `${ns}/${name}`;
    let g = groups.get(key);
    if (!g) {
      g = { namespace: ns, name, kind: workloadKind(pod), pods: [] };
      groups.set(key, g);
    }
    g.pods.push(pod);
  }
  const vmiByKey = new Map((vmis as Obj[]).filter(inNamespace(namespace)).map((v) => [`${v.metadata.namespace ?? 'default'}/${v.metadata.name}`, v]));
  for (const [key, vmi] of vmiByKey) {
    if (!groups.has(key))
      groups.set(key, { namespace: vmi.metadata.namespace ?? 'default', name: vmi.metadata.name, kind: 'VirtualMachineInstance', pods: [] });
  }
  const rows: WorkloadSummary[] = [];
  for (const [key, g] of groups) {
    const vmi = g.kind === 'VirtualMachineInstance' ? vmiByKey.get(key) : undefined;
    const labels = { ...(vmi?.metadata.labels ?? g.pods[0]?.metadata.labels ?? {}) };
    for (const l of POD_ONLY_LABELS) delete labels[l];
    rows.push({
      name: g.name,
      namespace: g.namespace,
      kind: g.kind,
      labels,
      ...appAndVersion(labels),
      istioSidecar: g.pods.length > 0 && g.pods.every(hasSidecar),
      podCount: g.pods.length,
      readyPods: g.pods.filter(isReady).length,
    });
  }
  return rows.sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1));
}

const POD_DEF = { kind: 'Pod' } as ResourceDef;
const SERVICE_DEF = { kind: 'Service' } as ResourceDef;

/** The API server's own table row for an object, without its name cell. */
function tableCells(def: ResourceDef, o: KubeObject, now: number): unknown[] {
  const table = toTable(def, [o], { includeObject: 'None', withHeaders: false, now });
  return (table.rows as Array<{ cells: unknown[] }>)[0].cells.slice(1);
}

/** A pod as the details page shows it; READY and STATUS exactly as kubectl prints them. */
export function podInfo(pod: KubeObject, now = Date.now()): PodInfo {
  const p = pod as Obj;
  const [ready, status] = tableCells(POD_DEF, pod, now) as [string, string];
  return {
    name: p.metadata.name,
    phase: p.status?.phase ?? 'Pending',
    ready,
    status,
    ...(p.status?.podIP ? { podIP: p.status.podIP } : {}),
    containers: (p.spec?.containers ?? []).map((c: { name: string }) => c.name),
    initContainers: (p.spec?.initContainers ?? []).map((c: { name: string }) => c.name),
    createdAt: p.metadata.creationTimestamp ?? '',
  };
}

/** One workload with its pods and the Services that select them; undefined when it has neither pods nor a VMI. */
export function workloadDetails(
  namespace: string,
  name: string,
  pods: KubeObject[],
  vmis: KubeObject[] = [],
  services: KubeObject[] = [],
  now = Date.now(),
): WorkloadDetailsSummary | undefined {
  const own = (pods as Obj[]).filter((p) => (p.metadata.namespace ?? 'default') === namespace && workloadName(p as Pod) === name).sort(byName);
  const row = workloadsFromPods(
    own,
    (vmis as Obj[]).filter((v) => v.metadata.name === name),
    namespace,
  ).find((w) => w.name === name);
  if (!row) return undefined;
  const selecting = (services as Obj[])
    .filter((s) => (s.metadata.namespace ?? 'default') === namespace && s.spec?.selector && Object.keys(s.spec.selector).length > 0)
    .filter((s) => own.some((p) => selects(s.spec.selector, p.metadata.labels)))
    .map((s) => s.metadata.name)
    .sort();
  return { ...row, pods: own.map((p) => podInfo(p, now)), services: selecting };
}

/** Ready addresses of an Endpoints object. */
function readyEndpoints(ep: Obj | undefined): number {
  let n = 0;
  for (const s of (ep as { subsets?: Array<{ addresses?: unknown[] }> } | undefined)?.subsets ?? []) n += (s.addresses ?? []).length;
  return n;
}

/** One row per Service in `namespace` ("all" or undefined: every namespace); PORT(S) exactly as kubectl prints it. */
export function servicesFromObjects(services: KubeObject[], endpoints: KubeObject[] = [], namespace?: string, now = Date.now()): ServiceSummary[] {
  const eps = new Map((endpoints as Obj[]).map((e) => [`${e.metadata.namespace ?? 'default'}/${e.metadata.name}`, e]));
  return (services as Obj[])
    .filter(inNamespace(namespace))
    .map((s) => {
      const ns = s.metadata.namespace ?? 'default';
      const [type, clusterIP, , ports] = tableCells(SERVICE_DEF, s, now) as string[];
      return {
        name: s.metadata.name,
        namespace: ns,
        type,
        ...(clusterIP && clusterIP !== '<none>' ? { clusterIP } : {}),
        ports,
        selector: { ...(s.spec?.selector ?? {}) },
        endpoints: readyEndpoints(eps.get(`${ns}/${s.metadata.name}`)),
      };
    })
    .sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1));
}
