// Watch streams: newline-delimited JSON events over a chunked response, resumable
// from a resourceVersion, with bookmarks and 410 Gone once the change log no longer
// reaches back far enough (the client then lists again, as client-go does).

import type { ServerResponse } from 'node:http';
import type { Change, KubeObject, Store } from '../store/index.js';
import type { Registry, RequestScope } from './registry.js';
import { apiVersionOf } from './resources.js';
import { type Matcher, selectableFields } from './selectors.js';
import { type IncludeObject, toTable } from './tables.js';

export interface WatchOptions {
  labels: Matcher;
  fields: Matcher;
  resourceVersion: string | null;
  sendInitialEvents: boolean;
  bookmarks: boolean;
  timeoutSeconds: number;
  bookmarkIntervalMs: number;
  table?: { includeObject: IncludeObject };
}

/** A watch's lifetime: the client's timeoutSeconds, else 30 minutes, never more than an hour. */
export function watchTimeoutSeconds(query: URLSearchParams): number {
  return Math.min(Number(query.get('timeoutSeconds') ?? 1800) || 1800, 3600);
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Bytes of unsent events one watcher may hold before it is closed. */
export const WATCH_BUFFER_LIMIT = 16 * 1024 * 1024;

export function serveWatch(res: ServerResponse, store: Store, registry: Registry, s: RequestScope, opts: WatchOptions): void {
  const ref = { group: s.def.group, resource: s.def.plural };
  const namespace = s.def.namespaced ? s.namespace : undefined;
  const matches = (o: KubeObject) => opts.labels(o.metadata?.labels ?? {}) && opts.fields(selectableFields(s.def.kind, o));
  let sentHeaders = false;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  // Clients wait for the response before they count the watch as open; send it now, not with the first event.
  res.flushHeaders();

  const send = (type: EventType, obj: KubeObject) => {
    let object: KubeObject = obj;
    if (opts.table && type !== 'ERROR' && type !== 'BOOKMARK') {
      object = toTable(s.def, [registry.present(s.def, s.version, obj)], {
        includeObject: opts.table.includeObject,
        withHeaders: !sentHeaders,
        resourceVersion: obj.metadata?.resourceVersion,
      });
      sentHeaders = true;
    } else if (type !== 'ERROR' && type !== 'BOOKMARK') object = registry.present(s.def, s.version, obj);
    res.write(`${JSON.stringify({ type, object })}\n`);
    // A watcher that stops reading is cut off rather than buffered without bound, as
    // kube-apiserver does with unresponsive watchers; the client lists again and resumes.
    if (res.writableLength > WATCH_BUFFER_LIMIT) res.destroy();
  };

  // What the client saw follows from the object before each change: a filtered watch
  // turns "stopped matching" into DELETED and "started matching" into ADDED, as kube does.
  const onChange = (c: Change) => {
    if (c.group !== ref.group || c.resource !== ref.resource) return;
    if (namespace !== undefined && c.namespace !== namespace) return;
    const before = c.previous !== undefined && matches(c.previous);
    const now = matches(c.object);
    if (c.type === 'DELETED') {
      if (before || now) send('DELETED', c.object);
    } else if (now) send(before ? 'MODIFIED' : 'ADDED', c.object);
    else if (before) send('DELETED', c.object);
  };

  const rv = opts.resourceVersion;
  if (!rv || rv === '0' || opts.sendInitialEvents) {
    // "Get state and start at most recent": the current objects as ADDED, then changes.
    const { items } = store.list(ref, namespace);
    for (const o of items) if (matches(o)) send('ADDED', o);
    if (opts.sendInitialEvents && opts.bookmarks) {
      send('BOOKMARK', bookmark(s, store.resourceVersion, { 'k8s.io/initial-events-end': 'true' }));
    }
  } else {
    const since = Number(rv);
    const changes = Number.isFinite(since) ? store.changesSince(ref, since, namespace) : 'expired';
    if (changes === 'expired') {
      res.end(
        `${JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: `too old resource version: ${rv} (${store.oldestResourceVersion})`,
            reason: 'Expired',
            code: 410,
          },
        })}\n`,
      );
      return;
    }
    for (const c of changes) onChange(c);
  }

  const unsubscribe = store.subscribe(onChange);
  const ticker = opts.bookmarks ? setInterval(() => send('BOOKMARK', bookmark(s, store.resourceVersion)), opts.bookmarkIntervalMs) : undefined;
  const timeout = setTimeout(() => res.end(), opts.timeoutSeconds * 1000);
  const stop = () => {
    unsubscribe();
    clearInterval(ticker);
    clearTimeout(timeout);
  };
  res.on('close', stop);
  res.on('error', stop);
}

function bookmark(s: RequestScope, rv: number, annotations?: Record<string, string>): KubeObject {
  return {
    kind: s.def.kind,
    apiVersion: apiVersionOf(s.def.group, s.version),
    metadata: { resourceVersion: String(rv), ...(annotations ? { annotations } : {}) },
  };
}
