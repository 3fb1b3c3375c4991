// A workload's inbound or outbound metrics, charted as Kiali's metrics tabs do.
import { useMemo, useState } from 'preact/hooks';
import type { MetricName, MetricsResponse, Series } from '../../../telemetry/api';
import { api } from '../client';
import { ErrorBox, Loading } from '../components/common';
import { type ChartSeries, MetricChart } from '../components/metric-chart';
import { useLoad } from '../hooks';
import { useSettings } from '../settings';

interface ChartDef {
  metric: MetricName;
  title: string;
  unit: string;
  /** Multiplies every value (bit/s -> kbit/s). */
  scale?: number;
  /** Drawn in the same chart, its labels suffixed. */
  extra?: { metric: MetricName; suffix: string };
}

const HTTP_CHARTS: ChartDef[] = [
  { metric: 'request_count', title: 'Request volume', unit: 'ops', extra: { metric: 'request_error_count', suffix: 'errors' } },
  { metric: 'request_duration_millis', title: 'Request duration', unit: 'ms' },
  { metric: 'request_size', title: 'Request size', unit: 'B' },
  { metric: 'response_size', title: 'Response size', unit: 'B' },
  { metric: 'request_throughput', title: 'Request throughput', unit: 'kbit/s', scale: 1 / 1000 },
  { metric: 'response_throughput', title: 'Response throughput', unit: 'kbit/s', scale: 1 / 1000 },
];

const TCP_CHARTS: ChartDef[] = [
  { metric: 'tcp_opened', title: 'TCP opened', unit: 'connections/s' },
  { metric: 'tcp_closed', title: 'TCP closed', unit: 'connections/s' },
  { metric: 'tcp_sent', title: 'TCP sent', unit: 'B/s' },
  { metric: 'tcp_received', title: 'TCP received', unit: 'B/s' },
];

function statText(stat: string | undefined): string {
  if (!stat) return '';
  if (stat === 'avg') return 'avg';
  const q = Number.parseFloat(stat);
  return Number.isFinite(q) ? `p${Number((q * 100).toFixed(1))}` : stat;
}

function seriesLabel(s: Series, fallback: string, suffix?: string): string {
  const parts = Object.values(s.labels ?? {}).filter((v) => v !== '');
  const stat = statText(s.stat);
  if (stat) parts.push(stat);
  if (suffix) parts.push(suffix);
  return parts.length > 0 ? parts.join(' ') : fallback;
}

const STAT_ORDER = ['avg', '0.5', '0.95', '0.99', '0.999'];

function toChartSeries(list: Series[] | undefined, fallback: string, scale = 1, suffix?: string): ChartSeries[] {
  if (!Array.isArray(list)) return [];
  return [...list]
    .sort((a, b) => {
      const la = JSON.stringify(a.labels ?? {});
      const lb = JSON.stringify(b.labels ?? {});
      return la.localeCompare(lb) || STAT_ORDER.indexOf(a.stat ?? '') - STAT_ORDER.indexOf(b.stat ?? '');
    })
    .map((s) => ({
      label: seriesLabel(s, fallback, suffix),
      points: (s.datapoints ?? []).filter(([, v]) => Number.isFinite(v)).map(([t, v]) => [t, v * scale] as [number, number]),
    }));
}

function chartSeries(def: ChartDef, data: MetricsResponse): ChartSeries[] {
  const main = toChartSeries(data[def.metric], def.extra ? 'requests' : def.title, def.scale);
  if (!def.extra) return main;
  return [...main, ...toChartSeries(data[def.extra.metric], def.extra.suffix, def.scale, def.extra.suffix)];
}

function Charts({ defs, data }: { defs: ChartDef[]; data: MetricsResponse }) {
  return (
    <div class="charts">
      {defs.map((def) => (
        <MetricChartMemo key={def.metric} def={def} data={data} />
      ))}
    </div>
  );
}

function MetricChartMemo({ def, data }: { def: ChartDef; data: MetricsResponse }) {
  // Rebuilt only when the response changes (useLoad hands out a new object per answer).
  const series = useMemo(() => chartSeries(def, data), [def, data]);
  return <MetricChart metric={def.metric} title={def.title} unit={def.unit} series={series} />;
}

export function MetricsTab({ namespace, name, direction }: { namespace: string; name: string; direction: 'inbound' | 'outbound' }) {
  const { durations, tick } = useSettings();
  const duration = durations.metrics;
  const [reporter, setReporter] = useState<'source' | 'destination'>(direction === 'inbound' ? 'destination' : 'source');
  const [groupBy, setGroupBy] = useState('');
  const step = Math.max(5, Math.ceil(duration / 100));
  const url = api.metricsUrl(namespace, name, { direction, reporter, duration, step, byLabels: groupBy || undefined });
  const state = useLoad(url, tick, (signal) => api.metrics(url, signal));
  const remoteWorkload = direction === 'inbound' ? 'source_workload' : 'destination_workload';

  return (
    <div data-testid={`metrics-${direction}`}>
      <div class="toolbar">
        <label>
          Reporter{' '}
          <select data-testid="metrics-reporter" value={reporter} onChange={(e) => setReporter(e.currentTarget.value as 'source' | 'destination')}>
            <option value="source">Source</option>
            <option value="destination">Destination</option>
          </select>
        </label>
        <label>
          Group by{' '}
          <select data-testid="metrics-group-by" value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value)}>
            <option value="">None</option>
            <option value="response_code">Response code</option>
            <option value={remoteWorkload}>{direction === 'inbound' ? 'Remote (source) workload' : 'Remote (destination) workload'}</option>
            <option value="destination_service_name">Remote service</option>
          </select>
        </label>
        {state.loading && state.data ? <span class="muted small">Refreshing…</span> : null}
      </div>
      {state.error ? <ErrorBox error={state.error} what={`${direction} metrics`} /> : null}
      {state.data ? (
        <>
          <h3 class="section">HTTP</h3>
          <Charts defs={HTTP_CHARTS} data={state.data} />
          <h3 class="section">TCP</h3>
          <Charts defs={TCP_CHARTS} data={state.data} />
        </>
      ) : state.loading ? (
        <Loading what={`${direction} metrics`} />
      ) : null}
    </div>
  );
}
