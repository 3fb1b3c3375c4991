// The cluster's durable state: every object as JSON in SQLite (WAL), plus a
// bounded log of changes so watches can resume from a resourceVersion.
// A write is acknowledged only after its transaction is committed with
// synchronous=FULL, so `kill -9` of the server never loses an acknowledged write.

import Database from 'better-sqlite3';
import { createError } from '../errors/index.js';

import type { KubeObject } from './kube-object.js';
export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Identifies a resource collection: group "" is the core group. */
export interface ResourceRef {
  group: string;
  resource: string;
}

export interface Change {
  rv: number;
  type: ChangeType;
  group: string;
  resource: string;
  namespace: string;
  name: string;
  object: KubeObject;
  /** The object before this change (MODIFIED, DELETED): lets a filtered watch tell what the client saw. */
  previous?: KubeObject;
}

export interface StoreOptions {
  /** How many changes to keep for watch resumption; older resourceVersions get 410 Gone. */
  changeLogSize?: number;
}

const qualified = (r: ResourceRef) => (r.group ? `${r.resource}.${r.group}` : r.resource);

export class Store {
  #db: Database.Database;
  #rv: number;
  #oldestRv: number;
  #changeLogSize: number;
  #writesSinceCompaction = 0;
  #subscribers = new Set<(c: Change) => void>();
  #stmts: ReturnType<Store['prepare']>;

