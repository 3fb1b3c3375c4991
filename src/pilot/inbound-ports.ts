// The ports a proxy's workload serves, as Istio finds them: the pod's container ports
// and the target ports of the Services selecting the pod, each with the protocol its
// Service port declares (auto-detection otherwise).

import type { Protocol, ServiceRef } from '../proxy/config.js';
import { type Pod, PROXY_CONTAINER, selects } from './model.js';
import type { ProxyInfo } from './proxy-node.js';
import type { PushContext } from './push-context.js';

export interface InboundPort {
  port: number;
  protocol: Protocol;
  /** The first Service (by name) that leads to this port, if any. */
  service?: ServiceRef;
}

/** The sidecar's own ports: never the workload's, even when a Service targets them. */
const PROXY_PORTS = new Set([15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090]);

function containerPorts(pod: Pod) {
  return (pod.spec?.containers ?? []).filter((c) => c.name !== PROXY_CONTAINER).flatMap((c) => c.ports ?? []);
}

export function inboundPorts(ctx: PushContext, proxy: ProxyInfo): InboundPort[] {
  const pod = ctx.pod(proxy.namespace, proxy.podName);
  const ports = new Map<number, InboundPort>();
  const add = (port: number | undefined, protocol: Protocol, service?: ServiceRef) => {
    if (port === undefined || !Number.isInteger(port) || port <= 0 || PROXY_PORTS.has(port)) return;
    const prev = ports.get(port);
    if (!prev) ports.set(port, { port, protocol, ...(service ? { service } : {}) });
    else {
      // A declared protocol beats auto-detection; the first service found names the port.
      if (prev.protocol === 'auto' && protocol !== 'auto') prev.protocol = protocol;
      if (!prev.service && service) prev.service = service;
    }
  };
  if (pod) {
    const cports = containerPorts(pod);
    const services = ctx.services.filter(
      (s) =>
        s.origin === 'Kubernetes' &&
        s.namespace === proxy.namespace &&
        s.selector &&
        Object.keys(s.selector).length > 0 &&
        selects(s.selector, pod.metadata?.labels),
    );
    for (const svc of [...services].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      for (const sp of svc.ports) {
        const target = sp.targetPort ?? sp.port;
        const port = typeof target === 'number' ? target : cports.find((c) => c.name === target)?.containerPort;
        add(port, sp.protocol, svc.ref);
      }
    }
    for (const c of cports) if ((c.protocol ?? 'TCP').toUpperCase() === 'TCP') add(c.containerPort, 'auto');
  } else {
    // Pod not (yet) in the cache: the ports the proxy announced for its workload.
    for (const p of proxy.node.metadata?.podPorts ?? []) add(p, 'auto');
  }
  return [...ports.values()].sort((a, b) => a.port - b.port);
}
