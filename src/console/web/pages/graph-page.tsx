// The mesh traffic graph of the selected namespaces.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { GraphResponse, GraphType } from '../../../telemetry/api';
import { api } from '../client';
import { Empty, ErrorBox, Loading } from '../components/common';
import { GraphWithPanel } from '../components/graph-panel';
import { EDGE_LABEL_MODES, type EdgeLabelMode } from '../components/graph-style';
import { fmtDuration } from '../format';
import { useLoad, useStored } from '../hooks';
import { useSettings } from '../settings';

const GRAPH_TYPES: Array<{ value: GraphType; label: string }> = [
  { value: 'workload', label: 'Workload graph' },
  { value: 'app', label: 'App graph' },
  { value: 'versionedApp', label: 'Versioned app graph' },
  { value: 'service', label: 'Service graph' },
];

export function realNodes(g: GraphResponse | undefined): number {
  return (g?.elements?.nodes ?? []).filter((n) => !n.data.isBox).length;
}

export function GraphToolbar(props: {
  edgeLabels: EdgeLabelMode;
  setEdgeLabels: (m: EdgeLabelMode) => void;
  animate: boolean;
  setAnimate: (b: boolean) => void;
  onReset: () => void;
  children?: ComponentChildren;
}) {
  return (
    <div class="toolbar">
      {props.children}
      <label>
        <select data-testid="edge-labels" value={props.edgeLabels} onChange={(e) => props.setEdgeLabels(e.currentTarget.value as EdgeLabelMode)}>
          {EDGE_LABEL_MODES.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      <label class="check">
        <input type="checkbox" data-testid="toggle-animation" checked={props.animate} onChange={(e) => props.setAnimate(e.currentTarget.checked)} />
        Traffic animation
      </label>
      <button type="button" data-testid="reset-layout" onClick={props.onReset} title="Forget dragged positions and lay the graph out again">
        Reset layout
      </button>
    </div>
  );
}

export function GraphPage() {
  const { namespaces, durations, tick } = useSettings();
  const duration = durations.graph;
  const [graphType, setGraphType] = useStored<GraphType>('virtmesh.graph.type', 'workload');
  const [edgeLabels, setEdgeLabels] = useStored<EdgeLabelMode>('virtmesh.graph.edgeLabels', 'rate');
  const [animate, setAnimate] = useStored('virtmesh.graph.animate', false);
  const [idle, setIdle] = useStored('virtmesh.graph.idle', false);
  const [resetToken, setResetToken] = useState(0);

  const url = namespaces.length > 0 ? api.graphUrl({ namespaces, graphType, duration, includeIdle: idle }) : null;
  const state = useLoad(url, tick, (signal) => api.graph(url!, signal));
  const graph = state.data;
  const nsText = namespaces.join(', ');

  let overlay = null;
  if (namespaces.length === 0) overlay = <Empty>Select a namespace to see its traffic graph.</Empty>;
  else if (!graph && state.loading) overlay = <Loading what="graph" />;
  else if (graph && realNodes(graph) === 0)
    overlay = (
      <Empty>
        No traffic in the last {fmtDuration(duration)} in namespace{namespaces.length > 1 ? 's' : ''} {nsText}
      </Empty>
    );

  return (
    <div class="page page-graph">
      <div class="page-header">
        <h1>Traffic Graph</h1>
        <GraphToolbar
          edgeLabels={edgeLabels}
          setEdgeLabels={setEdgeLabels}
          animate={animate}
          setAnimate={setAnimate}
          onReset={() => setResetToken(resetToken + 1)}
        >
          <select data-testid="graph-type" value={graphType} onChange={(e) => setGraphType(e.currentTarget.value as GraphType)}>
            {GRAPH_TYPES.map((t) => (
              <option key={t.value} value={t.value}>
                {t.label}
              </option>
            ))}
          </select>
          <label class="check">
            <input type="checkbox" data-testid="toggle-idle" checked={idle} onChange={(e) => setIdle(e.currentTarget.checked)} />
            Idle nodes
          </label>
        </GraphToolbar>
      </div>
      {state.error ? <ErrorBox error={state.error} what="the graph" /> : null}
      <GraphWithPanel
        graph={graph}
        edgeLabels={edgeLabels}
        animate={animate}
        positionsKey="virtmesh.graph.positions"
        resetToken={resetToken}
        overlay={overlay}
      />
      <GraphLegend />
    </div>
  );
}

export function GraphLegend() {
  return (
    <div class="legend small">
      <span>
        <i class="shape shape-circle" /> workload
      </span>
      <span>
        <i class="shape shape-square" /> app
      </span>
      <span>
        <i class="shape shape-triangle" /> service
      </span>
      <span>
        <i class="shape shape-diamond" /> unknown / passthrough
      </span>
      <span>
        <i class="dot dot-healthy" /> healthy
      </span>
      <span>
        <i class="dot dot-degraded" /> degraded
      </span>
      <span>
        <i class="dot dot-failure" /> failure
      </span>
      <span>
        <i class="dot dot-na" /> no traffic / no health
      </span>
      <span>⚠ missing sidecar</span>
    </div>
  );
}
