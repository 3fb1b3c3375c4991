// One workload: overview (its graph, pods, labels, services), inbound and outbound metrics, logs.
import { useState } from 'preact/hooks';
import type { GraphResponse, PodInfo, WorkloadDetails } from '../../../telemetry/api';
import { api } from '../client';
import { Empty, ErrorBox, HealthText, LabelChips, Loading, MissingSidecar, SyncCells } from '../components/common';
import { GraphWithPanel } from '../components/graph-panel';
import type { EdgeLabelMode } from '../components/graph-style';
import { fmtAge, fmtDuration } from '../format';
import { useLoad, useStored } from '../hooks';
import { useSettings } from '../settings';
import { GraphToolbar, realNodes } from './graph-page';
import { workloadHref } from './lists';
import { MetricsTab } from './workload-metrics';

const TABS: Array<{ id: string; label: string }> = [
  { id: 'overview', label: 'Overview' },
  { id: 'inbound', label: 'Inbound Metrics' },
  { id: 'outbound', label: 'Outbound Metrics' },
  { id: 'logs', label: 'Logs' },
];

export function WorkloadPage({ namespace, name, tab }: { namespace: string; name: string; tab: string }) {
  const { tick, durations } = useSettings();
  const state = useLoad(`workload:${namespace}/${name}:${durations.graph}`, tick, (signal) => api.workload(namespace, name, durations.graph, signal));
  const w = state.data;
  const active = TABS.some((t) => t.id === tab) ? tab : 'overview';
  return (
    <div class="page">
      <div class="breadcrumb">
        <a href="#/workloads">Workloads</a> / {namespace} / <b>{name}</b>
      </div>
      <div class="page-header">
        <h1>
          {name}{' '}
          {w ? (
            <span class="title-meta">
              <span class="badge">{w.kind}</span> <HealthText health={w.health} reason={w.healthReason} /> {w.istioSidecar ? null : <MissingSidecar />}
            </span>
          ) : null}
        </h1>
      </div>
      <nav class="tabs" data-testid="workload-tabs">
        {TABS.map((t) => (
          <a key={t.id} href={workloadHref(namespace, name, t.id)} class={t.id === active ? 'active' : ''} data-testid={`tab-${t.id}`}>
            {t.label}
          </a>
        ))}
      </nav>
      {state.error ? <ErrorBox error={state.error} what={`workload ${namespace}/${name}`} /> : null}
      {active === 'overview' ? <Overview namespace={namespace} name={name} w={w} loading={state.loading} /> : null}
      {active === 'inbound' ? <MetricsTab key="inbound" namespace={namespace} name={name} direction="inbound" /> : null}
      {active === 'outbound' ? <MetricsTab key="outbound" namespace={namespace} name={name} direction="outbound" /> : null}
      {active === 'logs' ? w ? <LogsTab namespace={namespace} pods={w.pods ?? []} /> : state.loading ? <Loading what="pods" /> : null : null}
    </div>
  );
}

