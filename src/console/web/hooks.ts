// Small hooks the pages share: loading API data, the hash route, state kept in localStorage.
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data?: T;
  /** Set when the last load failed; data then still holds the previous answer, if any. */
  error?: Error;
  loading: boolean;
}

interface LoadState<T> extends Loaded<T> {
  key: string | null;
}

/**
 * Loads data for `key` (null: nothing to load) and again whenever `tick` changes. A new key
 * drops the old data; a new tick keeps it on screen until the answer arrives. A tick while
 * the last load is still on its way lets that load finish rather than start over, so a slow
 * backend still gets its answer (or its error) on screen.
 */
export function useLoad<T>(key: string | null, tick: number, load: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const [state, setState] = useState<LoadState<T>>({ key, loading: key !== null });
  const loadRef = useRef(load);
  loadRef.current = load;
  const inflight = useRef<{ key: string; ctrl: AbortController } | undefined>(undefined);

  useEffect(() => {
    if (key === null) {
      inflight.current?.ctrl.abort();
      inflight.current = undefined;
      setState({ key, loading: false });
      return;
    }
    if (inflight.current?.key === key) return;
    inflight.current?.ctrl.abort();
    const me = { key, ctrl: new AbortController() };
    inflight.current = me;
    const { signal } = me.ctrl;
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    Promise.resolve()
      .then(() => loadRef.current(signal))
      .then(
        (data) => {
          if (!signal.aborted) setState({ key, data, loading: false });
        },
        (error: unknown) => {
          if (signal.aborted) return;
          const err = error instanceof Error ? error : new Error(String(error));
          setState((s) => ({ key, data: s.key === key ? s.data : undefined, error: err, loading: false }));
        },
      )
      .finally(() => {
        if (inflight.current === me) inflight.current = undefined;
      });
  }, [key, tick]);
  // Leaving the page drops what is on its way.
  useEffect(() => () => inflight.current?.ctrl.abort(), []);

  if (state.key !== key) return { loading: key !== null };
  return state;
}

export interface Route {
  /** Path segments after '#/', e.g. ['workloads', 'default', 'istio-vmi']. */
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = raw.split('?', 2);
  const path = pathPart
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { path, query: new URLSearchParams(queryPart) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function readStored<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : (JSON.parse(raw) as T);
  } catch {
    return fallback;
  }
}

export function writeStored(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the setting lasts for this page only.
  }
}

/** useState that survives reloads (localStorage). */
export function useStored<T>(key: string, fallback: T): [T, (v: T) => void] {
  const [value, setValue] = useState<T>(() => readStored(key, fallback));
  const set = (v: T) => {
    setValue(v);
    writeStored(key, v);
  };
  return [value, set];
}
