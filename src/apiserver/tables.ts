// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` renders.
// Columns and cell rules follow kube-apiserver's printers for built-in kinds and the
// additionalPrinterColumns of the KubeVirt and Istio CRDs.

import type { KubeObject } from './admission/types.js';
import type { ResourceDef } from './resources.js';

export interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  /** 0 = default view, 1 = only with `-o wide`. */
  priority?: number;
  description?: string;
  format?: string;
  /** For custom kinds: the CRD's additionalPrinterColumns path of this column. */
  jsonPath?: string;
}
type Cell = string | number | null;
interface Printer {
  columns: Column[];
  cells(obj: KubeObject, now: number): Cell[];
}

/** kube's duration.HumanDuration, as the AGE column shows it. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  const days = Math.floor(hours / 24) % 365;
  if (hours < 24 * 365 * 8) return days === 0 ? `${years}y` : `${years}y${days}d`;
  return `${years}y`;
}

const since = (ts: unknown, now: number): string => (typeof ts === 'string' && ts ? humanDuration(now - Date.parse(ts)) : '<unknown>');
const age = (o: KubeObject, now: number) => since(o.metadata?.creationTimestamp, now);

type Any = any;
const col = (name: string, type: Column['type'] = 'string', priority = 0, jsonPath?: string): Column => ({
  name,
  type,
  priority,
  ...(jsonPath ? { jsonPath } : {}),
});
const crdCol = (name: string, jsonPath: string, priority = 0): Column => col(name, 'string', priority, jsonPath);
const crdAge: Column = { name: 'Age', type: 'date', priority: 0, jsonPath: '.metadata.creationTimestamp' };
const readyPath = (type: string) => `.status.conditions[?(@.type=='${type}')].status`;
const nameCol: Column = { name: 'Name', type: 'string', format: 'name', priority: 0 };
const ageCol = col('Age', 'date');

function podStatus(pod: Any): string {
  let reason: string = pod.status?.reason || pod.status?.phase || 'Pending';
  const initSpecs = pod.spec?.initContainers ?? [];
  let initializing = false;
  (pod.status?.initContainerStatuses ?? []).forEach((c: Any, i: number) => {
    if (initializing) return;
    const term = c.state?.terminated;
    const wait = c.state?.waiting;
    if (term && term.exitCode === 0) return;
    initializing = true;
    if (term) reason = `Init:${term.reason || (term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode}`)}`;
    else if (wait?.reason && wait.reason !== 'PodInitializing') reason = `Init:${wait.reason}`;
    else reason = `Init:${i}/${initSpecs.length}`;
  });
  if (!initializing && pod.status?.phase === 'Pending' && initSpecs.length > 0 && !pod.status?.initContainerStatuses) {
    // Not yet started at all: the init containers are what it waits on.
    reason = `Init:0/${initSpecs.length}`;
    initializing = true;
  }
  if (!initializing) {
    let hasRunning = false;
    for (const c of [...(pod.status?.containerStatuses ?? [])].reverse()) {
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state?.terminated) {
        const t = c.state.terminated;
        reason = t.reason || (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`);
      } else if (c.ready && c.state?.running) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod.metadata?.deletionTimestamp) reason = pod.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function servicePorts(svc: Any): string {
  const ports = svc.spec?.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p: Any) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

function externalIP(svc: Any): string {
  const type = svc.spec?.type ?? 'ClusterIP';
  const external: string[] = svc.spec?.externalIPs ?? [];
  if (type === 'ExternalName') return svc.spec?.externalName ?? '<none>';
  if (type === 'LoadBalancer') {
    const ingress = (svc.status?.loadBalancer?.ingress ?? []).map((i: Any) => i.ip || i.hostname);
    const all = [...ingress, ...external];
    return all.length ? all.join(',') : '<pending>';
  }
  return external.length ? external.join(',') : '<none>';
}

/** "a, b, c + 2 more..." as kubectl prints address lists. */
function firstThree(items: string[]): string {
  if (items.length === 0) return '<none>';
  const shown = items.slice(0, 3).join(',');
  return items.length > 3 ? `${shown} + ${items.length - 3} more...` : shown;
}

function endpointsList(ep: Any): string {
  const out: string[] = [];
  for (const s of ep.subsets ?? []) {
    for (const a of s.addresses ?? []) {
      if (!s.ports?.length) out.push(a.ip);
      for (const p of s.ports ?? []) out.push(`${a.ip}:${p.port}`);
    }
  }
  return firstThree(out);
}