  constructor(path: string, opts: StoreOptions = {}) {
    try {
      this.#db = new Database(path);
    } catch (err) {
      throw createError('VM_ERR_STORE_OPEN', [path], err);
    }
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS objects (
        grp TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        rv INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (grp, resource, namespace, name));
      CREATE TABLE IF NOT EXISTS changes (
        rv INTEGER PRIMARY KEY, type TEXT NOT NULL, grp TEXT NOT NULL, resource TEXT NOT NULL,
        namespace TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, prev TEXT);
      CREATE INDEX IF NOT EXISTS changes_by_resource ON changes (grp, resource, rv);
    `);
    this.#changeLogSize = opts.changeLogSize ?? 20000;
    this.#stmts = this.prepare();
    const max = this.#db.prepare('SELECT MAX(rv) AS rv FROM (SELECT MAX(rv) AS rv FROM changes UNION ALL SELECT MAX(rv) FROM objects)').get() as {
      rv: number | null;
    };
    this.#rv = max.rv ?? 0;
    this.#oldestRv = (this.#db.prepare('SELECT MIN(rv) AS rv FROM changes').get() as { rv: number | null }).rv ?? this.#rv + 1;
  }

  private prepare() {
    const db = this.#db;
    return {
      get: db.prepare('SELECT data FROM objects WHERE grp=? AND resource=? AND namespace=? AND name=?'),
      listAll: db.prepare('SELECT data FROM objects WHERE grp=? AND resource=? ORDER BY namespace, name'),
      listNs: db.prepare('SELECT data FROM objects WHERE grp=? AND resource=? AND namespace=? ORDER BY name'),
      insert: db.prepare('INSERT INTO objects (grp, resource, namespace, name, rv, data) VALUES (?,?,?,?,?,?)'),
      update: db.prepare('UPDATE objects SET rv=?, data=? WHERE grp=? AND resource=? AND namespace=? AND name=?'),
      remove: db.prepare('DELETE FROM objects WHERE grp=? AND resource=? AND namespace=? AND name=?'),
      logChange: db.prepare('INSERT INTO changes (rv, type, grp, resource, namespace, name, data, prev) VALUES (?,?,?,?,?,?,?,?)'),
      changesAll: db.prepare('SELECT * FROM changes WHERE grp=? AND resource=? AND rv>? ORDER BY rv'),
      changesNs: db.prepare('SELECT * FROM changes WHERE grp=? AND resource=? AND namespace=? AND rv>? ORDER BY rv'),
      compact: db.prepare('DELETE FROM changes WHERE rv <= ?'),
    };
  }

  /** The newest resourceVersion handed out. */
  get resourceVersion(): number {
    return this.#rv;
  }

  get(ref: ResourceRef, namespace: string, name: string): KubeObject | undefined {
    const row = this.#stmts.get.get(ref.group, ref.resource, namespace, name) as { data: string } | undefined;
    return row ? JSON.parse(row.data) : undefined;
  }

  /** All objects of a resource (in one namespace, or all when namespace is undefined), with the list's resourceVersion. */
  list(ref: ResourceRef, namespace?: string): { items: KubeObject[]; resourceVersion: number } {
    const rows = (
      namespace === undefined ? this.#stmts.listAll.all(ref.group, ref.resource) : this.#stmts.listNs.all(ref.group, ref.resource, namespace)
    ) as Array<{ data: string }>;
    return { items: rows.map((r) => JSON.parse(r.data)), resourceVersion: this.#rv };
  }

  create(ref: ResourceRef, namespace: string, name: string, obj: KubeObject): KubeObject {
    return this.#write(ref, namespace, name, 'ADDED', obj, () => {
      if (this.#stmts.get.get(ref.group, ref.resource, namespace, name)) {
        throw createError('VM_ERR_STORE_ALREADY_EXISTS', [qualified(ref), name]);
      }
      return undefined;
    });
  }

  /** Replaces an object. With expectedRv, fails with a conflict when the stored object moved on. */
  update(ref: ResourceRef, namespace: string, name: string, obj: KubeObject, expectedRv?: string): KubeObject {
    return this.#write(ref, namespace, name, 'MODIFIED', obj, () => this.#checkCurrent(ref, namespace, name, expectedRv));
  }

  /** Removes an object; the DELETED change carries `finalState` when given (e.g. with its last finalizer gone). */
  delete(ref: ResourceRef, namespace: string, name: string, expectedRv?: string, finalState?: KubeObject): KubeObject {
    return this.#write(ref, namespace, name, 'DELETED', finalState, () => this.#checkCurrent(ref, namespace, name, expectedRv));
  }

  #checkCurrent(ref: ResourceRef, namespace: string, name: string, expectedRv?: string): KubeObject {
    const current = this.get(ref, namespace, name);
    if (!current) throw createError('VM_ERR_STORE_NOT_FOUND', [qualified(ref), name]);
    if (expectedRv && current.metadata?.resourceVersion !== expectedRv) {
      throw createError('VM_ERR_STORE_CONFLICT', [qualified(ref), name]);
    }
    return current;
  }

  #write(ref: ResourceRef, namespace: string, name: string, type: ChangeType, obj: KubeObject | undefined, precheck: () => KubeObject | undefined): KubeObject {
    const s = this.#stmts;
    let previous: KubeObject | undefined;
    const commit = this.#db.transaction(() => {
      previous = precheck();
      const rv = this.#rv + 1;
      const stored = structuredClone(obj ?? previous) as KubeObject;
      stored.metadata = { ...stored.metadata, resourceVersion: String(rv) };
      const data = JSON.stringify(stored);
      if (type === 'ADDED') s.insert.run(ref.group, ref.resource, namespace, name, rv, data);
      else if (type === 'MODIFIED') s.update.run(rv, data, ref.group, ref.resource, namespace, name);
      else s.remove.run(ref.group, ref.resource, namespace, name);
      s.logChange.run(rv, type, ref.group, ref.resource, namespace, name, data, previous ? JSON.stringify(previous) : null);
      this.#rv = rv;
      return stored;
    });
    const stored = commit();
    if (this.#oldestRv > this.#rv) this.#oldestRv = this.#rv;
    this.#maybeCompact();
    const change: Change = { rv: this.#rv, type, group: ref.group, resource: ref.resource, namespace, name, object: stored, previous };
    for (const fn of this.#subscribers) fn(change);
    return structuredClone(stored);
  }

  #maybeCompact() {
    // Compacting every tenth of the log keeps it between 100% and 110% of its size.
    if (++this.#writesSinceCompaction < Math.max(1, Math.min(1000, Math.floor(this.#changeLogSize / 10)))) return;
    this.#writesSinceCompaction = 0;
    const keepFrom = this.#rv - this.#changeLogSize;
    if (keepFrom > this.#oldestRv) {
      this.#stmts.compact.run(keepFrom - 1);
      this.#oldestRv = keepFrom;
    }
  }

  /**
   * Changes after `sinceRv`, oldest first; 'expired' when the log no longer reaches back
   * that far (the API answers 410 Gone, and the client lists again).
   */
  changesSince(ref: ResourceRef, sinceRv: number, namespace?: string): Change[] | 'expired' {
    if (sinceRv < this.#oldestRv - 1 && sinceRv < this.#rv) return 'expired';
    const rows = (
      namespace === undefined
        ? this.#stmts.changesAll.all(ref.group, ref.resource, sinceRv)
        : this.#stmts.changesNs.all(ref.group, ref.resource, namespace, sinceRv)
    ) as Array<{ rv: number; type: ChangeType; grp: string; resource: string; namespace: string; name: string; data: string; prev: string | null }>;
    return rows.map((r) => ({
      rv: r.rv,
      type: r.type,
      group: r.grp,
      resource: r.resource,
      namespace: r.namespace,
      name: r.name,
      object: JSON.parse(r.data),
      previous: r.prev ? JSON.parse(r.prev) : undefined,
    }));
  }

  /** The oldest resourceVersion a watch can still start from. */
  get oldestResourceVersion(): number {
    return this.#oldestRv - 1;
  }

  /** Called synchronously after every committed write. Returns an unsubscribe function. */
  subscribe(fn: (c: Change) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  close(): void {
    this.#subscribers.clear();
    this.#db.close();
  }
}
