// Who is on the other end of a discovery connection: the node a proxy announces
// (Istio's id format sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local).

import type { ProxyNode } from '../proxy/config.js';
import { DOMAIN_SUFFIX, TRUST_DOMAIN } from './model.js';

export interface ProxyInfo {
  /** The node id as sent. */
  id: string;
  ip: string;
  podName: string;
  namespace: string;
  /** pod.namespace: how proxy-status and config_dump name a proxy. */
  name: string;
  node: ProxyNode;
}

/** Splits an Istio node id; undefined when it is not one. */
export function parseProxyId(id: string): { type: string; ip: string; podName: string; namespace: string } | undefined {
  const parts = id.split('~');
  if (parts.length !== 4 || !parts[0] || !parts[1] || !parts[2] || !parts[3]) return undefined;
  const [type, ip, podAndNs, domain] = parts;
  // The namespace is the DNS domain's first label; the pod name is what precedes ".<namespace>".
  const namespace = domain.split('.')[0];
  const podName = podAndNs.endsWith(`.${namespace}`) ? podAndNs.slice(0, -(namespace.length + 1)) : podAndNs;
  return { type, ip, podName, namespace };
}

export function proxyInfo(node: ProxyNode): ProxyInfo | undefined {
  if (typeof node?.id !== 'string') return undefined;
  const parsed = parseProxyId(node.id);
  if (!parsed) return undefined;
  return { id: node.id, ip: parsed.ip, podName: parsed.podName, namespace: parsed.namespace, name: `${parsed.podName}.${parsed.namespace}`, node };
}

/** The node a sidecar of this pod announces (for simulated proxies and tests). */
export function sidecarNode(p: {
  podName: string;
  namespace: string;
  ip: string;
  istioVersion?: string;
  podPorts?: number[];
  workload?: string;
  cluster?: string;
}): ProxyNode {
  const cluster = p.cluster ?? 'Kubernetes';
  return {
    id: `sidecar~${p.ip}~${p.podName}.${p.namespace}~${p.namespace}.${DOMAIN_SUFFIX}`,
    cluster,
    metadata: {
      workload: p.workload ?? p.podName,
      namespace: p.namespace,
      canonicalService: p.workload ?? p.podName,
      canonicalRevision: 'latest',
      app: '',
      version: '',
      serviceAccount: 'default',
      principal: `spiffe://${TRUST_DOMAIN}/ns/${p.namespace}/sa/default`,
      cluster,
      podName: p.podName,
      ip: p.ip,
      istioVersion: p.istioVersion ?? '1.10.0',
      ...(p.podPorts ? { podPorts: p.podPorts } : {}),
    },
  };
}
