// Which service address goes where: Services and their Endpoints (ready addresses
// only) turned into one DNAT list, as kube-proxy computes it.

import type { KubeObject } from '../client/index.js';
import type { ServicePortRule } from './rules.js';

interface ServiceSpec {
  clusterIP?: string;
  type?: string;
  ports?: Array<{ name?: string; port: number; protocol?: string }>;
}

interface EndpointsSubset {
  addresses?: Array<{ ip: string }>;
  ports?: Array<{ name?: string; port: number; protocol?: string }>;
}

export function serviceRules(services: KubeObject[], endpoints: KubeObject[]): ServicePortRule[] {
  const byKey = new Map(endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const rules: ServicePortRule[] = [];
  for (const svc of services) {
    const spec = (svc.spec ?? {}) as ServiceSpec;
    if (!spec.clusterIP || spec.clusterIP === 'None' || spec.type === 'ExternalName') continue;
    const subsets = ((byKey.get(`${svc.metadata.namespace}/${svc.metadata.name}`) as { subsets?: EndpointsSubset[] } | undefined)?.subsets ??
      []) as EndpointsSubset[];
    for (const p of spec.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP') as ServicePortRule['protocol'];
      const targets: Array<{ ip: string; port: number }> = [];
      for (const s of subsets) {
        const ep = (s.ports ?? []).find((q) => (q.name ?? '') === (p.name ?? '') && (q.protocol ?? 'TCP') === protocol);
        if (!ep) continue;
        for (const a of s.addresses ?? []) targets.push({ ip: a.ip, port: ep.port });
      }
      rules.push({
        name: `${svc.metadata.namespace}/${svc.metadata.name}:${p.name || p.port}`,
        clusterIP: spec.clusterIP,
        port: p.port,
        protocol,
        endpoints: targets,
      });
    }
  }
  return rules.sort((a, b) => a.name.localeCompare(b.name));
}
