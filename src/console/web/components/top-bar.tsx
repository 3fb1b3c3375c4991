// The top bar: namespaces, time range, refresh interval and the refresh button.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { NamespaceInfo } from '../../../telemetry/api';
import { fmtDuration } from '../format';
import { DURATIONS, REFRESH_INTERVALS } from '../settings';

export function NamespaceSelect(props: { all: NamespaceInfo[]; selected: string[]; onChange: (ns: string[]) => void; error?: Error }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);
  const toggle = (name: string) => {
    const next = props.selected.includes(name) ? props.selected.filter((n) => n !== name) : [...props.selected, name];
    props.onChange(props.all.map((n) => n.name).filter((n) => next.includes(n)));
  };
  const text = props.selected.length === 0 ? 'Select namespaces' : props.selected.join(', ');
  return (
    <div class="ns-select" ref={ref}>
      <button type="button" data-testid="namespace-select" class="select-button" onClick={() => setOpen(!open)} title={text} aria-expanded={open}>
        <span class="muted">Namespace:</span> <span class="ns-text">{text}</span> ▾
      </button>
      {open ? (
        <div class="dropdown" data-testid="namespace-menu">
          <div class="dropdown-actions">
            <button type="button" class="linkish" onClick={() => props.onChange(props.all.map((n) => n.name))}>
              Select all
            </button>
            <button type="button" class="linkish" onClick={() => props.onChange([])}>
              Clear
            </button>
          </div>
          {props.error ? <div class="state-error small">Could not load namespaces: {props.error.message}</div> : null}
          {props.all.length === 0 && !props.error ? <div class="muted small">No namespaces</div> : null}
          {props.all.map((n) => (
            <label key={n.name} class="check dropdown-item">
              <input type="checkbox" data-testid={`ns-option-${n.name}`} checked={props.selected.includes(n.name)} onChange={() => toggle(n.name)} />
              {n.name}
              {n.injection ? (
                <span class="badge badge-mesh" title="Sidecar injection enabled">
                  mesh
                </span>
              ) : null}
            </label>
          ))}
        </div>
      ) : null}
    </div>
  );
}

export function TopBar(props: {
  namespaces: NamespaceInfo[];
  namespacesError?: Error;
  selected: string[];
  onNamespaces: (ns: string[]) => void;
  duration: number;
  onDuration: (s: number) => void;
  refreshMs: number;
  onRefreshMs: (ms: number) => void;
  onRefresh: () => void;
  loading?: boolean;
}) {
  return (
    <header class="top-bar">
      <NamespaceSelect all={props.namespaces} selected={props.selected} onChange={props.onNamespaces} error={props.namespacesError} />
      <div class="spacer" />
      <label>
        <span class="muted">Last</span>{' '}
        <select data-testid="duration" value={String(props.duration)} onChange={(e) => props.onDuration(Number(e.currentTarget.value))}>
          {DURATIONS.map((d) => (
            <option key={d} value={String(d)}>
              {fmtDuration(d)}
            </option>
          ))}
        </select>
      </label>
      <label>
        <select data-testid="refresh-interval" value={String(props.refreshMs)} onChange={(e) => props.onRefreshMs(Number(e.currentTarget.value))}>
          {REFRESH_INTERVALS.map((r) => (
            <option key={r.ms} value={String(r.ms)}>
              {r.label}
            </option>
          ))}
        </select>
      </label>
      <button type="button" class="primary" data-testid="refresh" onClick={props.onRefresh} title="Refresh now">
        ⟳ Refresh
      </button>
    </header>
  );
}
