// The CustomResourceDefinitions a real cluster would have for the custom kinds
// virtmesh serves (KubeVirt, Istio, Multus), derived from the resource list and
// read-only: the set of kinds is fixed. kubectl lists them to decide how to
// validate kinds it does not know, and users expect `kubectl get crd`.

import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../store/index.js';
import { type ResourceDef, resources } from './resources.js';
import { hasSchema, schemaFor } from './schema/index.js';
import { printerFor } from './tables.js';

const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const uids = new Map<string, string>();

function crdFor(r: ResourceDef, resourceVersion: string): KubeObject {
  const name = `${r.plural}.${r.group}`;
  if (!uids.has(name)) uids.set(name, randomUUID());
  const names = {
    kind: r.kind,
    listKind: `${r.kind}List`,
    plural: r.plural,
    singular: r.singular,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
  };
  const columns = printerFor(r)
    .columns.filter((c) => c.jsonPath)
    .map((c) => ({ name: c.name, type: c.type, jsonPath: c.jsonPath, ...(c.priority ? { priority: c.priority } : {}) }));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name, uid: uids.get(name), resourceVersion, generation: 1, creationTimestamp: startedAt },
    spec: {
      group: r.group,
      names,
      scope: r.namespaced ? 'Namespaced' : 'Cluster',
      versions: r.versions.map((version, i) => {
        const gvk = { group: r.group, version, kind: r.kind };
        return {
          name: version,
          served: true,
          storage: i === 0,
          schema: { openAPIV3Schema: hasSchema(gvk) ? schemaFor(gvk) : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          ...(r.status ? { subresources: { status: {} } } : {}),
          ...(columns.length ? { additionalPrinterColumns: columns } : {}),
        };
      }),
      conversion: { strategy: 'None' },
    },
    status: {
      acceptedNames: names,
      storedVersions: [r.versions[0]],
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: startedAt },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: startedAt },
      ],
    },
  };
}

export function customResourceDefinitions(resourceVersion: string): KubeObject[] {
  return resources
    .filter((r) => r.custom)
    .map((r) => crdFor(r, resourceVersion))
    .sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
}
