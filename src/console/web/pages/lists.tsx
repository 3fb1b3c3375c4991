// The list pages: workloads, services, Istio config, proxy status.
import type { ComponentChildren } from 'preact';
import type { IstioConfigItem, ProxyStatusRow, ServiceListItem, Validation, WorkloadListItem } from '../../../telemetry/api';
import { api, perNamespace } from '../client';
import { ErrorBox, HealthIcon, LabelChips, LoadGate, MissingSidecar, SyncCells, Validations } from '../components/common';
import { fmtAge } from '../format';
import { useLoad } from '../hooks';
import { useSettings } from '../settings';

function nsText(namespaces: string[]): string {
  return `${namespaces.length > 1 ? 'namespaces' : 'namespace'} ${namespaces.join(', ')}`;
}

function byNsName<T extends { namespace: string; name: string }>(a: T, b: T): number {
  return a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

function PartialErrors({ errors }: { errors: Error[] }) {
  return (
    <>
      {errors.map((e) => (
        <ErrorBox key={e.message} error={e} />
      ))}
    </>
  );
}

function NoNamespace() {
  return <div class="state state-empty">Select a namespace in the top bar.</div>;
}

export function workloadHref(ns: string, name: string, tab?: string): string {
  return `#/workloads/${encodeURIComponent(ns)}/${encodeURIComponent(name)}${tab ? `?tab=${tab}` : ''}`;
}

/**
 * A list page over the selected namespaces: one request per namespace (health over the
 * page's time range), what answered shown, and what failed said above it.
 */
function NamespaceListPage<T extends { namespace: string; name: string }>(props: {
  title: string;
  what: string;
  load: (namespace: string, seconds: number, signal: AbortSignal) => Promise<T[]>;
  children: (items: T[]) => ComponentChildren;
}) {
  const { namespaces, tick, durations } = useSettings();
  const key = namespaces.length > 0 ? `${props.what}:${namespaces.join(',')}:${durations.graph}` : null;
  const state = useLoad(key, tick, (signal) => perNamespace<T>(namespaces, (ns) => props.load(ns, durations.graph, signal)));
  return (
    <div class="page">
      <div class="page-header">
        <h1>{props.title}</h1>
      </div>
      {namespaces.length === 0 ? <NoNamespace /> : null}
      <LoadGate
        state={state}
        what={props.what}
        isEmpty={(d) => d.items.length === 0}
        empty={
          <>
            No {props.what} in {nsText(namespaces)}
          </>
        }
      >
        {(d) => (
          <>
            <PartialErrors errors={d.errors} />
            {props.children([...d.items].sort(byNsName))}
          </>
        )}
      </LoadGate>
    </div>
  );
}

export function WorkloadsPage() {
  return (
    <NamespaceListPage<WorkloadListItem> title="Workloads" what="workloads" load={api.workloads}>
      {(items) => (
        <table class="table" data-testid="workloads-table">
          <thead>
            <tr>
              <th class="icon">Health</th>
              <th>Name</th>
              <th>Namespace</th>
              <th>Kind</th>
              <th>Labels</th>
              <th>Details</th>
              <th>Pods ready</th>
            </tr>
          </thead>
          <tbody>
            {items.map((w) => (
              <tr key={`${w.namespace}/${w.name}`} data-testid="workload-row" data-name={w.name} data-namespace={w.namespace}>
                <td class="icon">
                  <HealthIcon health={w.health} reason={w.healthReason} />
                </td>
                <td>
                  <a href={workloadHref(w.namespace, w.name)}>{w.name}</a>
                </td>
                <td>{w.namespace}</td>
                <td>{w.kind}</td>
                <td>
                  <LabelChips labels={w.labels} />
                </td>
                <td>{w.istioSidecar ? null : <MissingSidecar />}</td>
                <td class={w.readyPods < w.podCount ? 'warn-text' : ''}>
                  {w.readyPods}/{w.podCount}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </NamespaceListPage>
  );
}

export function ServicesPage() {
  return (
    <NamespaceListPage<ServiceListItem> title="Services" what="services" load={api.services}>
      {(items) => (
        <table class="table" data-testid="services-table">
          <thead>
            <tr>
              <th class="icon">Health</th>
              <th>Name</th>
              <th>Namespace</th>
              <th>Type</th>
              <th>Cluster IP</th>
              <th>Ports</th>
              <th>Endpoints</th>
              <th>Config</th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={`${s.namespace}/${s.name}`} data-testid="service-row" data-name={s.name} data-namespace={s.namespace}>
                <td class="icon">
                  <HealthIcon health={s.health} />
                </td>
                <td>{s.name}</td>
                <td>{s.namespace}</td>
                <td>{s.type}</td>
                <td>{s.clusterIP ?? '-'}</td>
                <td>{s.ports || '-'}</td>
                <td class={s.endpoints === 0 ? 'warn-text' : ''}>{s.endpoints}</td>
                <td>
                  <Validations items={s.validations} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </NamespaceListPage>
  );
}

function worstSeverity(v: Validation[] | undefined): number {
  if (!v || v.length === 0) return 0;
  return v.some((x) => x.severity === 'error') ? 2 : v.some((x) => x.severity === 'warning') ? 1 : 0;
}

export function IstioConfigPage() {
  const { namespaces, tick } = useSettings();
  const key = namespaces.length > 0 ? `istio:${namespaces.join(',')}` : null;
  const state = useLoad(key, tick, (signal) => api.istioConfig(namespaces, signal));
  return (
    <div class="page">
      <div class="page-header">
        <h1>Istio Config</h1>
      </div>
      {namespaces.length === 0 ? <NoNamespace /> : null}
      <LoadGate state={state} what="Istio config" isEmpty={(d) => !Array.isArray(d) || d.length === 0} empty={<>No Istio config in {nsText(namespaces)}</>}>
        {(items: IstioConfigItem[]) => (
          <table class="table" data-testid="istio-config-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Namespace</th>
                <th>Kind</th>
                <th>Age</th>
                <th>Configuration</th>
              </tr>
            </thead>
            <tbody>
              {[...items]
                .sort((a, b) => worstSeverity(b.validations) - worstSeverity(a.validations) || byNsName(a, b) || a.kind.localeCompare(b.kind))
                .map((c) => (
                  <tr key={`${c.kind}/${c.namespace}/${c.name}`} data-testid="istio-config-row" data-kind={c.kind} data-name={c.name}>
                    <td>{c.name}</td>
                    <td>{c.namespace}</td>
                    <td>
                      <span class="badge">{c.kind}</span>
                    </td>
                    <td title={c.createdAt}>{fmtAge(c.createdAt)}</td>
                    <td>
                      <Validations items={c.validations} expanded />
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
      </LoadGate>
    </div>
  );
}

export function ProxyStatusPage() {
  const { tick } = useSettings();
  const state = useLoad('proxy-status', tick, (signal) => api.proxyStatus(signal));
  return (
    <div class="page">
      <div class="page-header">
        <h1>Proxy Status</h1>
      </div>
      <LoadGate state={state} what="proxy status" isEmpty={(d) => !Array.isArray(d) || d.length === 0} empty="No proxies are connected to the control plane">
        {(rows: ProxyStatusRow[]) => (
          <table class="table mono" data-testid="proxy-status-table">
            <thead>
              <tr>
                <th>NAME</th>
                <th>CLUSTER</th>
                <th>CDS</th>
                <th>LDS</th>
                <th>EDS</th>
                <th>RDS</th>
                <th>ECDS</th>
                <th>ISTIOD</th>
                <th>VERSION</th>
              </tr>
            </thead>
            <tbody>
              {[...rows]
                .sort((a, b) => a.name.localeCompare(b.name))
                .map((r) => (
                  <tr key={r.name} data-testid="proxy-status-row" data-name={r.name}>
                    <td>{r.name}</td>
                    <td>{r.cluster}</td>
                    <SyncCells row={r} types={['cds', 'lds', 'eds', 'rds', 'ecds']} />
                    <td>{r.istiod}</td>
                    <td>{r.version}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
      </LoadGate>
    </div>
  );
}
