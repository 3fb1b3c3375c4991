// Outbound listeners and routes, named and shaped as Istio's sidecar config:
//   - virtualOutbound (0.0.0.0:15001) takes every captured connection and hands it to
//     the listener of its original destination, else PassthroughCluster (BlackHoleCluster
//     under REGISTRY_ONLY), through route config allow_any (block_all) when it sniffs HTTP;
//   - <clusterIP>_<port> per service port: auto-detected ports get an HTTP chain (routes
//     "<host>:<port>") and a TCP chain to the cluster; TCP ports only the TCP chain;
//   - 0.0.0.0_<port> for HTTP-named ports and services without an address, routed by Host
//     header through route config "<port>", with the allow_any (or block_all) catch-all.

import type { FilterChain, Listener, RouteConfiguration, VirtualHost } from '../proxy/config.js';
import { BLACKHOLE_CLUSTER, outboundClusterName, PASSTHROUGH_CLUSTER } from './clusters.js';
import type { OutboundScope, PushContext, ServiceModel, ServicePortModel } from './push-context.js';
import { defaultRoute, virtualServiceRoutes, virtualServiceTcpCluster } from './virtual-service.js';

export const VIRTUAL_OUTBOUND = 'virtualOutbound';
export const VIRTUAL_OUTBOUND_PORT = 15001;
/** What protocol sniffing recognises as plaintext HTTP (istioctl shows it as "App: HTTP"). */
export const HTTP_ALPNS = ['http/1.0', 'http/1.1', 'h2c'];

/** The catch-all for hosts the mesh does not know: to the original destination, or refused under REGISTRY_ONLY. */
function catchAllVirtualHost(scope: OutboundScope): VirtualHost {
  if (scope.mode === 'REGISTRY_ONLY') {
    return { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }] };
  }
  return { name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER } }] };
}

const fallbackCluster = (scope: OutboundScope) => (scope.mode === 'REGISTRY_ONLY' ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER);

/**
 * The Host header values a service answers from a proxy's namespace, as Istio lists
 * them: the full name, the short name (same namespace only), name.ns.svc, name.ns, and
 * its addresses, each also with ":port".
 */
export function virtualHostDomains(svc: ServiceModel, port: number, fromNamespace: string): string[] {
  const names = [svc.host];
  if (svc.origin === 'Kubernetes') {
    if (svc.namespace === fromNamespace) names.push(svc.name);
    names.push(`${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}`);
  }
  names.push(...svc.addresses);
  return names.flatMap((n) => [n, `${n}:${port}`]);
}

function serviceRoutes(ctx: PushContext, scope: OutboundScope, svc: ServiceModel, port: ServicePortModel) {
  const vs = ctx.virtualService(scope.namespace, svc.host);
  return vs ? virtualServiceRoutes(ctx, vs, port.port) : [defaultRoute(outboundClusterName(port.port, '', svc.host))];
}

function tcpCluster(ctx: PushContext, scope: OutboundScope, svc: ServiceModel, port: ServicePortModel): string {
  const vs = ctx.virtualService(scope.namespace, svc.host);
  return (vs && virtualServiceTcpCluster(ctx, vs, port.port)) || outboundClusterName(port.port, '', svc.host);
}

export interface OutboundListenersAndRoutes {
  listeners: Listener[];
  routes: RouteConfiguration[];
}

