/**
 * metadata.managedFields: decoding, encoding (sorted as kube sorts them) and the bookkeeping
 * of non-apply writes (fieldmanager's Update path with its "current-operation" trick).
 */
import type { KubeObject } from '../admission/types.js';
import { FieldSet } from './fieldset.js';
import { type GroupKind, groupOf, schemaFor } from './schema.js';
import { compare } from './typed.js';
import { clone, goQuote, isObject } from './util.js';

export type Operation = 'Apply' | 'Update';

export interface ManagerEntry {
  manager: string;
  operation: Operation;
  apiVersion?: string;
  time?: string;
  subresource?: string;
  set: FieldSet;
}

/**
 * BuildManagerIdentifier: appliers are identified by name (and subresource) alone; updaters
 * also by the apiVersion they wrote with.
 */
export function managerKey(e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  const version = e.operation === 'Apply' ? '' : (e.apiVersion ?? '');
  return JSON.stringify([e.manager, e.operation, version, e.subresource ?? '']);
}

export type Managers = Map<string, ManagerEntry>;

/** Decodes metadata.managedFields; entries that are not FieldsV1 records are skipped. */
export function decodeManagedFields(list: unknown): Managers {
  const out: Managers = new Map();
  if (!Array.isArray(list)) return out;
  for (const raw of list) {
    if (!isObject(raw)) continue;
    const operation = raw.operation;
    if (operation !== 'Apply' && operation !== 'Update') continue;
    const e: ManagerEntry = {
      manager: typeof raw.manager === 'string' ? raw.manager : '',
      operation,
      set: FieldSet.fromFieldsV1(raw.fieldsV1),
    };
    if (typeof raw.apiVersion === 'string') e.apiVersion = raw.apiVersion;
    if (typeof raw.time === 'string') e.time = raw.time;
    if (typeof raw.subresource === 'string' && raw.subresource) e.subresource = raw.subresource;
    const key = managerKey(e);
    const prev = out.get(key);
    out.set(key, prev ? { ...e, set: prev.set.union(e.set) } : e);
  }
  return out;
}

const seconds = (t: string | undefined): number => (t ? Math.floor(Date.parse(t) / 1000) || 0 : 0);
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Encodes the managers, dropping empty sets, in kube's order: operation, time, manager, apiVersion, subresource. */
export function encodeManagedFields(managers: Managers): Array<Record<string, unknown>> {
  const entries = [...managers.values()].filter((e) => !e.set.isEmpty());
  entries.sort(
    (p, q) =>
      cmp(p.operation, q.operation) ||
      seconds(p.time) - seconds(q.time) ||
      cmp(p.manager, q.manager) ||
      cmp(p.apiVersion ?? '', q.apiVersion ?? '') ||
      cmp(p.subresource ?? '', q.subresource ?? ''),
  );
  return entries.map((e) => {
    const out: Record<string, unknown> = { manager: e.manager, operation: e.operation };
    if (e.apiVersion) out.apiVersion = e.apiVersion;
    if (e.time) out.time = e.time;
    out.fieldsType = 'FieldsV1';
    out.fieldsV1 = e.set.toFieldsV1();
    if (e.subresource) out.subresource = e.subresource;
    return out;
  });
}

/** printManager, as in apply conflict messages: `"mgr"`, `"mgr" using v1`, `"mgr" with subresource "status" using v1`. */
export function printManager(e: ManagerEntry): string {
  let s = goQuote(e.manager);
  if (e.subresource) s += ` with subresource ${goQuote(e.subresource)}`;
  if (e.operation === 'Update') s += ` using ${e.apiVersion ?? ''}`;
  return s;
}

/** A copy of `obj` without metadata.managedFields (undefined stays undefined). */
export function withoutManagedFields(obj: KubeObject | undefined): KubeObject | undefined {
  if (!obj) return undefined;
  const out = clone(obj);
  if (out.metadata) delete out.metadata.managedFields;
  return out;
}

/** Stores `managers` on `obj` (removing metadata.managedFields when none is left). */
export function setManagedFields(obj: KubeObject, managers: Managers): KubeObject {
  const encoded = encodeManagedFields(managers);
  obj.metadata ??= {};
  if (encoded.length > 0) obj.metadata.managedFields = encoded;
  else delete obj.metadata.managedFields;
  return obj;
}

/** The kind an object's own type fields name. */
export function groupKindOf(obj: KubeObject | undefined, apiVersion?: string): GroupKind {
  return { group: groupOf(obj?.apiVersion ?? apiVersion), kind: obj?.kind ?? '' };
}

/**
 * Applies the ownership changes of a write that turned `before` into `after`: other managers
 * lose what it changed or removed; `manager` (operation Update) gains what it added or changed.
 * Mutates `managers`.
 */
export function updateManagers(managers: Managers, before: KubeObject, after: KubeObject, gk: GroupKind, entry: Omit<ManagerEntry, 'set' | 'operation'>): void {
  const c = compare(before, after, schemaFor(gk));
  const changed = c.added.union(c.modified);
  for (const [key, e] of managers) {
    const rest = e.set.difference(changed).difference(c.removed);
    if (rest.isEmpty()) managers.delete(key);
    else e.set = rest;
  }
  if (changed.isEmpty()) return;
  const key = managerKey({ ...entry, operation: 'Update' });
  const prev = managers.get(key);
  managers.set(key, { ...entry, operation: 'Update', set: prev ? prev.set.union(changed) : changed });
}

const isEmptyEntry = (v: unknown): boolean => isObject(v) && Object.keys(v).length === 0;

/**
 * Keeps metadata.managedFields right for a non-apply write (create, update, patch) by `manager`:
 * an operation "Update" entry for (manager, apiVersion, subresource) gains the fields this write
 * added or changed, and loses none; every other entry loses the fields this write changed or removed.
 *
 * As in kube, managedFields the client sent on `newObj` replace the stored ones (except on a
 * subresource), and `managedFields: [{}]` clears them.
 */
export function recordUpdate(
  oldObj: KubeObject | undefined,
  newObj: KubeObject,
  opts: { manager: string; now: string; apiVersion: string; subresource?: string; gk?: GroupKind },
): KubeObject {
  const out = clone(newObj);
  const sent = newObj.metadata?.managedFields;
  if (Array.isArray(sent) && sent.length === 1 && isEmptyEntry(sent[0])) {
    if (out.metadata) delete out.metadata.managedFields;
    return out;
  }
  const useSent = Array.isArray(sent) && sent.length > 0 && !opts.subresource;
  const managers = decodeManagedFields(useSent ? sent : oldObj?.metadata?.managedFields);
  const gk = opts.gk ?? groupKindOf(newObj.kind ? newObj : oldObj, opts.apiVersion);
  const before = withoutManagedFields(oldObj) ?? {};
  const after = withoutManagedFields(newObj) as KubeObject;
  const entry: Omit<ManagerEntry, 'set' | 'operation'> = { manager: opts.manager, apiVersion: opts.apiVersion, time: opts.now };
  if (opts.subresource) entry.subresource = opts.subresource;
  updateManagers(managers, before, after, gk, entry);
  return setManagedFields(out, managers);
}