const selectorString = (sel: Record<string, string> | undefined) =>
  sel && Object.keys(sel).length
    ? Object.entries(sel)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : '<none>';

const condition = (o: Any, type: string): string | null => (o.status?.conditions ?? []).find((c: Any) => c.type === type)?.status ?? null;

/** CRD printer columns render arrays as JSON and missing values as empty cells. */
const jsonCell = (v: unknown): Cell => (v === undefined || v === null ? null : Array.isArray(v) ? JSON.stringify(v) : (v as Cell));

const printers: Record<string, Printer> = {
  Namespace: { columns: [nameCol, col('Status'), ageCol], cells: (o: Any, now) => [o.status?.phase ?? 'Active', age(o, now)] },
  Node: {
    columns: [nameCol, col('Status'), col('Roles'), ageCol, col('Version')],
    cells: (o: Any, now) => [
      condition(o, 'Ready') === 'True' ? 'Ready' : 'NotReady',
      Object.keys(o.metadata?.labels ?? {})
        .filter((l) => l.startsWith('node-role.kubernetes.io/'))
        .map((l) => l.slice('node-role.kubernetes.io/'.length))
        .join(',') || '<none>',
      age(o, now),
      o.status?.nodeInfo?.kubeletVersion ?? '',
    ],
  },
  Pod: {
    columns: [
      nameCol,
      col('Ready'),
      col('Status'),
      col('Restarts', 'string'),
      ageCol,
      col('IP', 'string', 1),
      col('Node', 'string', 1),
      col('Nominated Node', 'string', 1),
      col('Readiness Gates', 'string', 1),
    ],
    cells: (o: Any, now) => {
      const statuses = o.status?.containerStatuses ?? [];
      const ready = statuses.filter((c: Any) => c.ready).length;
      const restarts = statuses.reduce((n: number, c: Any) => n + (c.restartCount ?? 0), 0);
      return [
        `${ready}/${(o.spec?.containers ?? []).length}`,
        podStatus(o),
        restarts,
        age(o, now),
        o.status?.podIP || '<none>',
        o.spec?.nodeName || '<none>',
        o.status?.nominatedNodeName || '<none>',
        '<none>',
      ];
    },
  },
  Service: {
    columns: [nameCol, col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), ageCol, col('Selector', 'string', 1)],
    cells: (o: Any, now) => [
      o.spec?.type ?? 'ClusterIP',
      o.spec?.clusterIP || '<none>',
      externalIP(o),
      servicePorts(o),
      age(o, now),
      selectorString(o.spec?.selector),
    ],
  },
  Endpoints: { columns: [nameCol, col('Endpoints'), ageCol], cells: (o, now) => [endpointsList(o), age(o, now)] },
  Event: {
    columns: [
      col('Last Seen'),
      col('Type'),
      col('Reason'),
      col('Object'),
      col('Message'),
      col('Subobject', 'string', 1),
      col('Source', 'string', 1),
      col('First Seen', 'string', 1),
      col('Count', 'integer', 1),
      { ...nameCol, priority: 1 },
    ],
    cells: (o: Any, now) => [
      since(o.lastTimestamp || o.eventTime || o.firstTimestamp || o.metadata?.creationTimestamp, now),
      o.type ?? '',
      o.reason ?? '',
      `${String(o.involvedObject?.kind ?? '').toLowerCase()}/${o.involvedObject?.name ?? ''}`,
      o.message ?? '',
      o.involvedObject?.fieldPath ?? '',
      [o.source?.component, o.source?.host].filter(Boolean).join(', ') || o.reportingComponent || '',
      since(o.firstTimestamp || o.eventTime || o.metadata?.creationTimestamp, now),
      o.count ?? 1,
      o.metadata?.name ?? '',
    ],
  },
  ConfigMap: {
    columns: [nameCol, col('Data', 'integer'), ageCol],
    cells: (o: Any, now) => [Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o, now)],
  },
  Secret: {
    columns: [nameCol, col('Type'), col('Data', 'integer'), ageCol],
    cells: (o: Any, now) => [o.type ?? 'Opaque', Object.keys(o.data ?? {}).length, age(o, now)],
  },
  ServiceAccount: { columns: [nameCol, col('Secrets', 'integer'), ageCol], cells: (o: Any, now) => [(o.secrets ?? []).length, age(o, now)] },
  EndpointSlice: {
    columns: [nameCol, col('AddressType'), col('Ports'), col('Endpoints'), ageCol],
    cells: (o: Any, now) => [
      o.addressType ?? '',
      (o.ports ?? []).length ? o.ports.map((p: Any) => p.port ?? '<unset>').join(',') : '<unset>',
      firstThree((o.endpoints ?? []).flatMap((e: Any) => e.addresses ?? [])),
      age(o, now),
    ],
  },
  VirtualMachineInstance: {
    columns: [
      nameCol,
      crdAge,
      crdCol('Phase', '.status.phase'),
      crdCol('IP', '.status.interfaces[0].ipAddress'),
      crdCol('NodeName', '.status.nodeName'),
      crdCol('Ready', readyPath('Ready')),
      crdCol('Live-Migratable', readyPath('LiveMigratable'), 1),
      crdCol('Paused', readyPath('Paused'), 1),
    ],
    cells: (o: Any, now) => [
      age(o, now),
      jsonCell(o.status?.phase),
      jsonCell(o.status?.interfaces?.[0]?.ipAddress),
      jsonCell(o.status?.nodeName),
      condition(o, 'Ready'),
      condition(o, 'LiveMigratable'),
      condition(o, 'Paused'),
    ],
  },
  VirtualMachine: {
    columns: [nameCol, crdAge, crdCol('Status', '.status.printableStatus'), crdCol('Ready', readyPath('Ready'))],
    cells: (o: Any, now) => [age(o, now), jsonCell(o.status?.printableStatus), condition(o, 'Ready')],
  },
  VirtualService: {
    columns: [nameCol, crdCol('Gateways', '.spec.gateways'), crdCol('Hosts', '.spec.hosts'), crdAge],
    cells: (o: Any, now) => [jsonCell(o.spec?.gateways), jsonCell(o.spec?.hosts), age(o, now)],
  },
  DestinationRule: { columns: [nameCol, crdCol('Host', '.spec.host'), crdAge], cells: (o: Any, now) => [jsonCell(o.spec?.host), age(o, now)] },
  ServiceEntry: {
    columns: [nameCol, crdCol('Hosts', '.spec.hosts'), crdCol('Location', '.spec.location'), crdCol('Resolution', '.spec.resolution'), crdAge],
    cells: (o: Any, now) => [jsonCell(o.spec?.hosts), jsonCell(o.spec?.location), jsonCell(o.spec?.resolution), age(o, now)],
  },
  PeerAuthentication: { columns: [nameCol, crdCol('Mode', '.spec.mtls.mode'), crdAge], cells: (o: Any, now) => [jsonCell(o.spec?.mtls?.mode), age(o, now)] },
  CustomResourceDefinition: { columns: [nameCol, col('Created At', 'date')], cells: (o) => [o.metadata?.creationTimestamp ?? ''] },
  AuthorizationPolicy: { columns: [nameCol, crdCol('Action', '.spec.action'), crdAge], cells: (o: Any, now) => [jsonCell(o.spec?.action), age(o, now)] },
};

const defaultPrinter: Printer = { columns: [nameCol, ageCol], cells: (o, now) => [age(o, now)] };

export function printerFor(def: ResourceDef): Printer {
  return printers[def.kind] ?? defaultPrinter;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Builds the Table for a list (or a single object); column definitions only when `withHeaders`. */
export function toTable(
  def: ResourceDef,
  items: KubeObject[],
  opts: { resourceVersion?: string; includeObject?: IncludeObject; withHeaders?: boolean; now?: number },
): KubeObject {
  const printer = printerFor(def);
  const now = opts.now ?? Date.now();
  const hasName = printer.columns[0] === nameCol;
  const include = opts.includeObject ?? 'Metadata';
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {},
    columnDefinitions:
      opts.withHeaders === false ? [] : printer.columns.map(({ jsonPath: _path, ...c }) => ({ description: '', format: '', ...c, priority: c.priority ?? 0 })),
    rows: items.map((o) => ({
      cells: hasName ? [o.metadata?.name ?? '', ...printer.cells(o, now)] : printer.cells(o, now),
      object: include === 'None' ? undefined : include === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
