// The generic REST storage behind every resource: create, get, list, update, patch,
// delete with finalizers and graceful deletion, status subresources, managedFields,
// generation and server-assigned fields. All writes go through admission (admit.ts).

import { randomUUID } from 'node:crypto';
import { isVirtmeshError } from '../errors/index.js';
import type { ObjectMeta, Store } from '../store/index.js';
import { injectSidecar, wantsSidecar } from './admission/sidecar-injection.js';
import type { AdmissionContext, KubeObject, Operation } from './admission/types.js';
import { checkTypeMeta, decode, defaults, parseFieldValidation, validate } from './admit.js';
import type { ClusterIPAllocator } from './cluster-ip.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError, type PatchType, recordUpdate, serverSideApply } from './patch/index.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { type Matcher, selectableFields } from './selectors.js';
import { StatusError, status, successStatus, type Target } from './status.js';

/** Everything a handler knows about one request. */
export interface RequestScope {
  def: ResourceDef;
  version: string;
  namespace: string | undefined;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
  /** Field manager derived from the request when `fieldManager` is absent (the user agent's program name). */
  defaultManager: string;
  /** Collected `Warning:` headers. */
  warnings: string[];
}

export const nowRFC3339 = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const isDryRun = (s: RequestScope) => s.query.getAll('dryRun').includes('All');
const manager = (s: RequestScope) => s.query.get('fieldManager') || s.defaultManager;
const target = (s: RequestScope, name = s.name): Target => ({ group: s.def.group, resource: s.def.plural, kind: s.def.kind, name });
const storeKey = (def: ResourceDef) => ({ group: def.group, resource: def.plural });

/** Metadata a client may not choose for a new object. */
const SERVER_SET_ON_CREATE = [
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'generation',
  'selfLink',
];

