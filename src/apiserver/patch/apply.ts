/**
 * Server-side apply: structured-merge-diff's Updater.Apply (merge, prune, ownership update,
 * conflicts) over plain JSON, with kube-apiserver's managedFields bookkeeping around it.
 */
import type { KubeObject } from '../admission/types.js';
import { badRequest, PatchError } from './errors.js';
import { FieldSet, type Path, pathString } from './fieldset.js';
import {
  decodeManagedFields,
  type ManagerEntry,
  type Managers,
  managerKey,
  printManager,
  setManagedFields,
  updateManagers,
  withoutManagedFields,
} from './managed-fields.js';
import { pruneNulls } from './merge-patch.js';
import { type GroupKind, schemaFor } from './schema.js';
import { compare, merge, removeItems, stripServerOwned, toFieldSet } from './typed.js';
import { clone, deepEqual, isObject, jsonTypeName } from './util.js';

/** Metadata the server owns; ignored when an applied configuration carries it. */
const IGNORED_METADATA = ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation'] as const;

/** The manager that takes ownership of an existing object's fields on its first apply. */
export const BEFORE_FIRST_APPLY = 'before-first-apply';

export interface ApplyOptions {
  manager: string;
  force: boolean;
  gk: GroupKind;
  now: string;
  /**
   * The subresource applied to (e.g. `status`), if any. Kube keeps a separate Apply entry per
   * (manager, subresource): applying /status neither takes nor prunes what the manager applied
   * to the main resource, and vice versa.
   */
  subresource?: string;
}

interface Conflict {
  manager: ManagerEntry;
  paths: Path[];
}

/** internal.NewConflictError: 409 with kube's message and one FieldManagerConflict cause per path. */
function conflictError(conflicts: Conflict[]): PatchError {
  conflicts.sort((a, b) => (managerKey(a.manager) < managerKey(b.manager) ? -1 : 1));
  const total = conflicts.reduce((n, c) => n + c.paths.length, 0);
  const causes = conflicts.flatMap((c) =>
    c.paths.map((p) => ({ type: 'FieldManagerConflict', message: `conflict with ${printManager(c.manager)}`, field: pathString(p) })),
  );
  if (total === 1) {
    const c = conflicts[0] as Conflict;
    return new PatchError(409, `Apply failed with 1 conflict: conflict with ${printManager(c.manager)}: ${pathString(c.paths[0] as Path)}`, causes);
  }
  const lines = conflicts.flatMap((c) => [`conflicts with ${printManager(c.manager)}:`, ...c.paths.map((p) => `- ${pathString(p)}`)]);
  return new PatchError(409, `Apply failed with ${total} conflicts: ${lines.join('\n')}`, causes);
}

/** The fields pruning must keep: everything any manager owns, and the server-owned fields. */
function ownedByAnyone(managers: Managers): FieldSet {
  let owned = FieldSet.of(['f:apiVersion'], ['f:kind'], ['f:metadata', 'f:name'], ['f:metadata', 'f:namespace']);
  for (const e of managers.values()) owned = owned.union(e.set);
  return owned.withNamedAncestors();
}

/**
 * Applies `applied` (the manager's whole intent) to `live` (undefined: the object does not exist yet).
 *
 * The result merges the configuration into the live object (keyed lists item by item, atomic
 * lists and maps whole), drops what this manager applied before and no longer applies unless
 * someone else owns it, and records ownership in metadata.managedFields. A changed field owned
 * by another manager is a conflict (409) unless `force`, which takes the field over.
 */
export function serverSideApply(live: KubeObject | undefined, applied: KubeObject, opts: ApplyOptions): KubeObject {
  if (!isObject(applied)) {
    throw badRequest(`error decoding YAML: json: cannot unmarshal ${jsonTypeName(applied)} into Go value of type map[string]interface {}`);
  }
  const schema = schemaFor(opts.gk);
  const config = clone(applied);
  if (isObject(config.metadata)) for (const k of IGNORED_METADATA) delete config.metadata[k];

  const managers = decodeManagedFields(live?.metadata?.managedFields);
  const before = withoutManagedFields(live) ?? {};
  if (live && managers.size === 0) {
    // An object nobody manages yet: its current fields become before-first-apply's (as kube does).
    updateManagers(managers, {}, before, opts.gk, { manager: BEFORE_FIRST_APPLY, apiVersion: live.apiVersion ?? applied.apiVersion, time: opts.now });
  }

  const entry: Omit<ManagerEntry, 'set'> = { manager: opts.manager, operation: 'Apply', apiVersion: applied.apiVersion ?? live?.apiVersion };
  if (opts.subresource) entry.subresource = opts.subresource;
  // The key includes the subresource: what this manager applied before is its entry for this subresource only.
  const key = managerKey(entry);
  const previous = managers.get(key);
  const appliedSet = toFieldSet(config, schema);
  managers.set(key, { ...entry, time: previous?.time, set: appliedSet });

  const merged = merge(before, config, schema) as KubeObject;
  if (previous && !previous.set.isEmpty()) {
    // Fields applied last time and not now go, unless someone (this apply included) still owns them.
    removeItems(merged, previous.set.withNamedAncestors().difference(ownedByAnyone(managers)), schema);
  }
  const result = pruneNulls(merged) as KubeObject;

  // Ownership: other managers lose what this apply changed (a conflict unless forced) or removed.
  const c = compare(before, result, schema);
  const changed = stripServerOwned(c.added.union(c.modified));
  const conflicts: Conflict[] = [];
  for (const [k, e] of managers) {
    if (k === key) continue;
    const overlap = e.set.intersection(changed);
    if (!overlap.isEmpty()) conflicts.push({ manager: e, paths: overlap.paths() });
  }
  if (conflicts.length > 0 && !opts.force) throw conflictError(conflicts);
  for (const [k, e] of managers) {
    if (k !== key) e.set = e.set.difference(changed).difference(c.removed);
    if (e.set.isEmpty()) managers.delete(k);
  }

  const applier = managers.get(key);
  if (applier && (!live || !deepEqual(before, result) || !applier.time)) applier.time = opts.now;
  return setManagedFields(result, managers);
}
