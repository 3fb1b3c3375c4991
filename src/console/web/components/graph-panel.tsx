// The side panel for what was clicked in the graph: a node's health and traffic, or an edge's;
// and the graph drawn with it.

import { useState } from 'preact/hooks';
import type { EdgeData, GraphResponse, NodeData } from '../../../telemetry/api';
import { fmtBytesPerSec, fmtMillis, fmtPercent, fmtRate } from '../format';
import { HealthText, MissingSidecar } from './common';
import { type GraphSelection, GraphView, type GraphViewProps } from './graph-view';

interface Totals {
  rate: number;
  errRate: number;
  tcp: number;
  edges: number;
}

function totals(edges: EdgeData[]): Totals {
  const t: Totals = { rate: 0, errRate: 0, tcp: 0, edges: edges.length };
  for (const e of edges) {
    if (e.http) {
      t.rate += e.http.rate;
      t.errRate += (e.http.rate * e.http.percentErr) / 100;
    }
    if (e.tcp) t.tcp += e.tcp.bytesPerSec;
  }
  return t;
}

/** Sums the edges' responses by code, then flags. */
function byCode(edges: EdgeData[]): Array<{ code: string; flags: string; rate: number }> {
  const sums = new Map<string, number>();
  for (const e of edges) {
    for (const [code, flags] of Object.entries(e.responses ?? {})) {
      for (const [flag, rate] of Object.entries(flags ?? {})) {
        const key = `${code}\u0000${flag}`;
        sums.set(key, (sums.get(key) ?? 0) + rate);
      }
    }
  }
  return [...sums.entries()]
    .map(([k, rate]) => {
      const [code, flags] = k.split('\u0000');
      return { code, flags, rate };
    })
    .sort((a, b) => a.code.localeCompare(b.code) || b.rate - a.rate);
}

function codeClass(code: string): string {
  if (/^2/.test(code)) return 'code-ok';
  if (/^3/.test(code)) return 'code-redirect';
  if (/^4/.test(code)) return 'code-warn';
  return 'code-err';
}

function ResponsesTable({ edges, testid }: { edges: EdgeData[]; testid: string }) {
  const rows = byCode(edges);
  if (rows.length === 0) return <div class="muted small">No HTTP responses.</div>;
  const total = rows.reduce((s, r) => s + r.rate, 0);
  return (
    <table class="table compact" data-testid={testid}>
      <thead>
        <tr>
          <th>Code</th>
          <th>Flags</th>
          <th class="num">Rate</th>
          <th class="num">%</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.code}-${r.flags}`}>
            <td class={codeClass(r.code)}>{r.code}</td>
            <td>{r.flags}</td>
            <td class="num">{fmtRate(r.rate)}</td>
            <td class="num">{fmtPercent(total > 0 ? (r.rate / total) * 100 : 0)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function TrafficSummary({ title, t }: { title: string; t: Totals }) {
  return (
    <div class="kv">
      <div class="kv-title">{title}</div>
      {t.edges === 0 ? (
        <div class="muted small">None</div>
      ) : (
        <>
          <div>
            HTTP: <b>{fmtRate(t.rate)}</b>, errors {fmtPercent(t.rate > 0 ? (t.errRate / t.rate) * 100 : 0)}
          </div>
          {t.tcp > 0 ? <div>TCP: {fmtBytesPerSec(t.tcp)}</div> : null}
        </>
      )}
    </div>
  );
}

function nodeLink(n: NodeData): { href: string; text: string } | null {
  if (n.workload && n.nodeType !== 'service' && !n.isBox)
    return { href: `#/workloads/${encodeURIComponent(n.namespace)}/${encodeURIComponent(n.workload)}`, text: 'Go to workload' };
  if (n.nodeType === 'service') return { href: '#/services', text: 'Go to services' };
  return null;
}

const TYPE_TEXT: Record<string, string> = { workload: 'Workload', app: 'App', service: 'Service', unknown: 'Unknown', box: 'Box' };

