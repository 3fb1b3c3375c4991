/**
 * Merge semantics of list and map fields, as data, for the kinds served as built-ins.
 *
 * Transcribed from the Go struct tags of k8s.io/api core/v1, meta/v1 and discovery/v1:
 * - `smp` is the strategic-merge-patch strategy: `patchStrategy:"merge"` with its
 *   `patchMergeKey` (no key: a merging list of scalars). A list without `smp` is replaced whole.
 * - `ssa` is the server-side-apply list type (`+listType` / `+listMapKey`): `set`, or a map
 *   list keyed by `keys` (`defaults` fill key fields the OpenAPI schema defaults, e.g. protocol).
 *   A list missing from the table is atomic, as untagged lists are in kube's OpenAPI.
 *
 * Paths are the list field's path from the kind root; `[]` steps into list items.
 */

import { splitApiVersion } from '../resources.js';

export type SsaListType = 'atomic' | 'set' | { keys: string[]; defaults?: Record<string, unknown> };

export interface ListRule {
  smp?: { mergeKey?: string; retainKeys?: boolean };
  ssa: SsaListType;
}

export interface KindRules {
  lists: Record<string, ListRule>;
  /** Maps tagged `+mapType=atomic` (owned and applied as a whole by server-side apply). */
  atomicMaps?: string[];
  /** Fields whose Go type always serializes (no omitempty), so an empty object already has them. */
  alwaysPresent?: string[];
}

const byName: ListRule = { smp: { mergeKey: 'name' }, ssa: { keys: ['name'] } };
const byType: ListRule = { smp: { mergeKey: 'type' }, ssa: { keys: ['type'] } };
const byIp: ListRule = { smp: { mergeKey: 'ip' }, ssa: { keys: ['ip'] } };
const atomic: ListRule = { ssa: 'atomic' };

/** Container / EphemeralContainer lists under `p` (containers, initContainers, ephemeralContainers). */
function containerLists(p: string): Record<string, ListRule> {
  return {
    [p]: byName,
    [`${p}[].ports`]: {
      smp: { mergeKey: 'containerPort' },
      ssa: { keys: ['containerPort', 'protocol'], defaults: { protocol: 'TCP' } },
    },
    [`${p}[].env`]: byName,
    [`${p}[].envFrom`]: atomic,
    [`${p}[].volumeMounts`]: { smp: { mergeKey: 'mountPath' }, ssa: { keys: ['mountPath'] } },
    [`${p}[].volumeDevices`]: { smp: { mergeKey: 'devicePath' }, ssa: { keys: ['devicePath'] } },
    [`${p}[].resizePolicy`]: atomic,
    [`${p}[].resources.claims`]: { ssa: { keys: ['name'] } },
  };
}

/** ObjectMeta, shared by every kind (CRDs included). */
export const METADATA_LISTS: Record<string, ListRule> = {
  'metadata.finalizers': { smp: {}, ssa: 'set' },
  'metadata.ownerReferences': { smp: { mergeKey: 'uid' }, ssa: { keys: ['uid'] } },
};