type Resources = { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
/** A pod's QoS class as kubelet and kube-apiserver compute it from its containers' requests and limits. */
function qosClass(pod: KubeObject): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const spec = pod.spec as { containers?: Array<{ resources?: Resources }>; initContainers?: Array<{ resources?: Resources }> } | undefined;
  const all = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].map((c) => c.resources ?? {});
  const any = all.some((r) => Object.keys(r.requests ?? {}).length > 0 || Object.keys(r.limits ?? {}).length > 0);
  if (!any) return 'BestEffort';
  const guaranteed = all.every((r) =>
    ['cpu', 'memory'].every((k) => r.limits?.[k] !== undefined && (r.requests?.[k] === undefined || String(r.requests[k]) === String(r.limits[k]))),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Everything but metadata and status: what `generation` counts changes of. */
const specOf = (o: KubeObject) => {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
};

export class Registry {
  constructor(
    readonly store: Store,
    readonly clusterIPs: ClusterIPAllocator,
  ) {}

  /** Serves a stored object under the requested version. */
  present(def: ResourceDef, version: string, obj: KubeObject): KubeObject {
    return { ...obj, apiVersion: apiVersionOf(def.group, version), kind: def.kind };
  }

  get(s: RequestScope): KubeObject {
    const obj = this.store.get(storeKey(s.def), s.namespace ?? '', s.name ?? '');
    if (!obj) throw status.notFound(target(s));
    return this.present(s.def, s.version, obj);
  }

  list(s: RequestScope, labels: Matcher, fields: Matcher): { items: KubeObject[]; resourceVersion: string } {
    const { items, resourceVersion } = this.store.list(storeKey(s.def), s.def.namespaced ? s.namespace : undefined);
    return {
      items: items.filter((o) => labels(o.metadata?.labels ?? {}) && fields(selectableFields(s.def.kind, o))).map((o) => this.present(s.def, s.version, o)),
      resourceVersion: String(resourceVersion),
    };
  }

  admissionContext(operation: Operation, oldObject?: KubeObject): AdmissionContext {
    return {
      operation,
      oldObject,
      get: (group, resource, namespace, name) => this.store.get({ group, resource }, namespace ?? '', name),
    };
  }

  #checkNamespace(s: RequestScope, op: Operation): void {
    if (!s.def.namespaced) return;
    const ns = this.store.get({ group: '', resource: 'namespaces' }, '', s.namespace ?? '');
    if (!ns) throw status.notFound({ group: '', resource: 'namespaces', kind: 'Namespace', name: s.namespace });
    if (op === 'CREATE' && ns.metadata?.deletionTimestamp) {
      throw status.forbidden(
        `${s.def.plural} "${s.name ?? ''}" is forbidden: unable to create new content in namespace ${s.namespace} because it is being terminated`,
        target(s),
      );
    }
  }

  create(s: RequestScope, body: KubeObject): KubeObject {
    checkTypeMeta(s.def, s.version, body);
    checkNamespaceOf(s, body);
    const meta = { ...(body.metadata ?? {}) };
    if (s.def.namespaced) meta.namespace = s.namespace;
    else delete meta.namespace;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!meta.name) throw status.invalid(target(s, ''), [{ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' }]);
    s.name = meta.name;
    return this.#admitNew(s, { ...body, metadata: meta }, (obj) =>
      recordUpdate(undefined, obj, { manager: manager(s), now: nowRFC3339(), apiVersion: apiVersionOf(s.def.group, s.version) }),
    );
  }

  /**
   * The path of every new object (create, and apply to a missing object): admission,
   * server-set fields, managedFields by `manage`, a cluster IP, the commit.
   */
  #admitNew(s: RequestScope, body: KubeObject, manage: (obj: KubeObject) => KubeObject): KubeObject {
    this.#checkNamespace(s, 'CREATE');
    let obj = decode(s.def, s.version, body, parseFieldValidation(s.query.get('fieldValidation')), s.warnings);
    obj = this.#initialize(s, obj);
    obj = this.#mutate(s, obj);
    validate(s.def, obj, this.admissionContext('CREATE'));
    // Before allocating: a duplicate must not take a cluster IP with it.
    if (this.store.get(storeKey(s.def), s.namespace ?? '', s.name ?? '')) throw status.alreadyExists(target(s));
    obj = this.#allocate(s, manage(obj));
    return this.#commitCreate(s, obj);
  }

  /** The mutating webhooks a real cluster runs on new objects: Istio's sidecar injector for pods. */
  #mutate(s: RequestScope, obj: KubeObject): KubeObject {
    if (s.def.kind !== 'Pod') return obj;
    const ns = this.store.get({ group: '', resource: 'namespaces' }, '', s.namespace ?? '');
    return wantsSidecar(obj, ns) ? injectSidecar(obj) : obj;
  }

  /** Server-owned fields of a new object. */
  #initialize(s: RequestScope, obj: KubeObject): KubeObject {
    const meta: ObjectMeta = { ...obj.metadata };
    for (const k of SERVER_SET_ON_CREATE) delete meta[k];
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRFC3339();
    if (s.def.custom || s.def.kind === 'Pod') meta.generation = 1;
    const out: KubeObject = { ...obj, apiVersion: apiVersionOf(s.def.group, s.version), kind: s.def.kind, metadata: meta };
    // A new object's status is the server's to set, not the creator's (status subresource kinds).
    if (s.def.status && s.def.kind !== 'Namespace') delete out.status;
    defaults(s.def, out);
    if (s.def.kind === 'Namespace') out.status = { phase: 'Active' };
    if (s.def.kind === 'Pod') out.status = { phase: 'Pending', qosClass: qosClass(out) };
    if (s.def.kind === 'VirtualMachineInstance') {
      // KubeVirt's mutating webhook starts every VMI Pending "to avoid blank status".
      // (Its foreground-deletion finalizer comes with the VMI controller that removes it.)
      out.status = { phase: 'Pending', phaseTransitionTimestamps: [{ phase: 'Pending', phaseTransitionTimestamp: meta.creationTimestamp }] };
    }
    return out;
  }

  #allocate(s: RequestScope, obj: KubeObject): KubeObject {
    if (s.def.kind !== 'Service') return obj;
    return this.clusterIPs.allocate(obj, isDryRun(s), target(s));
  }

  #commitCreate(s: RequestScope, obj: KubeObject): KubeObject {
    if (isDryRun(s)) return this.present(s.def, s.version, obj);
    try {
      return this.present(s.def, s.version, this.store.create(storeKey(s.def), s.namespace ?? '', s.name ?? '', obj));
    } catch (e) {
      if (isVirtmeshError(e, 'VM_ERR_STORE_ALREADY_EXISTS')) throw status.alreadyExists(target(s));
      throw e;
    }
  }

  /** PUT: full replacement of the object (or of its status, for the status subresource). */
  update(s: RequestScope, body: KubeObject): KubeObject {
    checkTypeMeta(s.def, s.version, body);
    const current = this.store.get(storeKey(s.def), s.namespace ?? '', s.name ?? '');
    if (!current) throw status.notFound(target(s));
    if (body.metadata?.name !== undefined && body.metadata.name !== s.name) {
      throw status.badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${s.name})`);
    }
    checkNamespaceOf(s, body);
    const expectedRv = body.metadata?.resourceVersion || undefined;
    return this.#replace(s, current, body, expectedRv);
  }

  patch(s: RequestScope, type: PatchType, patch: unknown): KubeObject {
    const current = this.store.get(storeKey(s.def), s.namespace ?? '', s.name ?? '');
    if (type === 'strategic' && s.def.custom) {
      throw status.unsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
      );
    }
    try {
      if (type === 'apply') return this.#apply(s, current, patch as KubeObject);
      if (!current) throw status.notFound(target(s));
      const live = this.present(s.def, s.version, current);
      const patched =
        type === 'json'
          ? applyJsonPatch(live, patch)
          : type === 'merge'
            ? applyMergePatch(live, patch)
            : applyStrategicMergePatch(live, patch, { group: s.def.group, kind: s.def.kind });
      // kube's checkName: a patch may not rename the object, nor remove its name or metadata.
      if (patched.metadata?.name !== s.name) {
        throw status.badRequest(`the name of the object (${patched.metadata?.name ?? ''}) does not match the name on the URL (${s.name})`);
      }
      // A patch that does not name a resourceVersion applies to whatever is current.
      const expectedRv = (patch as KubeObject)?.metadata?.resourceVersion;
      if (!expectedRv && patched.metadata) patched.metadata.resourceVersion = current.metadata?.resourceVersion;
      return this.#replace(s, current, patched, patched.metadata?.resourceVersion);
    } catch (e) {
      if (e instanceof PatchError) {
        const causes = e.causes?.map((c) => ({ reason: c.type, message: c.message, field: c.field }));
        throw new StatusError(e.status, e.reason, e.message, causes ? { causes } : undefined);
      }
      throw e;
    }
  }

  #apply(s: RequestScope, current: KubeObject | undefined, applied: KubeObject): KubeObject {
    checkTypeMeta(s.def, s.version, applied);
    if (applied.metadata?.name && applied.metadata.name !== s.name) {
      throw status.badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${s.name})`);
    }
    checkNamespaceOf(s, applied);
    if (!current && s.subresource) throw status.notFound(target(s));
    if (!s.query.get('fieldManager')) {
      throw status.badRequest('PATCH, application/apply-patch+yaml: fieldManager is required for apply requests');
    }
    const force = s.query.get('force') === 'true';
    const opts = { manager: manager(s), force, gk: { group: s.def.group, kind: s.def.kind }, now: nowRFC3339(), subresource: s.subresource };
    if (!current) {
      // Apply creates: the applied config is decoded and admitted like any create.
      const obj = serverSideApply(undefined, { ...applied, metadata: { ...applied.metadata, name: s.name } }, opts);
      return this.#createFromApply(s, obj);
    }
    const live = this.present(s.def, s.version, current);
    const merged = serverSideApply(live, applied, opts);
    // A resourceVersion in the applied config is a precondition, as in kube.
    return this.#replace(s, current, merged, applied.metadata?.resourceVersion || current.metadata?.resourceVersion, true);
  }

  #createFromApply(s: RequestScope, obj: KubeObject): KubeObject {
    // serverSideApply made the Apply entry; #initialize clears managedFields, so it is put back.
    const managedFields = obj.metadata?.managedFields;
    const meta = { ...obj.metadata, namespace: s.def.namespaced ? s.namespace : undefined };
    return this.#admitNew(s, { ...obj, metadata: meta }, (out) => ({ ...out, metadata: { ...out.metadata, managedFields } }));
  }

  /** The shared path of PUT, PATCH and apply: admission, server-owned fields, commit. */
  #replace(s: RequestScope, current: KubeObject, next: KubeObject, expectedRv: string | undefined, applied = false): KubeObject {
    if (expectedRv && expectedRv !== current.metadata?.resourceVersion) {
      throw status.conflict(target(s), 'the object has been modified; please apply your changes to the latest version and try again');
    }
    let obj = decode(s.def, s.version, next, parseFieldValidation(s.query.get('fieldValidation')), s.warnings);
    const cm: ObjectMeta = current.metadata ?? {};
    const meta: ObjectMeta = { ...obj.metadata };
    // Server-owned metadata cannot be changed by a client.
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'namespace', 'name'] as const) {
      if (cm[k] === undefined) delete meta[k];
      else (meta as Record<string, unknown>)[k] = cm[k];
    }
    obj = { ...obj, apiVersion: apiVersionOf(s.def.group, s.version), kind: s.def.kind, metadata: meta };
    if (s.subresource === 'status') {
      // The status subresource changes status only.
      obj = { ...current, apiVersion: obj.apiVersion, status: obj.status, metadata: { ...cm, managedFields: meta.managedFields } };
    } else if (s.def.status) {
      if (current.status === undefined) delete obj.status;
      else obj.status = current.status;
    }
    if (cm.deletionTimestamp) {
      const added = (meta.finalizers ?? []).filter((f) => !(cm.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw status.invalid(target(s), [
          { type: 'FieldValueForbidden', field: 'metadata.finalizers', detail: 'no new finalizers can be added if the object is being deleted' },
        ]);
      }
    }
    defaults(s.def, obj);
    if (s.def.kind === 'Service') obj = this.clusterIPs.keep(current, obj);
    validate(s.def, obj, this.admissionContext('UPDATE', current));
    if (meta.generation !== undefined && specOf(obj) !== specOf(current)) meta.generation = (cm.generation ?? 0) + 1;
    if (!applied) {
      obj = recordUpdate(current, obj, {
        manager: manager(s),
        now: nowRFC3339(),
        apiVersion: apiVersionOf(s.def.group, s.version),
        subresource: s.subresource,
      });
    }
    if (isDryRun(s)) return this.present(s.def, s.version, obj);
    const ref = storeKey(s.def);
    // The namespace controller alone ends a namespace, once it is empty.
    const finalized =
      obj.metadata?.deletionTimestamp && (obj.metadata.finalizers ?? []).length === 0 && !this.#awaitsNode(s.def, obj) && s.def.kind !== 'Namespace';
    try {
      if (finalized) return this.present(s.def, s.version, this.#remove(s, obj));
      return this.present(s.def, s.version, this.store.update(ref, s.namespace ?? '', s.name ?? '', obj, current.metadata?.resourceVersion));
    } catch (e) {
      if (isVirtmeshError(e, 'VM_ERR_STORE_CONFLICT'))
        throw status.conflict(target(s), 'the object has been modified; please apply your changes to the latest version and try again');
      throw e;
    }
  }

  /** pods/binding: the scheduler's way to set spec.nodeName, which pod updates may not change. */
  bind(s: RequestScope, binding: KubeObject): KubeObject {
    const current = this.store.get(storeKey(s.def), s.namespace ?? '', s.name ?? '');
    if (!current) throw status.notFound(target(s));
    const bindingTarget = { ...target(s), resource: 'pods/binding' };
    const node = (binding.target as { name?: string } | undefined)?.name;
    if (!node) throw status.invalid(bindingTarget, [{ type: 'FieldValueRequired', field: 'target.name', detail: 'Required value' }]);
    const uid = binding.metadata?.uid;
    if (uid && uid !== current.metadata?.uid) {
      throw status.conflict(bindingTarget, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata?.uid}`);
    }
    const spec = (current.spec ?? {}) as { nodeName?: string };
    if (spec.nodeName) throw status.conflict(bindingTarget, `pod ${s.name} is already assigned to node "${spec.nodeName}"`);
    if (current.metadata?.deletionTimestamp) throw status.conflict(bindingTarget, `pod ${s.name} is being deleted, cannot be assigned to a host`);
    const podStatus = (current.status ?? {}) as { conditions?: Array<{ type: string }> };
    const conditions = [
      ...(podStatus.conditions ?? []).filter((c) => c.type !== 'PodScheduled'),
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowRFC3339() },
    ];
    const next = { ...current, spec: { ...spec, nodeName: node }, status: { ...podStatus, conditions } };
    if (!isDryRun(s)) this.store.update(storeKey(s.def), s.namespace ?? '', s.name ?? '', next, current.metadata?.resourceVersion);
    return { ...successStatus(bindingTarget), code: 201 };
  }

  /** Pods bound to a node are deleted gracefully: the node stops them and then removes them. */
  #awaitsNode(def: ResourceDef, obj: KubeObject): boolean {
    return Boolean(def.graceful && (obj.spec as { nodeName?: string } | undefined)?.nodeName && (obj.metadata?.deletionGracePeriodSeconds ?? 0) > 0);
  }

  #remove(s: RequestScope, finalState: KubeObject): KubeObject {
    const removed = this.store.delete(storeKey(s.def), s.namespace ?? '', s.name ?? '', undefined, finalState);
    if (s.def.kind === 'Service') this.clusterIPs.release(removed);
    return removed;
  }

  delete(s: RequestScope, options: DeleteOptions): KubeObject {
    const current = this.store.get(storeKey(s.def), s.namespace ?? '', s.name ?? '');
    if (!current) throw status.notFound(target(s));
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== current.metadata?.uid) {
      throw status.conflict(target(s), `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata?.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== current.metadata?.resourceVersion) {
      throw status.conflict(
        target(s),
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata?.resourceVersion}`,
      );
    }
    if (s.def.kind === 'Namespace' && IMMORTAL_NAMESPACES.includes(s.name ?? '')) {
      throw status.forbidden(`namespaces "${s.name}" is forbidden: this namespace may not be deleted`, target(s));
    }
    const meta: ObjectMeta = { ...current.metadata };
    const spec = current.spec as { nodeName?: string; terminationGracePeriodSeconds?: number } | undefined;
    const grace =
      s.def.graceful && spec?.nodeName ? Math.min(MAX_GRACE_SECONDS, Math.max(0, options.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30)) : 0;
    // Orphan and Foreground are finalizers the garbage collector acts on (builtin-controllers.ts).
    const policyFinalizer = { Orphan: 'orphan', Foreground: 'foregroundDeletion', Background: undefined }[options.propagationPolicy ?? 'Background'];
    if (policyFinalizer && !meta.finalizers?.includes(policyFinalizer)) meta.finalizers = [...(meta.finalizers ?? []), policyFinalizer];
    const pending = (meta.finalizers ?? []).length > 0 || s.def.kind === 'Namespace';
    if (!pending && grace <= 0) {
      if (isDryRun(s)) return this.present(s.def, s.version, current);
      return this.present(s.def, s.version, this.#remove(s, current));
    }
    // Deletion is pending: mark it and let finalizers, the node or the namespace controller finish.
    if (!meta.deletionTimestamp) {
      meta.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      meta.deletionGracePeriodSeconds = grace;
    } else if (grace < (meta.deletionGracePeriodSeconds ?? 0)) {
      // A shorter grace period may replace a longer one (e.g. --force --grace-period=0 after a normal delete).
      meta.deletionGracePeriodSeconds = grace;
    }
    const next: KubeObject = { ...current, metadata: meta };
    if (s.def.kind === 'Namespace') next.status = { ...(current.status as object), phase: 'Terminating' };
    if (isDryRun(s)) return this.present(s.def, s.version, next);
    if (!pending && grace <= 0) return this.present(s.def, s.version, this.#remove(s, next));
    return this.present(s.def, s.version, this.store.update(storeKey(s.def), s.namespace ?? '', s.name ?? '', next));
  }
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

/** The longest grace period honoured; kube takes any int64, but dates past this are nonsense. */
const MAX_GRACE_SECONDS = 10 * 365 * 24 * 3600;

/**
 * DeleteOptions from the body and the query (query wins, as in kube-apiserver), checked.
 * A dry run in the body is folded into the query, where every handler looks for it.
 */
export function deleteOptions(body: unknown, query: URLSearchParams): DeleteOptions {
  if (body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    throw status.badRequest('the body of the request was in an unknown format - accepted media types include: application/json, application/yaml');
  }
  const o = { ...(body as DeleteOptions | null) };
  const invalid = (type: 'FieldValueInvalid' | 'FieldValueNotSupported', field: string, badValue: unknown, supported: string[]) =>
    status.invalid({ group: '', resource: 'deleteoptions', kind: 'DeleteOptions', name: '' }, [
      { type, field, badValue, supported, detail: `supported values: ${supported.map((v) => `"${v}"`).join(', ')}` },
    ]);
  const grace = query.get('gracePeriodSeconds');
  if (grace !== null) o.gracePeriodSeconds = grace.trim() === '' ? Number.NaN : Number(grace);
  if (o.gracePeriodSeconds !== undefined && !Number.isInteger(o.gracePeriodSeconds)) {
    throw status.badRequest(`invalid gracePeriodSeconds: ${JSON.stringify(grace ?? o.gracePeriodSeconds)}: must be an integer`);
  }
  const policy = query.get('propagationPolicy');
  if (policy) o.propagationPolicy = policy as DeleteOptions['propagationPolicy'];
  if (o.propagationPolicy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(o.propagationPolicy)) {
    throw invalid('FieldValueNotSupported', 'propagationPolicy', o.propagationPolicy, ['Foreground', 'Background', 'Orphan']);
  }
  const dryRun = [...(o.dryRun ?? []), ...query.getAll('dryRun')];
  for (const d of dryRun) if (d !== 'All') throw invalid('FieldValueNotSupported', 'dryRun', d, ['All']);
  if (dryRun.length > 0 && !query.getAll('dryRun').includes('All')) query.append('dryRun', 'All');
  return o;
}

/** Namespaces kube-apiserver's NamespaceLifecycle never lets go. */
const IMMORTAL_NAMESPACES = ['default', 'kube-system', 'kube-public'];

/** A namespaced object's body may name its namespace only if it is the one in the URL. */
function checkNamespaceOf(s: RequestScope, body: KubeObject): void {
  const ns = body.metadata?.namespace;
  if (s.def.namespaced && ns && ns !== s.namespace) {
    throw status.badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
}

const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
/** kube's generateName suffix: five characters from a consonant-and-digit alphabet. */
export function randomSuffix(n = 5): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}
