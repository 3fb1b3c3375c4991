// Events about objects, written the way client-go's legacy recorder writes them, so
// `kubectl describe` and `kubectl get events` show virtmesh's controllers like kube's:
// a repeat of the same event within a while bumps `count` on the existing Event
// (shown as `x3`) instead of piling up new objects.

import { type ApiClient, isNotFound, type KubeObject, resourcePath } from '../client/index.js';

export type EventType = 'Normal' | 'Warning';

export type RecordEvent = (involved: KubeObject, type: EventType, reason: string, message: string) => void;

export interface EventSource {
  component: string;
  host?: string;
}

/** How long a repeat still counts as the same event (client-go's aggregation window). */
const AGGREGATION_WINDOW_MS = 10 * 60 * 1000;
/** Recent event keys remembered for aggregation (client-go's LRU size). */
const MAX_REMEMBERED = 4096;

interface RecentEvent {
  namespace: string;
  name: string;
  count: number;
  firstTimestamp: string;
  lastSeenMs: number;
  /** Writes for one key run in order, so a patch never overtakes its create. */
  chain: Promise<void>;
}

/** metav1.Time: RFC 3339 with whole seconds. */
const timestamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Returns `record(involved, type, reason, message)`: fire-and-forget, never throws;
 * failed writes are passed to `log`.
 */
export function createEventRecorder(client: ApiClient, source: EventSource, log: (line: string) => void = () => {}): RecordEvent {
  const recent = new Map<string, RecentEvent>();
  let sequence = 0;

  // client-go names events `<object>.<UnixNano in hex>`; the sequence keeps names apart within one millisecond.
  const eventName = (objectName: string, nowMs: number) => {
    const nanos = BigInt(nowMs) * 1_000_000n + BigInt(sequence++ % 1_000_000);
    return `${objectName}.${nanos.toString(16).padStart(16, '0')}`;
  };

  const remember = (key: string, entry: RecentEvent) => {
    recent.delete(key);
    recent.set(key, entry);
    while (recent.size > MAX_REMEMBERED) recent.delete(recent.keys().next().value as string);
  };

  return (involved, type, reason, message) => {
    try {
      const meta = involved.metadata ?? {};
      if (!meta.name) {
        log(`event ${reason} not recorded: the involved object has no name`);
        return;
      }
      const involvedObject = {
        kind: involved.kind,
        namespace: meta.namespace,
        name: meta.name,
        uid: meta.uid,
        apiVersion: involved.apiVersion,
        resourceVersion: meta.resourceVersion,
      };
      // Cluster-scoped objects' events live in `default`, as with kube.
      const namespace = meta.namespace || 'default';
      const key = JSON.stringify([source.component, source.host, involved.apiVersion, involved.kind, namespace, meta.name, meta.uid, type, reason, message]);
      const nowMs = Date.now();
      const previous = recent.get(key);
      const repeat = previous !== undefined && nowMs - previous.lastSeenMs <= AGGREGATION_WINDOW_MS;
      const entry: RecentEvent = repeat
        ? previous
        : { namespace, name: eventName(meta.name, nowMs), count: 0, firstTimestamp: timestamp(nowMs), lastSeenMs: nowMs, chain: Promise.resolve() };
      entry.count++;
      entry.lastSeenMs = nowMs;
      remember(key, entry);

      const count = entry.count;
      const lastTimestamp = timestamp(nowMs);
      const path = resourcePath({ version: 'v1', plural: 'events', namespace, name: entry.name });
      const create = () =>
        client.create(resourcePath({ version: 'v1', plural: 'events', namespace }), {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: entry.name, namespace },
          involvedObject,
          reason,
          message,
          type,
          source: { component: source.component, ...(source.host ? { host: source.host } : {}) },
          firstTimestamp: entry.firstTimestamp,
          lastTimestamp,
          count,
          reportingComponent: source.component,
          reportingInstance: source.host ?? '',
        });
      const write = async () => {
        if (!repeat) {
          await create();
          return;
        }
        try {
          await client.patch(path, { count, lastTimestamp });
        } catch (e) {
          // The Event was removed (or its create failed): write it again under the same name, as client-go does.
          if (!isNotFound(e)) throw e;
          await create();
        }
      };
      entry.chain = entry.chain.then(write).catch((e: Error) => {
        log(`event ${namespace}/${entry.name} (${reason}) not written: ${e.message}`);
        if (recent.get(key) === entry && entry.count === count) recent.delete(key);
      });
    } catch (e) {
      log(`event ${reason} not recorded: ${(e as Error).message}`);
    }
  };
}
