// Small building blocks: health icons, states (loading / empty / error), label chips, validations.
import { Component, type ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Health, Validation } from '../../../telemetry/api';
import { ApiError } from '../client';

const HEALTH_TEXT: Record<Health, string> = { healthy: 'Healthy', degraded: 'Degraded', failure: 'Failure', na: 'No health information' };
const HEALTH_GLYPH: Record<Health, string> = { healthy: '✔', degraded: '!', failure: '✖', na: '–' };

export function HealthIcon({ health, reason }: { health: Health | undefined; reason?: string }) {
  const h: Health = health && health in HEALTH_TEXT ? health : 'na';
  const title = reason ? `${HEALTH_TEXT[h]}: ${reason}` : HEALTH_TEXT[h];
  return (
    <span class={`health health-${h}`} title={title} data-health={h} role="img" aria-label={title}>
      {HEALTH_GLYPH[h]}
    </span>
  );
}

export function HealthText({ health, reason }: { health: Health | undefined; reason?: string }) {
  const h: Health = health ?? 'na';
  return (
    <span class="health-text">
      <HealthIcon health={h} reason={reason} /> {HEALTH_TEXT[h] ?? h}
      {reason ? <span class="muted"> ({reason})</span> : null}
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div class="state state-loading" data-testid="loading">
      <span class="spinner" /> Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <div class="state state-empty" data-testid="empty">
      {children}
    </div>
  );
}

export function ErrorBox({ error, what }: { error: Error; what?: string }) {
  const detail = error instanceof ApiError ? error.detail : undefined;
  return (
    <div class="state state-error" data-testid="error" role="alert">
      <strong>{what ? `Could not load ${what}` : 'Request failed'}</strong>
      <div>{error.message}</div>
      {detail ? <div class="detail">{detail}</div> : null}
    </div>
  );
}

/** Shows loading / error / empty around a loaded value, and the content when there is data. */
export function LoadGate<T>(props: {
  state: { data?: T; error?: Error; loading: boolean };
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ComponentChildren;
  children: (data: T) => ComponentChildren;
}) {
  const { state, what } = props;
  const body =
    state.data === undefined ? (
      state.error ? null : (
        <Loading what={what} />
      )
    ) : props.isEmpty?.(state.data) ? (
      <Empty>{props.empty}</Empty>
    ) : (
      props.children(state.data)
    );
  return (
    <>
      {state.error ? <ErrorBox error={state.error} what={what} /> : null}
      {body}
    </>
  );
}

export function LabelChips({ labels }: { labels: Record<string, string> | undefined }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return <span class="muted">-</span>;
  return (
    <span class="chips">
      {entries.map(([k, v]) => (
        <span class="chip" key={k} title={`${k}=${v}`}>
          {k}={v}
        </span>
      ))}
    </span>
  );
}

export function MissingSidecar() {
  return (
    <span class="badge badge-warn" data-testid="missing-sidecar" title="The pods of this workload do not run the istio-proxy sidecar">
      Missing sidecar
    </span>
  );
}

/** Validation summary: ✓, or counts of errors/warnings; click to show the messages (shown from the start when `expanded`). */
export function Validations({ items, expanded = false }: { items: Validation[] | undefined; expanded?: boolean }) {
  const [open, setOpen] = useState(expanded);
  const list = items ?? [];
  const errors = list.filter((v) => v.severity === 'error');
  const warnings = list.filter((v) => v.severity === 'warning');
  const infos = list.filter((v) => v.severity === 'info');
  const title = list.map((v) => `${v.severity.toUpperCase()} ${v.code}: ${v.message}${v.path ? ` (${v.path})` : ''}`).join('\n');
  if (list.length === 0) {
    return (
      <span class="valid valid-ok" data-testid="validation" data-severity="ok" title="Valid">
        ✓
      </span>
    );
  }
  const severity = errors.length > 0 ? 'error' : warnings.length > 0 ? 'warning' : 'info';
  return (
    <span class="validations" data-testid="validation" data-severity={severity}>
      <button type="button" class="linkish" title={title} onClick={() => setOpen(!open)} aria-expanded={open}>
        {errors.length > 0 ? <span class="valid valid-error">✖ {errors.length}</span> : null}
        {warnings.length > 0 ? <span class="valid valid-warning">⚠ {warnings.length}</span> : null}
        {infos.length > 0 ? <span class="valid valid-info">ℹ {infos.length}</span> : null}
      </button>
      {open ? (
        <ul class="validation-list">
          {list.map((v) => (
            <li key={`${v.code}-${v.path ?? ''}-${v.message}`} class={`valid-${v.severity}`}>
              <code>{v.code}</code> {v.message}
              {v.path ? <span class="muted"> — {v.path}</span> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </span>
  );
}

/** A proxy sync state (SYNCED, NACKED, STALE, NOT SENT...) coloured as istioctl's readers expect. */
export function SyncState({ value }: { value: string | undefined }) {
  const v = (value ?? '').trim();
  const cls = /^SYNCED/i.test(v) ? 'sync-ok' : /^NACK/i.test(v) ? 'sync-nack' : /^STALE/i.test(v) ? 'sync-stale' : 'sync-other';
  return (
    <span class={`sync ${cls}`} data-sync={v}>
      {v || '-'}
    </span>
  );
}

type XdsType = 'cds' | 'lds' | 'eds' | 'rds' | 'ecds';

/** One table cell per xDS type, each with the proxy's sync state for it. */
export function SyncCells({ row, types }: { row: Partial<Record<XdsType, string>>; types: XdsType[] }) {
  return (
    <>
      {types.map((t) => (
        <td key={t}>
          <SyncState value={row[t]} />
        </td>
      ))}
    </>
  );
}

/** Turns a rendering failure of a page into a message instead of a blank console (key it by route to reset). */
export class ErrorBoundary extends Component<{ children: ComponentChildren }, { error?: Error }> {
  override state: { error?: Error } = {};

  static getDerivedStateFromError(error: unknown) {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: unknown) {
    console.error('virtmesh console: a page failed to render', error);
  }

  override render() {
    if (this.state.error) return <ErrorBox error={this.state.error} what="this page (rendering failed)" />;
    return this.props.children;
  }
}
