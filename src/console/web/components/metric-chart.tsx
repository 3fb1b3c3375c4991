// One metrics chart (uPlot). Series are aligned on the union of their timestamps; the
// container carries data-testid="chart-<metric>" and data-points (total datapoints drawn).
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { fmtNumber } from '../format';

export interface ChartSeries {
  label: string;
  points: Array<[number, number]>;
}

const PALETTE = ['#0066cc', '#3e8635', '#ec7a08', '#c9190b', '#8476d1', '#009596', '#f4c145', '#a18fff', '#73c5c5', '#4cb140', '#7d1007', '#2a265f'];

function align(series: ChartSeries[]): uPlot.AlignedData {
  const times = new Set<number>();
  for (const s of series) for (const [t] of s.points) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const col: Array<number | null> = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) if (Number.isFinite(v)) col[index.get(t)!] = v;
    return col;
  });
  return [xs, ...ys] as uPlot.AlignedData;
}

export function MetricChart(props: { metric: string; title: string; unit: string; series: ChartSeries[] }) {
  const plotRef = useRef<HTMLDivElement>(null);
  const total = props.series.reduce((n, s) => n + s.points.length, 0);

  useEffect(() => {
    const el = plotRef.current;
    if (!el || total === 0) return;
    const unit = props.unit;
    const data = align(props.series);
    const few = data[0].length <= 2;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 190,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      series: [
        {},
        ...props.series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          points: { show: few },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '-' : `${fmtNumber(v)} ${unit}`),
        })),
      ],
      axes: [{ size: 32 }, { size: 56, values: (_u, vals) => vals.map((v) => fmtNumber(v)) }],
    };
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (w !== plot.width) plot.setSize({ width: w, height: 190 });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.series, props.unit, total]);

  return (
    <div class="chart card" data-testid={`chart-${props.metric}`} data-points={String(total)}>
      <div class="chart-title">
        {props.title} <span class="muted small">({props.unit})</span>
      </div>
      {total === 0 ? <div class="chart-empty">No data</div> : <div class="chart-plot" ref={plotRef} />}
    </div>
  );
}
