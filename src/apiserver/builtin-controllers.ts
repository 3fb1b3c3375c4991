// The few controllers a bare API server needs to behave like a cluster:
// namespace termination (delete the content, then the namespace), garbage
// collection of dependents by ownerReferences (background and orphan; also dependents
// whose owners are already gone: created with a stale reference, or left by a crash), and the
// `default` ServiceAccount in every namespace. They write through the Registry, so
// every write passes admission like a client's would.

import { isVirtmeshError } from '../errors/index.js';
import type { Change, KubeObject, Store } from '../store/index.js';
import type { Registry, RequestScope } from './registry.js';
import { findByKind, type ResourceDef, resources, splitApiVersion } from './resources.js';
import { StatusError } from './status.js';

const MANAGER = 'virtmesh-controller-manager';
const def = (group: string, kind: string) => findByKind(group, kind) as ResourceDef;

function scope(d: ResourceDef, namespace: string | undefined, name?: string): RequestScope {
  return { def: d, version: d.versions[0], namespace, name, query: new URLSearchParams(), defaultManager: MANAGER, warnings: [] };
}

/** Ignores "already gone" and "already there": controllers converge, they do not insist. */
function tolerate(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError && (e.code === 404 || e.code === 409)) return;
    if (isVirtmeshError(e)) return;
    throw e;
  }
}

type OwnerRef = { apiVersion?: string; kind?: string; name?: string; uid?: string };