function Overview({ namespace, name, w, loading }: { namespace: string; name: string; w: WorkloadDetails | undefined; loading: boolean }) {
  const { durations, tick } = useSettings();
  const duration = durations.graph;
  const url = api.workloadGraphUrl(namespace, name, duration);
  const graphState = useLoad(url, tick, (signal) => api.graph(url, signal));
  const [edgeLabels, setEdgeLabels] = useStored<EdgeLabelMode>('virtmesh.graph.edgeLabels', 'rate');
  const [animate, setAnimate] = useStored('virtmesh.graph.animate', false);
  const [resetToken, setResetToken] = useState(0);
  const graph: GraphResponse | undefined = graphState.data;

  let overlay = null;
  if (!graph && graphState.loading) overlay = <Loading what="graph" />;
  else if (graph && realNodes(graph) === 0)
    overlay = (
      <Empty>
        No traffic in the last {fmtDuration(duration)} for workload {name}
      </Empty>
    );

  return (
    <div class="overview">
      <div class="overview-grid">
        <div class="card">
          <h3>Pods</h3>
          {w ? <PodsTable pods={w.pods ?? []} /> : loading ? <Loading what="pods" /> : null}
        </div>
        <div class="card">
          <h3>Labels</h3>
          {w ? <LabelChips labels={w.labels} /> : null}
          <h3>Services</h3>
          {w ? (
            (w.services ?? []).length > 0 ? (
              <ul class="plain" data-testid="workload-services">
                {w.services.map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            ) : (
              <span class="muted">No services select these pods</span>
            )
          ) : null}
          <h3>Pods ready</h3>
          {w ? (
            <span>
              {w.readyPods}/{w.podCount}
            </span>
          ) : null}
        </div>
      </div>
      <div class="card">
        <div class="card-header">
          <h3>Graph</h3>
          <GraphToolbar
            edgeLabels={edgeLabels}
            setEdgeLabels={setEdgeLabels}
            animate={animate}
            setAnimate={setAnimate}
            onReset={() => setResetToken(resetToken + 1)}
          />
        </div>
        {graphState.error ? <ErrorBox error={graphState.error} what="the workload's graph" /> : null}
        <GraphWithPanel
          graph={graph}
          edgeLabels={edgeLabels}
          animate={animate}
          positionsKey="virtmesh.graph.positions.workload"
          resetToken={resetToken}
          overlay={overlay}
          mini
        />
      </div>
    </div>
  );
}

function PodsTable({ pods }: { pods: PodInfo[] }) {
  if (pods.length === 0) return <Empty>No pods</Empty>;
  return (
    <table class="table compact" data-testid="pods-table">
      <thead>
        <tr>
          <th>Name</th>
          <th>Status</th>
          <th>Ready</th>
          <th>IP</th>
          <th>Age</th>
          <th title="Proxy sync state with the control plane">CDS</th>
          <th>LDS</th>
          <th>EDS</th>
          <th>RDS</th>
        </tr>
      </thead>
      <tbody>
        {pods.map((p) => (
          <tr key={p.name} data-testid="pod-row" data-name={p.name}>
            <td>{p.name}</td>
            <td>{p.status || p.phase}</td>
            <td>{p.ready}</td>
            <td>{p.podIP ?? '-'}</td>
            <td title={p.createdAt}>{fmtAge(p.createdAt)}</td>
            {p.proxyStatus ? (
              <SyncCells row={p.proxyStatus} types={['cds', 'lds', 'eds', 'rds']} />
            ) : (
              <td colSpan={4} class="muted">
                No proxy status
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const CONTAINER_TEXT: Record<string, string> = { compute: 'compute (VM serial console)', 'istio-proxy': 'istio-proxy' };

function LogsTab({ namespace, pods }: { namespace: string; pods: PodInfo[] }) {
  const [podName, setPodName] = useState(pods[0]?.name ?? '');
  const pod = pods.find((p) => p.name === podName) ?? pods[0];
  const containers = pod ? (pod.containers?.length ? pod.containers : ['compute', 'istio-proxy']) : [];
  const [container, setContainer] = useState('');
  const chosen = containers.includes(container) ? container : containers.includes('compute') ? 'compute' : (containers[0] ?? '');
  const [own, setOwn] = useState(0);
  const { tick } = useSettings();
  const key = pod && chosen ? `logs:${namespace}/${pod.name}/${chosen}` : null;
  const state = useLoad(key, tick + own * 1e6, (signal) => api.logs(namespace, pod!.name, chosen, signal));

  if (pods.length === 0) return <Empty>This workload has no pods</Empty>;
  return (
    <div class="logs">
      <div class="toolbar">
        <label>
          Pod{' '}
          <select data-testid="logs-pod" value={pod?.name} onChange={(e) => setPodName(e.currentTarget.value)}>
            {pods.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Container{' '}
          <select data-testid="logs-container" value={chosen} onChange={(e) => setContainer(e.currentTarget.value)}>
            {containers.map((c) => (
              <option key={c} value={c}>
                {CONTAINER_TEXT[c] ?? c}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="logs-refresh" onClick={() => setOwn(own + 1)}>
          Refresh
        </button>
        {state.loading ? <span class="muted small">Loading…</span> : null}
      </div>
      {state.error ? <ErrorBox error={state.error} what={`logs of ${pod?.name}/${chosen}`} /> : null}
      {state.data === undefined && state.loading ? <Loading what="logs" /> : null}
      {state.data !== undefined ? (
        <pre class="log-text" data-testid="logs">
          {state.data === '' ? '(no log lines)' : state.data}
        </pre>
      ) : null}
    </div>
  );
}
