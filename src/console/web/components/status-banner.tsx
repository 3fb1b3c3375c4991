// Polls api/status and says when a backend is down, until it recovers.
import { useEffect, useState } from 'preact/hooks';
import type { StatusResponse } from '../../../telemetry/api';
import { api } from '../client';

const OK_POLL_MS = 10_000;
const FAILING_POLL_MS = 3_000;

export function useStatus(): { status?: StatusResponse; error?: Error } {
  const [state, setState] = useState<{ status?: StatusResponse; error?: Error }>({});
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ctrl: AbortController | undefined;
    const poll = async () => {
      ctrl = new AbortController();
      let failing = false;
      try {
        const status = await api.status(ctrl.signal);
        failing = !status.prometheus?.ok || !status.kubernetes?.ok;
        if (!stopped) setState({ status });
      } catch (err) {
        failing = true;
        if (!stopped) setState((s) => ({ status: s.status, error: err as Error }));
      }
      if (!stopped) timer = setTimeout(poll, failing ? FAILING_POLL_MS : OK_POLL_MS);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ctrl?.abort();
    };
  }, []);
  return state;
}

export function StatusBanner({ status, error }: { status?: StatusResponse; error?: Error }) {
  const banners = [];
  if (error) {
    banners.push(
      <div class="banner banner-error" data-testid="banner-console" key="console">
        Cannot read the console status: {error.message}
      </div>,
    );
  } else if (status) {
    if (status.prometheus && !status.prometheus.ok) {
      banners.push(
        <div class="banner banner-error" data-testid="banner-prometheus" key="prometheus">
          {status.prometheus.error ?? `Prometheus at ${status.prometheus.url} does not answer`}
        </div>,
      );
    }
    if (status.kubernetes && !status.kubernetes.ok) {
      banners.push(
        <div class="banner banner-error" data-testid="banner-kubernetes" key="kubernetes">
          The API server at {status.kubernetes.url} does not answer: {status.kubernetes.error ?? 'no answer'}
        </div>,
      );
    }
  }
  if (banners.length === 0) return null;
  return (
    <div class="banners" data-testid="status-banner" role="alert">
      {banners}
    </div>
  );
}
