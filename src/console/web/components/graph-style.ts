// How graph elements look: Kiali's shapes (workload circle, app rounded square, service triangle,
// unknown / passthrough diamond), health colours on borders and edges, and the edge labels.
import type cytoscape from 'cytoscape';
import type { EdgeData, NodeData } from '../../../telemetry/api';
import { fmtBytesPerSec, fmtMillis, fmtPercent, fmtRate } from '../format';

export type EdgeLabelMode = 'none' | 'rate' | 'error' | 'p95' | 'throughput';

export const EDGE_LABEL_MODES: Array<{ value: EdgeLabelMode; label: string }> = [
  { value: 'none', label: 'No edge labels' },
  { value: 'rate', label: 'Request rate' },
  { value: 'error', label: '% error' },
  { value: 'p95', label: 'Response time (p95)' },
  { value: 'throughput', label: 'Throughput' },
];

export const COLORS = {
  healthy: '#3e8635',
  degraded: '#ec7a08',
  failure: '#c9190b',
  na: '#8a8d90',
  tcp: '#2b9af3',
  selected: '#0066cc',
};

export function nodeLabel(d: NodeData): string {
  let label = d.label || d.workload || d.app || d.service || d.id;
  if (d.nodeType === 'app' && d.version && !d.isBox) label = `${label}\n${d.version}`;
  if (d.hasSidecar === false && !d.isBox) label = `⚠ ${label}`;
  return label;
}

/** The edge's request rate in rps (HTTP) or bytes per second (TCP): what animation speed follows. */
export function edgeRate(d: EdgeData): number {
  if (d.protocol === 'tcp') return d.tcp?.bytesPerSec ?? d.throughput ?? 0;
  return d.http?.rate ?? 0;
}

export function edgeLabel(d: EdgeData, mode: EdgeLabelMode): string {
  switch (mode) {
    case 'none':
      return '';
    case 'rate':
      return d.protocol === 'tcp' ? fmtBytesPerSec(d.tcp?.bytesPerSec ?? d.throughput) : fmtRate(d.http?.rate);
    case 'error':
      return d.protocol === 'tcp' ? '' : fmtPercent(d.http?.percentErr);
    case 'p95':
      return d.responseTimeP95 === undefined ? '' : fmtMillis(d.responseTimeP95);
    case 'throughput':
      return d.throughput === undefined && d.tcp === undefined ? '' : fmtBytesPerSec(d.throughput ?? d.tcp?.bytesPerSec);
  }
}

export function graphStylesheet(): cytoscape.StylesheetJson {
  return [
    {
      selector: 'node',
      style: {
        label: 'data(_label)',
        width: 30,
        height: 30,
        shape: 'ellipse',
        'background-color': '#ffffff',
        'border-width': 3,
        'border-color': COLORS.na,
        'font-size': 10,
        'font-family': 'system-ui, sans-serif',
        color: '#151515',
        'text-valign': 'bottom',
        'text-halign': 'center',
        'text-margin-y': 4,
        'text-wrap': 'wrap',
        'text-max-width': '140px',
        'text-background-color': '#ffffff',
        'text-background-opacity': 0.85,
        'text-background-padding': '2px',
        'text-background-shape': 'roundrectangle',
      },
    },
    { selector: 'node[nodeType = "app"]', style: { shape: 'round-rectangle' } },
    { selector: 'node[nodeType = "service"]', style: { shape: 'triangle', width: 32, height: 28 } },
    { selector: 'node[nodeType = "unknown"], node[?isPassthrough]', style: { shape: 'diamond', width: 34, height: 34 } },
    { selector: 'node[health = "healthy"]', style: { 'border-color': COLORS.healthy } },
    { selector: 'node[health = "degraded"]', style: { 'border-color': COLORS.degraded } },
    { selector: 'node[health = "failure"]', style: { 'border-color': COLORS.failure, 'background-color': '#fdeaea' } },
    { selector: 'node[?isRoot]', style: { 'background-color': '#e7f1fa' } },
    { selector: 'node[?isOutside]', style: { 'background-color': '#f0f0f0', opacity: 0.85 } },
    { selector: 'node[?isIdle]', style: { 'border-style': 'dashed', opacity: 0.6 } },
    { selector: 'node[?_noSidecar]', style: { 'border-style': 'double', 'border-width': 5 } },
    {
      selector: 'node[?isBox]',
      style: {
        shape: 'round-rectangle',
        'background-color': '#f5f5f5',
        'background-opacity': 0.6,
        'border-width': 1,
        'border-style': 'solid',
        'border-color': '#b8bbbe',
        'text-valign': 'top',
        'text-halign': 'center',
        'text-margin-y': -4,
        'font-size': 11,
        'font-weight': 'bold',
        padding: '14px',
        opacity: 1,
      },
    },
    { selector: 'node[isBox = "app"]', style: { 'background-color': '#eef5fb', 'border-style': 'dashed', 'font-size': 10 } },
    {
      selector: 'edge',
      style: {
        label: 'data(_label)',
        width: 'data(_width)',
        'curve-style': 'bezier',
        'line-color': COLORS.na,
        'target-arrow-color': COLORS.na,
        'target-arrow-shape': 'vee',
        'arrow-scale': 1,
        'font-size': 9,
        'font-family': 'system-ui, sans-serif',
        color: '#151515',
        'text-background-color': '#ffffff',
        'text-background-opacity': 0.85,
        'text-background-padding': '1px',
      },
    },
    { selector: 'edge[protocol = "tcp"]', style: { 'line-color': COLORS.tcp, 'target-arrow-color': COLORS.tcp } },
    { selector: 'edge[health = "healthy"]', style: { 'line-color': COLORS.healthy, 'target-arrow-color': COLORS.healthy } },
    { selector: 'edge[health = "degraded"]', style: { 'line-color': COLORS.degraded, 'target-arrow-color': COLORS.degraded } },
    { selector: 'edge[health = "failure"]', style: { 'line-color': COLORS.failure, 'target-arrow-color': COLORS.failure } },
    { selector: 'edge.animated', style: { 'line-style': 'dashed', 'line-dash-pattern': [7, 5] } },
    { selector: 'node:selected', style: { 'overlay-color': COLORS.selected, 'overlay-opacity': 0.15, 'overlay-padding': 6 } },
    { selector: 'edge:selected', style: { 'overlay-color': COLORS.selected, 'overlay-opacity': 0.2, 'overlay-padding': 4 } },
  ];
}