export function outboundListenersAndRoutes(ctx: PushContext, scope: OutboundScope): OutboundListenersAndRoutes {
  const listeners = new Map<string, Listener>();
  const routes: RouteConfiguration[] = [];
  /** Services routed by Host header per port ("<port>" route configs); sniffed services join them. */
  const byPort = new Map<number, Array<{ svc: ServiceModel; port: ServicePortModel }>>();
  const sniffed = new Map<number, Array<{ svc: ServiceModel; port: ServicePortModel }>>();
  const tcpWildcards = new Map<number, { svc: ServiceModel; port: ServicePortModel }>();
  const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => m.set(k, [...(m.get(k) ?? []), v]);

  for (const svc of scope.services) {
    for (const port of svc.ports) {
      if (port.protocol === 'http' || (svc.addresses.length === 0 && port.protocol === 'auto')) {
        push(byPort, port.port, { svc, port });
        continue;
      }
      if (svc.addresses.length === 0) {
        // A TCP port without an address takes the whole port, as in Istio (first service wins).
        if (!tcpWildcards.has(port.port)) tcpWildcards.set(port.port, { svc, port });
        continue;
      }
      const cluster = tcpCluster(ctx, scope, svc, port);
      for (const address of svc.addresses) {
        const name = `${address}_${port.port}`;
        if (listeners.has(name)) continue; // two entries claim one address: the first (oldest host order) keeps it
        const chains: FilterChain[] = [];
        if (port.protocol === 'auto') {
          const routeName = `${svc.host}:${port.port}`;
          chains.push({
            name: routeName,
            match: { transportProtocol: 'raw_buffer', applicationProtocols: HTTP_ALPNS },
            filter: { type: 'http', routeConfigName: routeName },
          });
        }
        chains.push({ name: cluster, filter: { type: 'tcp', cluster } });
        listeners.set(name, { name, address, port: port.port, trafficDirection: 'OUTBOUND', protocol: port.protocol, filterChains: chains });
      }
      if (port.protocol === 'auto') {
        push(sniffed, port.port, { svc, port });
        // The listener is for this service's address only: any Host header is this service.
        const routeName = `${svc.host}:${port.port}`;
        routes.push({ name: routeName, virtualHosts: [{ name: routeName, domains: ['*'], routes: serviceRoutes(ctx, scope, svc, port) }] });
      }
    }
  }

  for (const [portNumber, entries] of byPort) {
    const name = `0.0.0.0_${portNumber}`;
    const routeName = String(portNumber);
    listeners.set(name, {
      name,
      address: '0.0.0.0',
      port: portNumber,
      trafficDirection: 'OUTBOUND',
      protocol: 'auto',
      filterChains: [
        { name: routeName, match: { transportProtocol: 'raw_buffer', applicationProtocols: HTTP_ALPNS }, filter: { type: 'http', routeConfigName: routeName } },
      ],
      defaultFilterChain: { name: fallbackCluster(scope), filter: { type: 'tcp', cluster: fallbackCluster(scope) } },
    });
    const virtualHosts = [...entries, ...(sniffed.get(portNumber) ?? [])].map(({ svc, port }) => ({
      name: `${svc.host}:${port.port}`,
      domains: virtualHostDomains(svc, port.port, scope.namespace),
      routes: serviceRoutes(ctx, scope, svc, port),
    }));
    routes.push({ name: routeName, virtualHosts: [...virtualHosts, catchAllVirtualHost(scope)] });
  }
  for (const [portNumber, { svc, port }] of tcpWildcards) {
    const name = `0.0.0.0_${portNumber}`;
    if (listeners.has(name)) continue; // HTTP services on the port keep it
    const cluster = tcpCluster(ctx, scope, svc, port);
    listeners.set(name, {
      name,
      address: '0.0.0.0',
      port: portNumber,
      trafficDirection: 'OUTBOUND',
      protocol: 'tcp',
      filterChains: [{ name: cluster, filter: { type: 'tcp', cluster } }],
    });
  }

  // Plain HTTP to a destination no listener knows is sniffed and routed as requests (so they are counted
  // as requests to PassthroughCluster, as Istio counts them on ports where some mesh service speaks HTTP).
  const catchAll = catchAllVirtualHost(scope);
  routes.push({ name: catchAll.name, virtualHosts: [catchAll] });
  const virtualOutbound: Listener = {
    name: VIRTUAL_OUTBOUND,
    address: '0.0.0.0',
    port: VIRTUAL_OUTBOUND_PORT,
    trafficDirection: 'OUTBOUND',
    useOriginalDst: true,
    protocol: 'auto',
    filterChains: [
      {
        name: `${VIRTUAL_OUTBOUND}-http`,
        match: { transportProtocol: 'raw_buffer', applicationProtocols: HTTP_ALPNS },
        filter: { type: 'http', routeConfigName: catchAll.name },
      },
    ],
    defaultFilterChain: { name: fallbackCluster(scope), filter: { type: 'tcp', cluster: fallbackCluster(scope) } },
  };
  const sorted = [...listeners.values()].sort((a, b) => a.port - b.port || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  routes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { listeners: [virtualOutbound, ...sorted], routes };
}
