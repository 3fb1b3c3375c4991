// A few of Kiali's Istio config validations, over the objects as the API server holds
// them: route destinations and DestinationRule hosts that name nothing in the service
// registry, subsets whose labels select no pod, single-destination weights, and
// Service port names Istio cannot read a protocol from. Codes and messages are Kiali's.

import type { KubeObject } from '../client/index.js';
import { hostMatches, PROXY_CONTAINER, resolveHost, selects, serviceHost } from '../pilot/index.js';
import type { Validation } from './api.js';

type Obj = KubeObject & { spec?: any };

/** The service registry the checks look hosts up in. */
export interface MeshObjects {
  services: KubeObject[];
  serviceEntries?: KubeObject[];
  pods?: KubeObject[];
}

export const CHECKS = {
  routeHostNotFound: { code: 'KIA1101', severity: 'error', message: "DestinationWeight on route doesn't have a valid service (host not found)" },
  singleWeight: { code: 'KIA1104', severity: 'warning', message: 'The weight is assumed to be 100 because there is only one route destination' },
  // Kiali no longer checks weight sums (Istio spreads traffic in proportion to the weights); older Kiali did, without a code.
  weightSum: { code: 'VM1100', severity: 'warning', message: 'Weight sum should be 100' },
  ruleHostNotFound: {
    code: 'KIA0202',
    severity: 'error',
    message: 'This host has no matching entry in the service registry (service, workload or service entries)',
  },
  subsetLabelsNotFound: { code: 'KIA0203', severity: 'error', message: "This subset's labels are not found in any matching host" },
  portName: { code: 'KIA0601', severity: 'error', message: 'Port name must follow <protocol>[-suffix] form' },
  portAppProtocol: { code: 'KIA0602', severity: 'error', message: 'Port appProtocol must follow <protocol> form' },
} as const satisfies Record<string, Omit<Validation, 'path'>>;

const check = (c: keyof typeof CHECKS, path: string): Validation => ({ ...CHECKS[c], path });

const nsOf = (o: KubeObject) => o.metadata.namespace ?? 'default';

/** Does a host (resolved in `namespace`) name a Service or a ServiceEntry host? The Services it names. */
function lookupHost(host: string, namespace: string, mesh: MeshObjects): { found: boolean; services: Obj[] } {
  const fqdn = resolveHost(host, namespace);
  const services = (mesh.services as Obj[]).filter((s) => {
    const h = serviceHost(s.metadata.name, nsOf(s));
    return hostMatches(fqdn, h);
  });
  if (services.length > 0) return { found: true, services };
  const entry = (mesh.serviceEntries as Obj[] | undefined)?.some((se) =>
    ((se.spec?.hosts ?? []) as string[]).some((h) => hostMatches(h, fqdn) || hostMatches(fqdn, h)),
  );
  return { found: Boolean(entry), services: [] };
}

export function validateVirtualService(vs: KubeObject, mesh: MeshObjects): Validation[] {
  const out: Validation[] = [];
  const spec = (vs as Obj).spec ?? {};
  for (const kind of ['http', 'tcp', 'tls'] as const) {
    ((spec[kind] ?? []) as Array<{ route?: Array<{ destination?: { host?: string }; weight?: number }> }>).forEach((r, i) => {
      const routes = r.route ?? [];
      routes.forEach((d, j) => {
        const host = d.destination?.host;
        if (host && !lookupHost(host, nsOf(vs), mesh).found) out.push(check('routeHostNotFound', `spec/${kind}[${i}]/route[${j}]/destination/host`));
      });
      if (routes.length === 1) {
        const w = routes[0].weight;
        if (w !== undefined && w > 0 && w < 100) out.push(check('singleWeight', `spec/${kind}[${i}]/route[0]/weight`));
      } else if (routes.length > 1 && routes.some((d) => d.weight !== undefined)) {
        const sum = routes.reduce((s, d) => s + (d.weight ?? 0), 0);
        if (sum !== 100) out.push(check('weightSum', `spec/${kind}[${i}]/route`));
      }
    });
  }
  return out;
}

export function validateDestinationRule(dr: KubeObject, mesh: MeshObjects): Validation[] {
  const spec = (dr as Obj).spec ?? {};
  if (typeof spec.host !== 'string') return [];
  const { found, services } = lookupHost(spec.host, nsOf(dr), mesh);
  if (!found) return [check('ruleHostNotFound', 'spec/host')];
  const out: Validation[] = [];
  // Subsets are checked against the pods behind the Services the host names; hosts of ServiceEntries only have no pods to look at.
  if (services.length === 0) return out;
  const pods = (mesh.pods ?? []) as Obj[];
  ((spec.subsets ?? []) as Array<{ labels?: Record<string, string> }>).forEach((subset, i) => {
    if (!subset.labels || Object.keys(subset.labels).length === 0) return;
    const matched = services.some((s) =>
      pods.some(
        (p) =>
          nsOf(p) === nsOf(s) &&
          s.spec?.selector &&
          Object.keys(s.spec.selector).length > 0 &&
          selects(s.spec.selector, p.metadata.labels) &&
          selects(subset.labels, p.metadata.labels),
      ),
    );
    if (!matched) out.push(check('subsetLabelsNotFound', `spec/subsets[${i}]`));
  });
  return out;
}

/** Kiali's list of protocols a port name or appProtocol may start with. */
const PROTOCOLS = ['grpc', 'grpc-web', 'http', 'http2', 'https', 'mongo', 'mysql', 'redis', 'tcp', 'tls', 'udp'];
const namedForProtocol = (name: string | undefined) => {
  const n = (name ?? '').toLowerCase();
  return PROTOCOLS.some((p) => n === p || n.startsWith(`${p}-`));
};

/** Port naming, checked (as Kiali does) only for Services whose pods run a sidecar: those are the ports the mesh must read a protocol from. */
export function validateService(svc: KubeObject, pods: KubeObject[]): Validation[] {
  const s = svc as Obj;
  const selector = s.spec?.selector as Record<string, string> | undefined;
  if (!selector || Object.keys(selector).length === 0) return [];
  const meshed = (pods as Obj[]).some(
    (p) => nsOf(p) === nsOf(s) && selects(selector, p.metadata.labels) && (p.spec?.containers ?? []).some((c: { name?: string }) => c.name === PROXY_CONTAINER),
  );
  if (!meshed) return [];
  const out: Validation[] = [];
  ((s.spec?.ports ?? []) as Array<{ name?: string; protocol?: string; appProtocol?: string }>).forEach((p, i) => {
    if ((p.protocol ?? 'TCP').toUpperCase() === 'UDP') return;
    if (p.appProtocol !== undefined) {
      if (!PROTOCOLS.includes(p.appProtocol.toLowerCase())) out.push(check('portAppProtocol', `spec/ports[${i}]`));
    } else if (!namedForProtocol(p.name)) {
      out.push(check('portName', `spec/ports[${i}]`));
    }
  });
  return out;
}

/** The validations of one Istio config object by its kind (none for kinds without checks here). */
export function validateIstioObject(obj: KubeObject, mesh: MeshObjects): Validation[] {
  switch (obj.kind) {
    case 'VirtualService':
      return validateVirtualService(obj, mesh);
    case 'DestinationRule':
      return validateDestinationRule(obj, mesh);
    default:
      return [];
  }
}
