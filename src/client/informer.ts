// List-then-watch with a local cache, as client-go's informers do: handlers see
// every change once, a broken watch resumes from the last resourceVersion, and a
// 410 Gone relists (telling handlers about objects that vanished meanwhile).

import type { ApiClient, KubeObject } from './index.js';

export interface InformerHandlers<T extends KubeObject = KubeObject> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

export const objectKey = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);

export class Informer<T extends KubeObject = KubeObject> {
  readonly #client: ApiClient;
  readonly #path: string;
  readonly #query: Record<string, string | undefined>;
  readonly #handlers: InformerHandlers<T>[] = [];
  readonly #cache = new Map<string, T>();
  readonly #abort = new AbortController();
  readonly #log: (line: string) => void;
  #synced: Promise<void>;
  #markSynced!: () => void;

  constructor(client: ApiClient, path: string, query: Record<string, string | undefined> = {}, log: (line: string) => void = () => {}) {
    this.#client = client;
    this.#path = path;
    this.#query = query;
    this.#log = log;
    this.#synced = new Promise((r) => {
      this.#markSynced = r;
    });
  }

  on(handlers: InformerHandlers<T>): this {
    this.#handlers.push(handlers);
    return this;
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  start(): Promise<void> {
    void this.#run();
    return this.#synced;
  }

  stop(): void {
    this.#abort.abort();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(filter?: (o: T) => boolean): T[] {
    const all = [...this.#cache.values()];
    return filter ? all.filter(filter) : all;
  }

  async #run(): Promise<void> {
    let resourceVersion: string | undefined;
    let backoff = 200;
    while (!this.#abort.signal.aborted) {
      try {
        if (resourceVersion === undefined) resourceVersion = await this.#relist();
        backoff = 200;
        await this.#client.watch<T>(
          this.#path,
          { ...this.#query, resourceVersion },
          (e) => {
            resourceVersion = e.object.metadata.resourceVersion ?? resourceVersion;
            if (e.type === 'BOOKMARK') return;
            this.#apply(e.type, e.object);
          },
          this.#abort.signal,
        );
      } catch (e) {
        if (this.#abort.signal.aborted) return;
        if ((e as { code?: number }).code === 410) resourceVersion = undefined;
        else {
          this.#log(`watch ${this.#path}: ${(e as Error).message}; retrying in ${backoff} ms`);
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 5000);
        }
      }
    }
  }

  async #relist(): Promise<string> {
    const list = await this.#client.list<T>(this.#path, this.#query);
    const seen = new Set<string>();
    for (const item of list.items) {
      seen.add(objectKey(item));
      this.#apply('ADDED', item);
    }
    for (const [key, old] of this.#cache) if (!seen.has(key)) this.#apply('DELETED', old);
    this.#markSynced();
    return list.metadata.resourceVersion;
  }

  #apply(type: string, obj: T): void {
    const key = objectKey(obj);
    const old = this.#cache.get(key);
    if (type === 'DELETED') {
      this.#cache.delete(key);
      if (old) for (const h of this.#handlers) this.#call(() => h.delete?.(obj));
      return;
    }
    // Same name, new uid (deleted and made again while the watch was down): a delete and an add, not an update.
    if (old && old.metadata.uid !== obj.metadata.uid) {
      this.#cache.delete(key);
      for (const h of this.#handlers) this.#call(() => h.delete?.(old));
      this.#apply(type, obj);
      return;
    }
    this.#cache.set(key, obj);
    for (const h of this.#handlers) this.#call(() => (old ? h.update?.(obj, old) : h.add?.(obj)));
  }

  #call(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#log(`informer handler for ${this.#path} failed: ${(e as Error).stack}`);
    }
  }
}
