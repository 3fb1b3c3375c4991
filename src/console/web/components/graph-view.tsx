// The traffic graph: a Cytoscape instance that follows the API's graph elements. Dragged node
// positions are kept in localStorage (by node id) and win over the layout, across refreshes and
// reloads; a refresh only lays out again when nodes without a saved position appear.
import cytoscape from 'cytoscape';
import dagre from 'cytoscape-dagre';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { EdgeData, GraphResponse, NodeData } from '../../../telemetry/api';
import { readStored, writeStored } from '../hooks';
import { type EdgeLabelMode, edgeLabel, edgeRate, graphStylesheet, nodeLabel } from './graph-style';

cytoscape.use(dagre);

export type GraphSelection = { kind: 'node' | 'edge'; id: string } | null;

export interface GraphViewProps {
  graph: GraphResponse | undefined;
  edgeLabels: EdgeLabelMode;
  animate: boolean;
  /** localStorage key of the saved positions map { [nodeId]: {x, y} }. */
  positionsKey: string;
  /** Bump to forget saved positions and lay the graph out again. */
  resetToken: number;
  onSelect: (sel: GraphSelection) => void;
  /** Drawn over the graph (e.g. the empty state). */
  overlay?: ComponentChildren;
  class?: string;
}

type Positions = Record<string, { x: number; y: number }>;

interface TestNode {
  id: string;
  label: string;
  nodeType: string;
  namespace: string;
  health: string;
  isBox?: string;
  parent?: string;
  position: { x: number; y: number };
  /** Position on screen, relative to the graph container's top-left corner. */
  renderedPosition: { x: number; y: number };
}

interface TestEdge {
  id: string;
  source: string;
  target: string;
  protocol: string;
  /** Requests per second (HTTP) or bytes per second (TCP). */
  rate: number;
  health: string;
}

declare global {
  interface Window {
    __virtmeshGraph?: { nodes(): TestNode[]; edges(): TestEdge[]; cy: cytoscape.Core };
  }
}

function depth(n: NodeData, byId: Map<string, NodeData>): number {
  let d = 0;
  let p = n.parent;
  while (p && d < 10) {
    d++;
    p = byId.get(p)?.parent;
  }
  return d;
}

function nodeElementData(n: NodeData): Record<string, unknown> {
  return { ...n, _label: nodeLabel(n), _noSidecar: n.hasSidecar === false && !n.isBox };
}

function edgeElementData(e: EdgeData, mode: EdgeLabelMode): Record<string, unknown> {
  const rate = edgeRate(e);
  const width = rate > 0 ? Math.min(6, 1.5 + Math.log10(1 + rate * (e.protocol === 'tcp' ? 0.01 : 1))) : 1;
  return { ...e, _label: edgeLabel(e, mode), _width: Number(width.toFixed(2)), _rate: rate };
}

/** Makes the Cytoscape graph hold exactly the response's elements; returns the nodes it added. */
function syncElements(cy: cytoscape.Core, graph: GraphResponse, mode: EdgeLabelMode): cytoscape.NodeSingular[] {
  const nodes = graph.elements?.nodes ?? [];
  const edges = graph.elements?.edges ?? [];
  const byId = new Map(nodes.map((n) => [n.data.id, n.data]));
  const want = new Set<string>([...byId.keys(), ...edges.map((e) => e.data.id)]);
  const added: cytoscape.NodeSingular[] = [];
  cy.batch(() => {
    cy.edges().forEach((el) => {
      const d = edges.find((e) => e.data.id === el.id())?.data;
      if (!d || d.source !== el.data('source') || d.target !== el.data('target')) el.remove();
    });
    cy.nodes().forEach((el) => {
      if (el.removed()) return;
      if (!want.has(el.id())) {
        // Keep children that stay: move them out before their parent goes.
        el.children().forEach((c) => {
          if (want.has(c.id())) c.move({ parent: null });
        });
        el.remove();
      }
    });
    const sorted = [...nodes].sort((a, b) => depth(a.data, byId) - depth(b.data, byId));
    for (const { data } of sorted) {
      const el = cy.getElementById(data.id);
      const parent = data.parent && byId.has(data.parent) ? data.parent : undefined;
      if (el.nonempty()) {
        if ((el.data('parent') ?? undefined) !== parent) (el as cytoscape.NodeSingular).move({ parent: parent ?? null });
        el.data(nodeElementData({ ...data, parent }));
      } else {
        added.push(cy.add({ group: 'nodes', data: nodeElementData({ ...data, parent }) as cytoscape.NodeDataDefinition }));
      }
    }
    for (const { data } of edges) {
      if (!byId.has(data.source) || !byId.has(data.target)) continue;
      const el = cy.getElementById(data.id);
      if (el.nonempty()) el.data(edgeElementData(data, mode));
      else cy.add({ group: 'edges', data: edgeElementData(data, mode) as cytoscape.EdgeDataDefinition });
    }
  });
  return added;
}

function layout(cy: cytoscape.Core, saved: Positions): void {
  if (cy.nodes().empty()) return;
  cy.layout({
    name: 'dagre',
    rankDir: 'LR',
    nodeSep: 30,
    rankSep: 90,
    padding: 30,
    animate: false,
    fit: false,
  } as cytoscape.LayoutOptions).run();
  applySaved(cy, saved);
}

function applySaved(cy: cytoscape.Core, saved: Positions): void {
  cy.nodes().forEach((n) => {
    if (n.isParent()) return;
    const p = saved[n.id()];
    if (p && Number.isFinite(p.x) && Number.isFinite(p.y)) n.position({ x: p.x, y: p.y });
  });
}

