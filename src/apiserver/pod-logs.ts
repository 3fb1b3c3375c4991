// The `pods/log` subresource: kube-apiserver's checks (options, pod, container) and the
// kubelet's (container started, previous instance), then the container's output file
// streamed as text/plain, optionally followed as it grows.

import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { KubeObject, Store } from '../store/index.js';
import { fieldError } from './admission/field-errors.js';
import { status } from './status.js';

/** Where a pod's containers write their output; the node agent provides it. */
export interface ContainerLogSource {
  /** The file holding that container's output, or undefined when the container has not started. */
  logPath(pod: KubeObject, container: string): string | undefined;
}

export interface PodLogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  tailLines?: number;
  limitBytes?: number;
  sinceSeconds?: number;
  sinceTime?: Date;
  /** Accepted but not honoured: the files hold the output only, with no time per line. */
  timestamps: boolean;
}

/** Query parameters as kube decodes them: a bool is true unless "false" or "0"; ints as strconv.ParseInt. */
export function parseLogOptions(query: URLSearchParams, podName: string): PodLogOptions {
  const bool = (k: string) => {
    const v = query.get(k);
    return v !== null && !['false', '0'].includes(v.toLowerCase());
  };
  const int = (k: string) => {
    const v = query.get(k);
    if (v === null) return undefined;
    if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw status.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
    return Number(v);
  };
  let sinceTime: Date | undefined;
  const rawSince = query.get('sinceTime');
  if (rawSince !== null) {
    sinceTime = new Date(rawSince);
    if (!/^\d{4}-\d\d-\d\dT/.test(rawSince) || Number.isNaN(sinceTime.getTime())) {
      throw status.badRequest(`parsing time ${JSON.stringify(rawSince)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
    }
  }
  const opts: PodLogOptions = {
    container: query.get('container') || undefined,
    follow: bool('follow'),
    previous: bool('previous'),
    tailLines: int('tailLines'),
    limitBytes: int('limitBytes'),
    sinceSeconds: int('sinceSeconds'),
    sinceTime,
    timestamps: bool('timestamps'),
  };
  const errors = [];
  if (opts.tailLines !== undefined && opts.tailLines < 0) errors.push(fieldError.invalid('tailLines', opts.tailLines, 'must be greater than or equal to 0'));
  if (opts.limitBytes !== undefined && opts.limitBytes < 1) errors.push(fieldError.invalid('limitBytes', opts.limitBytes, 'must be greater than 0'));
  if (opts.sinceSeconds !== undefined && opts.sinceTime !== undefined) {
    errors.push(fieldError.forbidden('', 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  } else if (opts.sinceSeconds !== undefined && opts.sinceSeconds < 1) {
    errors.push(fieldError.invalid('sinceSeconds', opts.sinceSeconds, 'must be greater than 0'));
  }
  if (errors.length) throw status.invalid({ group: '', resource: 'pods', kind: 'PodLogOptions', name: podName }, errors);
  return opts;
}

type Named = { name: string };
interface PodSpec {
  containers?: Named[];
  initContainers?: Named[];
  ephemeralContainers?: Named[];
}
interface ContainerStatus {
  name: string;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: unknown };
}
interface PodStatus {
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
  ephemeralContainerStatuses?: ContainerStatus[];
}

const DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

/** The container to read: the one asked for, the only one, or the annotated default. */
export function selectContainer(pod: KubeObject, container: string | undefined): string {
  const spec = (pod.spec ?? {}) as PodSpec;
  const podName = pod.metadata?.name ?? '';
  // Init, regular, then ephemeral containers: the order kube names them in.
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
  if (container) {
    if (!all.includes(container)) throw status.badRequest(`container ${container} is not valid for pod ${podName}`);
    return container;
  }
  const main = spec.containers ?? [];
  if (main.length === 1) return main[0].name;
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER];
  if (annotated && all.includes(annotated)) return annotated;
  if (main.length === 0) throw status.badRequest(`a container name must be specified for pod ${podName}`);
  throw status.badRequest(`a container name must be specified for pod ${podName}, choose one of: [${all.join(' ')}]`);
}

function containerStatus(pod: KubeObject, container: string): ContainerStatus | undefined {
  const s = (pod.status ?? {}) as PodStatus;
  return [...(s.containerStatuses ?? []), ...(s.initContainerStatuses ?? []), ...(s.ephemeralContainerStatuses ?? [])].find((c) => c.name === container);
}

const isTerminated = (pod: KubeObject, container: string) => {
  const state = containerStatus(pod, container)?.state;
  return Boolean(state?.terminated && !state.running);
};

/** The kubelet's answer for a container with no output to show yet. */
function notStarted(pod: KubeObject, container: string) {
  const podName = pod.metadata?.name ?? '';
  const state = containerStatus(pod, container)?.state;
  if (state?.terminated && !state.waiting) return status.badRequest(`container "${container}" in pod "${podName}" is terminated`);
  const reason = state?.waiting?.reason || 'ContainerCreating';
  const why = reason === 'ErrImagePull' || reason === 'ImagePullBackOff' ? "image can't be pulled" : reason;
  return status.badRequest(`container "${container}" in pod "${podName}" is waiting to start: ${why}`);
}

export interface LogReadOptions {
  tailLines?: number;
  limitBytes?: number;
  /** Existing output last written before this is skipped: lines carry no time, so the file's mtime stands in. */
  since?: Date;
  /** Keep sending what is appended, until `signal` or `done` or the file is removed. */
  follow?: boolean;
  /** Stop at once (the client went away). */
  signal?: AbortSignal;
  /** Send what the file still holds, then stop (the pod or the container is gone). */
  done?: AbortSignal;
  /** How often a follow looks at the file when no change notification arrives. */
  pollMs?: number;
  chunkSize?: number;
}

const NEWLINE = 0x0a;

/** Positional reads, as FileHandle does them. */
export interface ReadAt {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** Offset of the first of the last `lines` lines, found by reading backwards. */
export async function tailOffset(fh: ReadAt, size: number, lines: number, chunkSize = 64 * 1024): Promise<number> {
  if (lines <= 0) return size;
  let count = 0;
  let pos = size;
  const buf = Buffer.alloc(Math.min(chunkSize, Math.max(size, 1)));
  while (pos > 0) {
    const len = Math.min(buf.length, pos);
    pos -= len;
    buf.fill(0, 0, len);
    await fh.read(buf, 0, len, pos);
    for (let i = len - 1; i >= 0; i--) {
      // The newline ending the last line does not start another.
      if (buf[i] !== NEWLINE || pos + i === size - 1) continue;
      if (++count === lines) return pos + i + 1;
    }
  }
  return 0;
}

/** Wakes a follower on a change notification, a poll tick, or either signal; one watcher for its whole life. */
class Wakeup {
  #watcher?: FSWatcher;
  #timer: NodeJS.Timeout;
  #pending = false;
  #waiter?: () => void;
  #signals: AbortSignal[];

  constructor(path: string, pollMs: number, signals: AbortSignal[]) {
    this.#timer = setInterval(this.#poke, pollMs);
    this.#signals = signals;
    for (const s of signals) s.addEventListener('abort', this.#poke);
    this.watch(path);
  }

  #poke = () => {
    this.#pending = true;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  };

  /** (Re)watches `path`; without inotify and the like, polling alone still works. */
  watch(path: string) {
    this.#watcher?.close();
    this.#watcher = undefined;
    try {
      const w = watch(path, { persistent: false }, this.#poke);
      w.on('error', () => w.close());
      this.#watcher = w;
    } catch {}
  }

  next(): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiter = () => {
        this.#pending = false;
        resolve();
      };
    });
  }

  close() {
    this.#watcher?.close();
    clearInterval(this.#timer);
    for (const s of this.#signals) s.removeEventListener('abort', this.#poke);
    this.#poke();
  }
}

/** One container's output file, opened; `chunks` reads it and closes it when done. */
export class LogFile {
  #fh: FileHandle;
  #closed = false;

  private constructor(
    readonly path: string,
    fh: FileHandle,
  ) {
    this.#fh = fh;
  }

  /** Undefined when there is no such file (yet). */
  static async open(path: string): Promise<LogFile | undefined> {
    try {
      return new LogFile(path, await open(path, 'r'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }

  async *chunks(opts: LogReadOptions = {}): AsyncGenerator<Buffer> {
    const chunkSize = opts.chunkSize ?? 64 * 1024;
    const stopped = () => opts.signal?.aborted === true;
    let budget = opts.limitBytes ?? Number.POSITIVE_INFINITY;
    let pos = 0;
    const wake = opts.follow
      ? new Wakeup(
          this.path,
          opts.pollMs ?? 500,
          [opts.signal, opts.done].filter((s) => s !== undefined),
        )
      : undefined;
    // Reads from `pos` to the end of the file as it is now, within the byte budget.
    const self = this;
    async function* drain(): AsyncGenerator<Buffer> {
      while (budget > 0 && !stopped()) {
        const want = Math.min(chunkSize, budget);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await self.#fh.read(buf, 0, want, pos);
        if (bytesRead === 0) return;
        pos += bytesRead;
        budget -= bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    }
    try {
      const st = await this.#fh.stat();
      if (opts.since && st.mtime < opts.since) pos = st.size;
      else if (opts.tailLines !== undefined) pos = await tailOffset(this.#fh, st.size, opts.tailLines, chunkSize);
      let finishing = !opts.follow || opts.done?.aborted === true;
      for (;;) {
        yield* drain();
        if (finishing || budget <= 0 || stopped() || !wake) return;
        await wake.next();
        if (stopped()) return;
        if (opts.done?.aborted) finishing = true;
        const now = await this.#fh.stat();
        // Truncated in place: start again from its beginning, as `tail -F` does.
        if (now.size < pos) pos = 0;
        const onDisk = await stat(this.path).catch(() => undefined);
        if (!onDisk) finishing = true;
        else if (onDisk.ino !== now.ino || onDisk.dev !== now.dev) {
          // Replaced by a new file: finish the old one, then carry on with the new one from its start.
          yield* drain();
          const next = await open(this.path, 'r').catch(() => undefined);
          if (!next) {
            finishing = true;
            continue;
          }
          await this.#fh.close();
          this.#fh = next;
          pos = 0;
          wake.watch(this.path);
        }
      }
    } finally {
      wake?.close();
      await this.close();
    }
  }
}

export interface PodLogRequest {
  pod: KubeObject;
  query: URLSearchParams;
  store: Store;
  source?: ContainerLogSource;
  pollMs?: number;
}

/** Answers GET .../pods/{name}/log; errors before the first byte become Status objects. */
export async function servePodLog(res: ServerResponse, r: PodLogRequest): Promise<void> {
  const { pod, store } = r;
  const podName = pod.metadata?.name ?? '';
  const namespace = pod.metadata?.namespace ?? '';
  const opts = parseLogOptions(r.query, podName);
  const container = selectContainer(pod, opts.container);
  // Each container runs once in virtmesh: there is never a previous instance.
  if (opts.previous) throw status.badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
  const path = r.source?.logPath(pod, container);
  const file = path === undefined ? undefined : await LogFile.open(path);
  if (!file) throw notStarted(pod, container);

  const client = new AbortController();
  const done = new AbortController();
  const onClose = () => client.abort();
  res.on('close', onClose);
  let unsubscribe = () => {};
  if (opts.follow) {
    const uid = pod.metadata?.uid;
    const check = (o: KubeObject | undefined) => {
      if (!o || o.metadata?.uid !== uid || isTerminated(o, container)) done.abort();
    };
    unsubscribe = store.subscribe((c) => {
      if (c.group !== '' || c.resource !== 'pods' || c.namespace !== namespace || c.name !== podName) return;
      check(c.type === 'DELETED' ? undefined : c.object);
    });
    // The pod may have changed while the file was being opened.
    check(store.get({ group: '', resource: 'pods' }, namespace, podName));
  }
  const since = opts.sinceSeconds !== undefined ? new Date(Date.now() - opts.sinceSeconds * 1000) : opts.sinceTime;
  try {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    // A follower sees the stream open before the first byte.
    res.flushHeaders();
    for await (const chunk of file.chunks({ ...opts, since, signal: client.signal, done: done.signal, pollMs: r.pollMs })) {
      if (!res.write(chunk)) await drained(res);
    }
    res.end();
  } finally {
    unsubscribe();
    res.off('close', onClose);
    await file.close();
  }
}

function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const finish = () => {
      res.off('drain', finish);
      res.off('close', finish);
      resolve();
    };
    res.on('drain', finish);
    res.on('close', finish);
  });
}