export function startBuiltinControllers(store: Store, registry: Registry, log: (s: string) => void = () => {}): () => void {
  const namespaced = resources.filter((r) => r.namespaced);
  const nsDef = def('', 'Namespace');

  /** Empties terminating namespaces; removes one once it is empty and no finalizer holds it. */
  const finalizeNamespaces = () => {
    for (const ns of store.list({ group: '', resource: 'namespaces' }).items) {
      if (!ns.metadata?.deletionTimestamp) continue;
      const name = ns.metadata.name ?? '';
      let remaining = 0;
      for (const d of namespaced) {
        for (const o of store.list({ group: d.group, resource: d.plural }, name).items) {
          remaining++;
          if (!o.metadata?.deletionTimestamp) tolerate(() => registry.delete(scope(d, name, o.metadata?.name), {}));
        }
      }
      if (remaining > 0 || (ns.metadata.finalizers ?? []).length > 0) continue;
      const { spec, ...rest } = ns as KubeObject & { spec?: { finalizers?: string[] } };
      tolerate(() => store.delete({ group: '', resource: 'namespaces' }, '', name, undefined, { ...rest, spec: { ...spec, finalizers: [] } }));
    }
  };

  /** Foreground deletion: dependents go first, then the owner's foregroundDeletion finalizer. */
  const finishForeground = (owner: KubeObject, d: ResourceDef) => {
    const deps = dependentsOf(owner.metadata?.uid ?? '');
    for (const dep of deps) {
      if (!dep.o.metadata?.deletionTimestamp)
        tolerate(() => registry.delete(scope(dep.d, dep.o.metadata?.namespace, dep.o.metadata?.name), { propagationPolicy: 'Foreground' }));
    }
    if (deps.length > 0) return;
    const finalizers = (owner.metadata?.finalizers ?? []).filter((f) => f !== 'foregroundDeletion');
    tolerate(() => registry.update(scope(d, owner.metadata?.namespace, owner.metadata?.name), { ...owner, metadata: { ...owner.metadata, finalizers } }));
  };

  // Who depends on whom, kept up from the change stream, so no write costs a scan of the store.
  const byOwner = new Map<string, Map<string, { d: ResourceDef; namespace: string; name: string }>>();
  const ownersOf = new Map<string, string[]>();
  const objectKey = (d: ResourceDef, namespace: string, name: string) => `${d.group}/${d.plural}/${namespace}/${name}`;
  const index = (d: ResourceDef, namespace: string, name: string, obj: KubeObject | undefined) => {
    const key = objectKey(d, namespace, name);
    for (const uid of ownersOf.get(key) ?? []) byOwner.get(uid)?.delete(key);
    const uids = obj ? ((obj.metadata?.ownerReferences ?? []) as OwnerRef[]).map((r) => r.uid ?? '').filter(Boolean) : [];
    if (uids.length === 0) ownersOf.delete(key);
    else ownersOf.set(key, uids);
    for (const uid of uids) {
      if (!byOwner.has(uid)) byOwner.set(uid, new Map());
      byOwner.get(uid)?.set(key, { d, namespace, name });
    }
  };
  // Objects with owners as the server starts: looked at once the collector runs (below).
  const ownedAtStart: Array<{ d: ResourceDef; o: KubeObject }> = [];
  for (const d of namespaced) {
    for (const o of store.list({ group: d.group, resource: d.plural }).items) {
      index(d, o.metadata?.namespace ?? '', o.metadata?.name ?? '', o);
      if (o.metadata?.ownerReferences?.length) ownedAtStart.push({ d, o });
    }
  }

  const dependentsOf = (uid: string) =>
    [...(byOwner.get(uid)?.values() ?? [])].flatMap(({ d, namespace, name }) => {
      const o = store.get({ group: d.group, resource: d.plural }, namespace, name);
      return o ? [{ d, o }] : [];
    });

  // Owners in foreground deletion, waiting for their dependents to go.
  const foreground = new Map<string, { d: ResourceDef; namespace: string; name: string }>();

  const withoutOwner = (o: KubeObject, uid: string): KubeObject => ({
    ...o,
    metadata: { ...o.metadata, ownerReferences: ((o.metadata?.ownerReferences ?? []) as OwnerRef[]).filter((r) => r.uid !== uid) },
  });

  const collectGarbage = (deleted: KubeObject) => {
    const uid = deleted.metadata?.uid;
    if (!uid) return;
    for (const { d, o } of dependentsOf(uid)) {
      const others = ((o.metadata?.ownerReferences ?? []) as OwnerRef[]).filter((r) => r.uid !== uid);
      const s = scope(d, o.metadata?.namespace, o.metadata?.name);
      if (others.length === 0) tolerate(() => registry.delete(s, {}));
      else tolerate(() => registry.update(s, withoutOwner(o, uid)));
    }
  };

  /** Whether an ownerReference names an object that is not there (kube's GC: a "dangling" reference). */
  const isDangling = (ref: OwnerRef, namespace: string) => {
    const { group, version } = splitApiVersion(ref.apiVersion ?? '');
    const d = version ? findByKind(group, ref.kind ?? '') : undefined;
    // A kind this server does not serve cannot be resolved (kube's GC keeps such dependents too); nor can the
    // read-only kinds, made up on each read with fresh uids.
    if (!d || d.readOnly || !ref.uid) return false;
    const owner = store.get({ group: d.group, resource: d.plural }, d.namespaced ? namespace : '', ref.name ?? '');
    return owner?.metadata?.uid !== ref.uid;
  };

  /** A dependent none of whose owners exists is deleted; one with some owners left loses the dangling references. */
  const collectIfOwnersGone = (o: KubeObject, d: ResourceDef) => {
    const refs = (o.metadata?.ownerReferences ?? []) as OwnerRef[];
    if (refs.length === 0 || o.metadata?.deletionTimestamp) return;
    const dangling = refs.filter((r) => isDangling(r, o.metadata?.namespace ?? ''));
    if (dangling.length === 0) return;
    const s = scope(d, o.metadata?.namespace, o.metadata?.name);
    if (dangling.length === refs.length) {
      log(`garbage collector: deleting ${d.plural} ${o.metadata?.namespace}/${o.metadata?.name}, its owners are gone`);
      tolerate(() => registry.delete(s, {}));
    } else {
      tolerate(() => registry.update(s, { ...o, metadata: { ...o.metadata, ownerReferences: refs.filter((r) => !dangling.includes(r)) } }));
    }
  };

  const orphanDependents = (owner: KubeObject, d: ResourceDef) => {
    const uid = owner.metadata?.uid ?? '';
    for (const dep of dependentsOf(uid)) {
      tolerate(() => registry.update(scope(dep.d, dep.o.metadata?.namespace, dep.o.metadata?.name), withoutOwner(dep.o, uid)));
    }
    const finalizers = (owner.metadata?.finalizers ?? []).filter((f) => f !== 'orphan');
    tolerate(() => registry.update(scope(d, owner.metadata?.namespace, owner.metadata?.name), { ...owner, metadata: { ...owner.metadata, finalizers } }));
  };

  const ensureServiceAccount = (ns: string) => {
    if (store.get({ group: '', resource: 'serviceaccounts' }, ns, 'default')) return;
    tolerate(() => registry.create(scope(def('', 'ServiceAccount'), ns), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }));
  };

  // ownersChanged: the change added the object or changed its owners, the only times its owners need a look.
  const pending: Array<{ c: Change; d: ResourceDef; ownersChanged: boolean }> = [];
  let scheduled = false;
  const work = () => {
    scheduled = false;
    for (const { c, d, ownersChanged } of pending.splice(0)) {
      guarded(() => {
        if (c.type === 'DELETED') collectGarbage(c.object);
        else if (c.object.metadata?.deletionTimestamp && c.object.metadata.finalizers?.includes('orphan')) orphanDependents(c.object, d);
        else if (c.object.metadata?.deletionTimestamp && c.object.metadata.finalizers?.includes('foregroundDeletion')) finishForeground(c.object, d);
        else if (ownersChanged) {
          const current = store.get({ group: d.group, resource: d.plural }, c.namespace, c.name);
          if (current) collectIfOwnersGone(current, d);
        }
        if (d === nsDef && c.type === 'ADDED') ensureServiceAccount(c.name);
      });
    }
    guarded(finalizeNamespaces);
    guarded(pendingForeground);
  };
  // A controller's failure is logged and retried on the next pass; it never takes the server down.
  const guarded = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      log(`controller error: ${(e as Error).stack ?? e}`);
    }
  };
  // Owners waiting on dependents that are themselves being deleted need another look later.
  const pendingForeground = () => {
    for (const [key, { d, namespace, name }] of foreground) {
      const o = store.get({ group: d.group, resource: d.plural }, namespace, name);
      if (o?.metadata?.finalizers?.includes('foregroundDeletion')) finishForeground(o, d);
      else foreground.delete(key);
    }
  };
  const unsubscribe = store.subscribe((c) => {
    const d = resources.find((r) => r.group === c.group && r.plural === c.resource);
    if (!d) return;
    const key = objectKey(d, c.namespace, c.name);
    const ownersBefore = ownersOf.get(key)?.join(' ') ?? '';
    if (d.namespaced) index(d, c.namespace, c.name, c.type === 'DELETED' ? undefined : c.object);
    const ownersNow = ownersOf.get(key)?.join(' ') ?? '';
    const ownersChanged = d.namespaced && c.type !== 'DELETED' && ownersNow !== '' && (c.type === 'ADDED' || ownersNow !== ownersBefore);
    if (c.type !== 'DELETED' && c.object.metadata?.deletionTimestamp && c.object.metadata.finalizers?.includes('foregroundDeletion')) {
      foreground.set(key, { d, namespace: c.namespace, name: c.name });
    }
    pending.push({ c, d, ownersChanged });
    if (!scheduled) {
      scheduled = true;
      setImmediate(work);
    }
  });
  // Namespace termination also waits on pods the node is still stopping; look again now and then.
  const timer = setInterval(() => {
    guarded(finalizeNamespaces);
    guarded(pendingForeground);
  }, 1000);
  timer.unref();
  for (const ns of store.list({ group: '', resource: 'namespaces' }).items) ensureServiceAccount(ns.metadata?.name ?? '');
  // Owners deleted while the server was down, or just before a crash, leave dependents behind.
  for (const { d, o } of ownedAtStart) guarded(() => collectIfOwnersGone(o, d));
  return () => {
    unsubscribe();
    clearInterval(timer);
  };
}

/** The objects every cluster starts with. */
export function bootstrap(store: Store, registry: Registry, apiPort: number, kubernetesIP: string): void {
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    if (!store.get({ group: '', resource: 'namespaces' }, '', name)) {
      registry.create(scope(def('', 'Namespace'), undefined), { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
  }
  if (!store.get({ group: '', resource: 'services' }, 'default', 'kubernetes')) {
    registry.create(scope(def('', 'Service'), 'default'), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { clusterIP: kubernetesIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: apiPort }] },
    });
  }
  // The API server's address can change between starts (e.g. a free port was picked).
  const endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port: apiPort, protocol: 'TCP' }] }],
  };
  const epScope = scope(def('', 'Endpoints'), 'default', 'kubernetes');
  if (store.get({ group: '', resource: 'endpoints' }, 'default', 'kubernetes')) registry.update(epScope, endpoints);
  else registry.create(epScope, endpoints);
}
