// What the top bar controls (namespaces, time range, refresh) and every page reads.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { NamespaceInfo } from '../../telemetry/api';

export const DURATIONS = [60, 300, 600, 1800, 3600];
export const REFRESH_INTERVALS: Array<{ ms: number; label: string }> = [
  { ms: 0, label: 'Off' },
  { ms: 10_000, label: 'Every 10s' },
  { ms: 15_000, label: 'Every 15s' },
  { ms: 30_000, label: 'Every 30s' },
  { ms: 60_000, label: 'Every 1m' },
];

/** Namespaces left out of the default selection. */
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'istio-system', 'local-path-storage', 'kubevirt']);

export function defaultNamespaces(all: NamespaceInfo[]): string[] {
  const names = all.map((n) => n.name);
  if (names.includes('default')) return ['default'];
  const user = names.filter((n) => !SYSTEM_NAMESPACES.has(n));
  return user.length > 0 ? user : names.slice(0, 1);
}

/** Which time range a page uses: the graph's (default 1m) or the metrics' (default 10m). */
export type DurationKind = 'graph' | 'metrics';

export interface Settings {
  allNamespaces: NamespaceInfo[];
  namespaces: string[];
  /** Seconds, per kind. */
  durations: Record<DurationKind, number>;
  refreshMs: number;
  /** Changes on every refresh (button or interval); pages reload when it does. */
  tick: number;
}

export const SettingsContext = createContext<Settings>({
  allNamespaces: [],
  namespaces: [],
  durations: { graph: 60, metrics: 600 },
  refreshMs: 15_000,
  tick: 0,
});

export function useSettings(): Settings {
  return useContext(SettingsContext);
}