function NodePanel({ node, graph }: { node: NodeData; graph: GraphResponse }) {
  const nodes = graph.elements.nodes.map((n) => n.data);
  const edges = graph.elements.edges.map((e) => e.data);
  if (node.isBox) {
    const children = nodes.filter((n) => n.parent === node.id);
    return (
      <>
        <h3>{node.label}</h3>
        <div class="muted">{node.isBox === 'namespace' ? 'Namespace' : `App in ${node.namespace}`}</div>
        <div>{children.length} node(s)</div>
      </>
    );
  }
  const inbound = edges.filter((e) => e.target === node.id);
  const outbound = edges.filter((e) => e.source === node.id);
  const link = nodeLink(node);
  return (
    <>
      <h3 data-testid="panel-title">{node.label}</h3>
      <div class="panel-meta">
        <span class="badge">{TYPE_TEXT[node.nodeType] ?? node.nodeType}</span> <span class="muted">namespace</span> {node.namespace}
        {node.version ? (
          <>
            {' '}
            <span class="muted">version</span> {node.version}
          </>
        ) : null}
      </div>
      <div class="panel-row">
        <HealthText health={node.health} reason={node.healthReason} />
      </div>
      {node.hasSidecar === false ? (
        <div class="panel-row">
          <MissingSidecar />
        </div>
      ) : null}
      {node.isIdle ? <div class="panel-row muted">Idle: no traffic in this time range.</div> : null}
      {link ? (
        <div class="panel-row">
          <a href={link.href} data-testid="panel-link">
            {link.text} →
          </a>
        </div>
      ) : null}
      <TrafficSummary title="Inbound" t={totals(inbound)} />
      <TrafficSummary title="Outbound" t={totals(outbound)} />
      <h4>Inbound responses</h4>
      <ResponsesTable edges={inbound} testid="panel-inbound-responses" />
      <h4>Outbound responses</h4>
      <ResponsesTable edges={outbound} testid="panel-outbound-responses" />
    </>
  );
}

function EdgePanel({ edge, graph }: { edge: EdgeData; graph: GraphResponse }) {
  const label = (id: string) => graph.elements.nodes.find((n) => n.data.id === id)?.data.label ?? id;
  return (
    <>
      <h3 data-testid="panel-title">
        {label(edge.source)} → {label(edge.target)}
      </h3>
      <div class="panel-meta">
        <span class="badge">{edge.protocol.toUpperCase()}</span>
      </div>
      <div class="panel-row">
        <HealthText health={edge.health} />
      </div>
      <table class="table compact kvtable">
        <tbody>
          {edge.protocol === 'http' ? (
            <>
              <tr>
                <th>Rate</th>
                <td>{fmtRate(edge.http?.rate)}</td>
              </tr>
              <tr>
                <th>% error</th>
                <td>{fmtPercent(edge.http?.percentErr)}</td>
              </tr>
              <tr>
                <th>Response time (p95)</th>
                <td>{fmtMillis(edge.responseTimeP95)}</td>
              </tr>
            </>
          ) : (
            <tr>
              <th>TCP</th>
              <td>{fmtBytesPerSec(edge.tcp?.bytesPerSec)}</td>
            </tr>
          )}
          <tr>
            <th>Throughput</th>
            <td>{edge.throughput === undefined ? '-' : fmtBytesPerSec(edge.throughput)}</td>
          </tr>
          <tr>
            <th>mTLS</th>
            <td>{fmtPercent(edge.mtlsPercent, 0)}</td>
          </tr>
        </tbody>
      </table>
      {edge.protocol === 'http' ? (
        <>
          <h4>Responses</h4>
          <ResponsesTable edges={[edge]} testid="panel-edge-responses" />
        </>
      ) : null}
    </>
  );
}

export function GraphPanel({ selection, graph, onClose }: { selection: GraphSelection; graph: GraphResponse | undefined; onClose: () => void }) {
  if (!selection || !graph) return null;
  const safe: GraphResponse = { ...graph, elements: { nodes: graph.elements?.nodes ?? [], edges: graph.elements?.edges ?? [] } };
  const node = selection.kind === 'node' ? safe.elements.nodes.find((n) => n.data.id === selection.id)?.data : undefined;
  const edge = selection.kind === 'edge' ? safe.elements.edges.find((e) => e.data.id === selection.id)?.data : undefined;
  return (
    <aside class="side-panel" data-testid="side-panel">
      <button type="button" class="close" onClick={onClose} title="Close">
        ×
      </button>
      {node ? <NodePanel node={node} graph={safe} /> : null}
      {edge ? <EdgePanel edge={edge} graph={safe} /> : null}
      {!node && !edge ? <div class="muted">This element is no longer in the graph.</div> : null}
    </aside>
  );
}

/** The graph with its side panel: what a node or edge clicked on carries. */
export function GraphWithPanel(props: Omit<GraphViewProps, 'onSelect'> & { mini?: boolean }) {
  const [selection, setSelection] = useState<GraphSelection>(null);
  return (
    <div class={props.mini ? 'graph-layout mini' : 'graph-layout'}>
      <GraphView {...props} onSelect={setSelection} />
      <GraphPanel selection={selection} graph={props.graph} onClose={() => setSelection(null)} />
    </div>
  );
}
