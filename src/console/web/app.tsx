// The console's frame: left navigation, top bar, status banner, and the page the hash names.
import { useEffect, useState } from 'preact/hooks';
import { api } from './client';
import { ErrorBoundary, ErrorBox } from './components/common';
import { StatusBanner, useStatus } from './components/status-banner';
import { TopBar } from './components/top-bar';
import { useLoad, useRoute, useStored } from './hooks';
import { GraphPage } from './pages/graph-page';
import { IstioConfigPage, ProxyStatusPage, ServicesPage, WorkloadsPage } from './pages/lists';
import { WorkloadPage } from './pages/workload-page';
import { type DurationKind, defaultNamespaces, SettingsContext } from './settings';

const NAV: Array<{ id: string; label: string }> = [
  { id: 'graph', label: 'Graph' },
  { id: 'workloads', label: 'Workloads' },
  { id: 'services', label: 'Services' },
  { id: 'istio', label: 'Istio Config' },
  { id: 'proxy-status', label: 'Proxy Status' },
];

const SELECTED_KEY = 'virtmesh.namespaces';

function readSelected(): string[] | null {
  try {
    const raw = sessionStorage.getItem(SELECTED_KEY);
    const v = raw ? JSON.parse(raw) : null;
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : null;
  } catch {
    return null;
  }
}

export function App() {
  const route = useRoute();
  const [tick, setTick] = useState(0);
  const [refreshMs, setRefreshMs] = useStored('virtmesh.refreshMs', 15_000);
  const [graphDuration, setGraphDuration] = useStored('virtmesh.duration.graph', 60);
  const [metricsDuration, setMetricsDuration] = useStored('virtmesh.duration.metrics', 600);
  const [selected, setSelected] = useState<string[] | null>(() => {
    const fromHash = route.query.get('namespaces');
    return fromHash ? fromHash.split(',').filter(Boolean) : readSelected();
  });
  const nsState = useLoad('namespaces', tick, (signal) => api.namespaces(signal));
  const allNamespaces = Array.isArray(nsState.data) ? nsState.data : [];
  const status = useStatus();

  // First namespace answer: pick the default selection.
  useEffect(() => {
    if (selected === null && nsState.data) setSelected(defaultNamespaces(allNamespaces));
  }, [nsState.data]);

  useEffect(() => {
    if (refreshMs <= 0) return;
    const timer = setInterval(() => setTick((t) => t + 1), refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs]);

  const chooseNamespaces = (ns: string[]) => {
    setSelected(ns);
    try {
      sessionStorage.setItem(SELECTED_KEY, JSON.stringify(ns));
    } catch {
      // Session storage disabled: the choice lasts until reload.
    }
  };

  const page = route.path[0] ?? 'graph';
  const durationKind: DurationKind =
    page === 'workloads' && route.path.length >= 3 && /^(inbound|outbound)$/.test(route.query.get('tab') ?? '') ? 'metrics' : 'graph';
  const durations = { graph: graphDuration, metrics: metricsDuration };
  const settings = { allNamespaces, namespaces: selected ?? [], durations, refreshMs, tick };

  let content = null;
  if (selected === null && !nsState.error) content = null;
  else if (page === 'graph') content = <GraphPage />;
  else if (page === 'workloads' && route.path.length >= 3)
    content = <WorkloadPage namespace={route.path[1]} name={route.path[2]} tab={route.query.get('tab') ?? 'overview'} />;
  else if (page === 'workloads') content = <WorkloadsPage />;
  else if (page === 'services') content = <ServicesPage />;
  else if (page === 'istio') content = <IstioConfigPage />;
  else if (page === 'proxy-status') content = <ProxyStatusPage />;
  else content = <div class="state state-empty">No page at #{route.path.join('/')}</div>;

  return (
    <SettingsContext.Provider value={settings}>
      <div class="layout">
        <nav class="side-nav">
          <div class="brand">
            virtmesh
            {status.status?.version ? <span class="version">{status.status.version}</span> : null}
          </div>
          {NAV.map((n) => (
            <a key={n.id} href={`#/${n.id}`} class={page === n.id ? 'active' : ''} data-testid={`nav-${n.id}`}>
              {n.label}
            </a>
          ))}
        </nav>
        <div class="main">
          <TopBar
            namespaces={allNamespaces}
            namespacesError={nsState.error}
            selected={selected ?? []}
            onNamespaces={chooseNamespaces}
            duration={durations[durationKind]}
            onDuration={durationKind === 'metrics' ? setMetricsDuration : setGraphDuration}
            refreshMs={refreshMs}
            onRefreshMs={setRefreshMs}
            onRefresh={() => setTick((t) => t + 1)}
          />
          <StatusBanner status={status.status} error={status.error} />
          <main class="content">
            {nsState.error && allNamespaces.length === 0 ? <ErrorBox error={nsState.error} what="namespaces" /> : null}
            <ErrorBoundary key={location.hash.split('?')[0]}>{content}</ErrorBoundary>
          </main>
        </div>
      </div>
    </SettingsContext.Provider>
  );
}
