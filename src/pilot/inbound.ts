// Inbound config of one proxy, as Istio's sidecar has it: virtualInbound (0.0.0.0:15006)
// with filter chains per port the workload serves (HTTP through route config
// "inbound|<port>||", TCP straight to cluster "inbound|<port>||", both when the protocol is
// auto-detected) and InboundPassthroughCluster for any other port.

import type { FilterChain, Listener, RouteConfiguration } from '../proxy/config.js';
import { INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName } from './clusters.js';
import type { InboundPort } from './inbound-ports.js';
import { HTTP_ALPNS } from './outbound.js';

export const VIRTUAL_INBOUND = 'virtualInbound';
export const VIRTUAL_INBOUND_PORT = 15006;

function chains(p: InboundPort): FilterChain[] {
  const name = `0.0.0.0_${p.port}`;
  const cluster = inboundClusterName(p.port);
  const http: FilterChain['filter'] = { type: 'http', routeConfigName: cluster };
  const tcp: FilterChain['filter'] = { type: 'tcp', cluster };
  if (p.protocol === 'http') return [{ name, match: { destinationPort: p.port }, filter: http }];
  if (p.protocol === 'tcp') return [{ name, match: { destinationPort: p.port }, filter: tcp }];
  return [
    { name, match: { destinationPort: p.port, transportProtocol: 'raw_buffer', applicationProtocols: HTTP_ALPNS }, filter: http },
    { name, match: { destinationPort: p.port }, filter: tcp },
  ];
}

export function virtualInboundListener(ports: InboundPort[]): Listener {
  return {
    name: VIRTUAL_INBOUND,
    address: '0.0.0.0',
    port: VIRTUAL_INBOUND_PORT,
    trafficDirection: 'INBOUND',
    useOriginalDst: true,
    protocol: 'auto',
    filterChains: ports.flatMap(chains),
    defaultFilterChain: { name: INBOUND_PASSTHROUGH_CLUSTER, filter: { type: 'tcp', cluster: INBOUND_PASSTHROUGH_CLUSTER } },
  };
}

/** One route config per HTTP (or auto-detected) port: everything to the workload, no retries (the caller's sidecar retries). */
export function inboundRoutes(ports: InboundPort[]): RouteConfiguration[] {
  return ports
    .filter((p) => p.protocol !== 'tcp')
    .map((p) => ({
      name: inboundClusterName(p.port),
      virtualHosts: [
        {
          name: `inbound|http|${p.port}`,
          domains: ['*'],
          routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: inboundClusterName(p.port) } }],
        },
      ],
    }));
}
