// Endpoints (EDS): a ClusterLoadAssignment per EDS cluster, from the EndpointSlices
// (or ServiceEntry endpoints) of its service, narrowed to a subset's labels for subset
// clusters.

import type { ClusterLoadAssignment } from '../proxy/config.js';
import { outboundClusterName } from './clusters.js';
import { selects } from './model.js';
import type { OutboundScope, PushContext } from './push-context.js';

export function outboundEndpoints(ctx: PushContext, scope: OutboundScope): ClusterLoadAssignment[] {
  const out: ClusterLoadAssignment[] = [];
  for (const svc of scope.services) {
    if (svc.discovery !== 'EDS') continue;
    const subsets = ctx.destinationRule(scope.namespace, svc.host)?.spec?.subsets ?? [];
    for (const port of svc.ports) {
      const all = ctx.endpoints(svc.host, port.port);
      out.push({ clusterName: outboundClusterName(port.port, '', svc.host), endpoints: all.map((e) => e.endpoint) });
      for (const subset of subsets) {
        if (!subset.name) continue;
        out.push({
          clusterName: outboundClusterName(port.port, subset.name, svc.host),
          endpoints: all.filter((e) => selects(subset.labels, e.labels)).map((e) => e.endpoint),
        });
      }
    }
  }
  return out;
}
