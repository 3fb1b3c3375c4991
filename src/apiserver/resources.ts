// Every kind the API server serves: its names, scope, versions and features.
// Discovery, routing, OpenAPI and tables are all derived from this one list.

export interface ResourceDef {
  group: string;
  /** Served versions, preferred first. Objects are stored once and served under each. */
  versions: string[];
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Has a `status` subresource: the main resource ignores status writes and vice versa. */
  status: boolean;
  /** Has a `log` subresource (pods): the output of a container, read-only. */
  logs?: boolean;
  /** A custom resource on a real cluster (CRD): no strategic merge patch, CRD-style errors. */
  custom: boolean;
  /** metadata.name syntax: DNS-1123 label (63 chars) or subdomain. */
  nameRule: 'label' | 'subdomain';
  /** Deletion waits for the node to stop the workload (pods bound to a node). */
  graceful?: boolean;
  /** Served from the server's own definitions, never written (CustomResourceDefinitions). */
  readOnly?: boolean;
}

const core = (kind: string, plural: string, extra: Partial<ResourceDef> = {}): ResourceDef => ({
  group: '',
  versions: ['v1'],
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced: true,
  status: false,
  custom: false,
  nameRule: 'subdomain',
  ...extra,
});

const crd = (group: string, versions: string[], kind: string, plural: string, extra: Partial<ResourceDef> = {}): ResourceDef => ({
  group,
  versions,
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced: true,
  status: true,
  custom: true,
  nameRule: 'subdomain',
  ...extra,
});

const istioNetworking = ['v1', 'v1beta1', 'v1alpha3'];
const istioSecurity = ['v1', 'v1beta1'];

export const resources: ResourceDef[] = [
  core('Namespace', 'namespaces', { namespaced: false, shortNames: ['ns'], status: true, nameRule: 'label' }),
  core('Node', 'nodes', { namespaced: false, shortNames: ['no'], status: true }),
  core('Pod', 'pods', { shortNames: ['po'], categories: ['all'], status: true, logs: true, graceful: true }),
  core('Service', 'services', { shortNames: ['svc'], categories: ['all'], status: true, nameRule: 'label' }),
  core('Endpoints', 'endpoints', { shortNames: ['ep'], singular: 'endpoints' }),
  core('Event', 'events', { shortNames: ['ev'] }),
  core('ConfigMap', 'configmaps', { shortNames: ['cm'] }),
  core('Secret', 'secrets'),
  core('ServiceAccount', 'serviceaccounts', { shortNames: ['sa'] }),
  { ...core('EndpointSlice', 'endpointslices'), group: 'discovery.k8s.io' },
  crd('k8s.cni.cncf.io', ['v1'], 'NetworkAttachmentDefinition', 'network-attachment-definitions', {
    singular: 'network-attachment-definition',
    shortNames: ['net-attach-def'],
    status: false,
  }),
  crd('kubevirt.io', ['v1'], 'VirtualMachineInstance', 'virtualmachineinstances', {
    shortNames: ['vmi', 'vmis'],
    categories: ['all'],
  }),
  crd('kubevirt.io', ['v1'], 'VirtualMachine', 'virtualmachines', { shortNames: ['vm', 'vms'], categories: ['all'] }),
  crd('networking.istio.io', istioNetworking, 'VirtualService', 'virtualservices', { shortNames: ['vs'], categories: ['istio-io', 'networking-istio-io'] }),
  crd('networking.istio.io', istioNetworking, 'DestinationRule', 'destinationrules', { shortNames: ['dr'], categories: ['istio-io', 'networking-istio-io'] }),
  crd('networking.istio.io', istioNetworking, 'ServiceEntry', 'serviceentries', { shortNames: ['se'], categories: ['istio-io', 'networking-istio-io'] }),
  crd('networking.istio.io', istioNetworking, 'Sidecar', 'sidecars', { categories: ['istio-io', 'networking-istio-io'] }),
  crd('security.istio.io', istioSecurity, 'PeerAuthentication', 'peerauthentications', { shortNames: ['pa'], categories: ['istio-io', 'security-istio-io'] }),
  {
    ...core('CustomResourceDefinition', 'customresourcedefinitions', { namespaced: false, shortNames: ['crd', 'crds'], status: true, readOnly: true }),
    group: 'apiextensions.k8s.io',
  },
  crd('security.istio.io', istioSecurity, 'AuthorizationPolicy', 'authorizationpolicies', {
    shortNames: ['ap'],
    categories: ['istio-io', 'security-istio-io'],
  }),
];

/** The groups in discovery order, each with its versions (preferred first). */
export function apiGroups(): Array<{ name: string; versions: string[] }> {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    if (!r.group) continue;
    const vs = groups.get(r.group) ?? [];
    for (const v of r.versions) if (!vs.includes(v)) vs.push(v);
    groups.set(r.group, vs);
  }
  return [...groups].map(([name, versions]) => ({ name, versions }));
}

export function findByPlural(group: string, version: string, plural: string): ResourceDef | undefined {
  return resources.find((r) => r.group === group && r.plural === plural && r.versions.includes(version));
}

export function findByKind(group: string, kind: string): ResourceDef | undefined {
  return resources.find((r) => r.group === group && r.kind === kind);
}

export function resourcesIn(group: string, version: string): ResourceDef[] {
  return resources.filter((r) => r.group === group && r.versions.includes(version));
}

export const apiVersionOf = (group: string, version: string) => (group ? `${group}/${version}` : version);

/** apiVersionOf's inverse: "v1" is the core group's, "kubevirt.io/v1" kubevirt.io's. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** `pods`, `virtualmachineinstances.kubevirt.io`: how errors name a resource. */
export const qualifiedName = (r: ResourceDef) => (r.group ? `${r.plural}.${r.group}` : r.plural);
