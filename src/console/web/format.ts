// Number and label formatting shared by the graph, the side panel and the tables.

export function fmtRate(rps: number | undefined): string {
  return `${(rps ?? 0).toFixed(2)}rps`;
}

export function fmtPercent(p: number | undefined, digits = 1): string {
  return `${(p ?? 0).toFixed(digits)}%`;
}

export function fmtMillis(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms >= 10) return `${Math.round(ms)}ms`;
  return `${Number(ms.toFixed(2))}ms`;
}

/** Bytes per second, as B/s, kB/s, MB/s. */
export function fmtBytesPerSec(bps: number | undefined): string {
  const v = bps ?? 0;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}MB/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)}kB/s`;
  return `${v.toFixed(v >= 10 || v === 0 ? 0 : 1)}B/s`;
}

export function fmtDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

export function fmtNumber(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e9) return `${Number((v / 1e9).toFixed(2))}G`;
  if (a >= 1e6) return `${Number((v / 1e6).toFixed(2))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toFixed(1))}k`;
  if (a >= 100) return `${Math.round(v)}`;
  if (a >= 1) return `${Number(v.toFixed(2))}`;
  return `${Number(v.toPrecision(2))}`;
}

export function fmtAge(iso: string | undefined): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