export const KIND_RULES: Record<string, KindRules> = {
  // group "" (core/v1)
  '/Pod': {
    lists: {
      ...containerLists('spec.containers'),
      ...containerLists('spec.initContainers'),
      ...containerLists('spec.ephemeralContainers'),
      'spec.volumes': { smp: { mergeKey: 'name', retainKeys: true }, ssa: { keys: ['name'] } },
      'spec.imagePullSecrets': byName,
      'spec.hostAliases': byIp,
      'spec.tolerations': atomic,
      'spec.readinessGates': atomic,
      'spec.topologySpreadConstraints': {
        smp: { mergeKey: 'topologyKey' },
        ssa: { keys: ['topologyKey', 'whenUnsatisfiable'] },
      },
      'spec.schedulingGates': byName,
      'spec.resourceClaims': { smp: { mergeKey: 'name', retainKeys: true }, ssa: { keys: ['name'] } },
      'status.conditions': byType,
      'status.podIPs': byIp,
      'status.hostIPs': byIp,
      'status.containerStatuses': atomic,
      'status.initContainerStatuses': atomic,
      'status.ephemeralContainerStatuses': atomic,
      'status.resourceClaimStatuses': { smp: { mergeKey: 'name', retainKeys: true }, ssa: { keys: ['name'] } },
    },
    atomicMaps: ['spec.nodeSelector'],
    alwaysPresent: ['spec.containers'],
  },
  '/Service': {
    lists: {
      // Merge key `port` for strategic merge patch; the SSA map key is (port, protocol).
      'spec.ports': { smp: { mergeKey: 'port' }, ssa: { keys: ['port', 'protocol'], defaults: { protocol: 'TCP' } } },
      'spec.externalIPs': atomic,
      'spec.clusterIPs': atomic,
      'spec.ipFamilies': atomic,
      'spec.loadBalancerSourceRanges': atomic,
      'status.conditions': byType,
      'status.loadBalancer.ingress': atomic,
    },
    atomicMaps: ['spec.selector'],
    alwaysPresent: ['status.loadBalancer'],
  },
  '/Namespace': {
    lists: { 'spec.finalizers': atomic, 'status.conditions': byType },
  },
  '/Endpoints': {
    lists: { subsets: atomic },
  },
  '/ServiceAccount': {
    lists: { secrets: byName, imagePullSecrets: atomic },
  },
  '/Event': { lists: {} },
  '/ConfigMap': { lists: {} },
  '/Secret': { lists: {} },
  'discovery.k8s.io/EndpointSlice': {
    lists: { endpoints: atomic, ports: atomic },
  },
};

export interface GroupKind {
  group: string;
  kind: string;
}

/** Groups whose kinds are compiled-in types (strategic merge patch allowed; untagged lists atomic). */
export function isBuiltinGroup(group: string): boolean {
  return group === '' || group === 'core' || group === 'discovery.k8s.io';
}

/** Lookups on one kind's rules, by field path (`spec.containers[].ports`). */
export interface Schema {
  readonly builtin: boolean;
  /** The list's rule, or undefined (SMP: replace; SSA: atomic). */
  list(path: string): ListRule | undefined;
  ssaList(path: string): SsaListType;
  atomicMap(path: string): boolean;
  /** True when an empty object of the kind already holds this field (so adding it adds no `.` entry). */
  alwaysPresent(path: string): boolean;
}

export function schemaFor(gk: GroupKind): Schema {
  const group = gk.group === 'core' ? '' : gk.group;
  const builtin = isBuiltinGroup(group);
  const kindKey = `${group}/${gk.kind}`;
  const rules: KindRules = (Object.hasOwn(KIND_RULES, kindKey) ? KIND_RULES[kindKey] : undefined) ?? { lists: {} };
  const lists = builtin ? { ...METADATA_LISTS, ...rules.lists } : METADATA_LISTS;
  const atomicMaps = new Set(builtin ? (rules.atomicMaps ?? []) : []);
  const present = new Set(builtin ? ['spec', 'status', ...(rules.alwaysPresent ?? [])] : []);
  return {
    builtin,
    // Paths come from user field names: look up own entries only (`__proto__`, `constructor`...).
    list: (path) => (Object.hasOwn(lists, path) ? lists[path] : undefined),
    ssaList: (path) => (Object.hasOwn(lists, path) ? lists[path]?.ssa : undefined) ?? 'atomic',
    atomicMap: (path) => atomicMaps.has(path),
    alwaysPresent: (path) => present.has(path),
  };
}

/** The group of an apiVersion ("v1" -> "", "discovery.k8s.io/v1" -> "discovery.k8s.io"). */
export function groupOf(apiVersion: string | undefined): string {
  return splitApiVersion(apiVersion ?? '').group;
}

export function childPath(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

export function itemPath(list: string): string {
  return `${list}[]`;
}