function fit(cy: cytoscape.Core): void {
  cy.fit(undefined, 40);
  if (cy.zoom() > 1.6) {
    cy.zoom(1.6);
    cy.center();
  }
}

export function GraphView(props: GraphViewProps) {
  const containerRef = useRef<HTMLDivElement>(null);
  const cyRef = useRef<cytoscape.Core | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;
  const fittedRef = useRef(false);

  // One Cytoscape instance for the component's life.
  useEffect(() => {
    const cy = cytoscape({
      container: containerRef.current!,
      style: graphStylesheet(),
      minZoom: 0.1,
      maxZoom: 4,
      boxSelectionEnabled: false,
    });
    cyRef.current = cy;
    cy.on('tap', 'node', (e) => propsRef.current.onSelect({ kind: 'node', id: e.target.id() }));
    cy.on('tap', 'edge', (e) => propsRef.current.onSelect({ kind: 'edge', id: e.target.id() }));
    cy.on('tap', (e) => {
      if (e.target === cy) propsRef.current.onSelect(null);
    });
    cy.on('dragfree', 'node', (e) => {
      const key = propsRef.current.positionsKey;
      const saved = readStored<Positions>(key, {});
      const node = e.target as cytoscape.NodeSingular;
      const moved = node.isParent() ? node.descendants().filter((d) => !d.isParent()) : node;
      moved.forEach((n) => {
        const p = n.position();
        saved[n.id()] = { x: Math.round(p.x), y: Math.round(p.y) };
      });
      writeStored(key, saved);
    });
    const api = {
      cy,
      nodes: () =>
        cy.nodes().map((n) => ({
          id: n.id(),
          label: String(n.data('label') ?? ''),
          nodeType: String(n.data('nodeType') ?? ''),
          namespace: String(n.data('namespace') ?? ''),
          health: String(n.data('health') ?? ''),
          isBox: n.data('isBox'),
          parent: n.data('parent'),
          position: { ...n.position() },
          renderedPosition: { ...n.renderedPosition() },
        })),
      edges: () =>
        cy.edges().map((e) => ({
          id: e.id(),
          source: String(e.data('source')),
          target: String(e.data('target')),
          protocol: String(e.data('protocol') ?? ''),
          rate: Number(e.data('_rate') ?? 0),
          health: String(e.data('health') ?? ''),
        })),
    };
    window.__virtmeshGraph = api;
    const resize = new ResizeObserver(() => cy.resize());
    resize.observe(containerRef.current!);
    return () => {
      resize.disconnect();
      if (window.__virtmeshGraph === api) window.__virtmeshGraph = undefined;
      cy.destroy();
      cyRef.current = null;
    };
  }, []);

  // Follow the data.
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy || !props.graph) return;
    const saved = readStored<Positions>(props.positionsKey, {});
    const added = syncElements(cy, props.graph, props.edgeLabels);
    const unplaced = added.filter((n) => !n.isParent() && !saved[n.id()]);
    if (unplaced.length > 0) {
      layout(cy, saved);
      fit(cy);
      fittedRef.current = true;
    } else applySavedTo(added, saved);
    if (!fittedRef.current && cy.nodes().nonempty()) {
      fit(cy);
      fittedRef.current = true;
    }
  }, [props.graph]);

  // Edge labels without touching anything else.
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    cy.batch(() => {
      cy.edges().forEach((e) => {
        e.data('_label', edgeLabel(e.data() as EdgeData, props.edgeLabels));
      });
    });
  }, [props.edgeLabels]);

  // Reset layout: forget saved positions, lay out, fit.
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy || props.resetToken === 0) return;
    writeStored(props.positionsKey, {});
    layout(cy, {});
    fit(cy);
  }, [props.resetToken]);

  // Traffic animation: dashes that move along each edge, faster with more traffic.
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy || !props.animate) return;
    let frame = 0;
    let last = performance.now();
    let offset = 0;
    const tick = (now: number) => {
      const dt = Math.min(0.1, (now - last) / 1000);
      last = now;
      offset += dt;
      cy.batch(() => {
        cy.edges().forEach((e) => {
          const rate = Number(e.data('_rate') ?? 0);
          if (rate <= 0) {
            if (e.hasClass('animated')) e.removeClass('animated');
            return;
          }
          if (!e.hasClass('animated')) e.addClass('animated');
          const scaled = e.data('protocol') === 'tcp' ? rate / 1000 : rate;
          const speed = Math.min(80, 12 + 18 * Math.log10(1 + scaled * 10));
          e.style('line-dash-offset', -((offset * speed) % 1200));
        });
      });
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => {
      cancelAnimationFrame(frame);
      if (!cy.destroyed()) {
        cy.batch(() => {
          cy.edges().removeClass('animated');
          cy.edges().removeStyle('line-dash-offset');
        });
      }
    };
  }, [props.animate]);

  return (
    <div class={`graph-wrap ${props.class ?? ''}`}>
      <div class="graph-canvas" ref={containerRef} data-testid="graph" />
      {props.overlay ? <div class="graph-overlay">{props.overlay}</div> : null}
    </div>
  );
}

function applySavedTo(nodes: cytoscape.NodeSingular[], saved: Positions): void {
  for (const n of nodes) {
    const p = saved[n.id()];
    if (p && !n.isParent()) n.position({ x: p.x, y: p.y });
  }
}
