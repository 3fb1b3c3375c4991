// API discovery (/api, /apis, group versions) and /version, derived from the resource list.

import { apiGroups, apiVersionOf, type ResourceDef, resourcesIn } from './resources.js';

export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-virtmesh' };

export function versionInfo(): Record<string, string> {
  return {
    ...KUBE_VERSION,
    gitCommit: 'virtmesh',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'node',
    compiler: 'virtmesh',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function coreVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupEntry(name: string, versions: string[]) {
  const gv = (v: string) => ({ groupVersion: `${name}/${v}`, version: v });
  return { name, versions: versions.map(gv), preferredVersion: gv(versions[0]) };
}

export function groupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups().map((g) => groupEntry(g.name, g.versions)) };
}

export function group(name: string) {
  const g = apiGroups().find((x) => x.name === name);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(g.name, g.versions) } : undefined;
}

const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function resourceEntries(r: ResourceDef) {
  const main = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.readOnly ? ['get', 'list', 'watch'] : r.kind === 'Namespace' ? verbs.filter((v) => v !== 'deletecollection') : verbs,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
  };
  const sub = (name: string, subVerbs: string[]) => ({
    name: `${r.plural}/${name}`,
    singularName: '',
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: subVerbs,
  });
  // Subresources in kube's (alphabetical) order.
  return [main, ...(r.logs ? [sub('binding', ['create']), sub('log', ['get'])] : []), ...(r.status ? [sub('status', ['get', 'patch', 'update'])] : [])];
}

export function resourceList(groupName: string, version: string) {
  const defs = resourcesIn(groupName, version);
  if (defs.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf(groupName, version),
    resources: defs.flatMap(resourceEntries),
  };
}
