// Istio's sidecar injector (a mutating webhook on pod creation): a pod in a
// namespace labelled istio-injection=enabled (or istio.io/rev=default) that does not
// opt out, or a pod labelled sidecar.istio.io/inject=true in a namespace that does
// not disable injection, gets the istio-proxy container, the istio-validation init
// container, the istio-cni network (Multus), Istio's labels and annotations, and its
// HTTP/TCP probes rewritten to the sidecar's agent port, as Istio renders its
// injection template.

import { findByKind, splitApiVersion } from '../resources.js';

/** The version the injected proxy reports (proxy-status's VERSION column). */
export const PROXY_VERSION = '1.24.2';
export const PROXY_IMAGE = `docker.io/istio/proxyv2:${PROXY_VERSION}`;
export const PROXY_UID = 1337;
/** Where the sidecar finds the control plane: istiod's Service, through the pod's DNS. */
export const DISCOVERY_ADDRESS = 'istiod.istio-system.svc:15010';
export const AGENT_PORT = 15020;

type Obj = Record<string, any>;

const INJECT = 'sidecar.istio.io/inject';

/** Istio reads the inject label and annotation as a boolean the way Go's strconv.ParseBool and its own "y/yes/on" do. */
function parseInject(v: unknown): boolean | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.toLowerCase();
  if (['true', 't', '1', 'y', 'yes', 'on'].includes(t)) return true;
  if (['false', 'f', '0', 'n', 'no', 'off'].includes(t)) return false;
  return undefined;
}

/**
 * Istio's default webhooks and policy: a namespace selected by istio-injection=enabled or
 * istio.io/rev=default injects every pod but those that opt out (label or annotation "false");
 * a pod labelled sidecar.istio.io/inject=true is injected in any namespace not labelled disabled.
 */
export function wantsSidecar(pod: Obj, namespace: Obj | undefined): boolean {
  if (!Array.isArray(pod.spec?.containers)) return false; // validation rejects it next
  if (pod.spec.hostNetwork) return false;
  if (pod.metadata?.annotations?.['sidecar.istio.io/status']) return false; // injected already
  const nsLabels = namespace?.metadata?.labels ?? {};
  if (nsLabels['istio-injection'] === 'disabled') return false;
  const label = parseInject(pod.metadata?.labels?.[INJECT]);
  const annotation = parseInject(pod.metadata?.annotations?.[INJECT]);
  const nsSelected = nsLabels['istio-injection'] === 'enabled' || (nsLabels['istio-injection'] === undefined && nsLabels['istio.io/rev'] === 'default');
  if (nsSelected) return (label ?? annotation) !== false;
  return label === true && nsLabels['istio.io/rev'] === undefined;
}

/** The workload a pod belongs to, as Istio derives it: its controller's name (a launcher pod's VMI), else the pod's name. */
function workloadOf(pod: Obj): { name: string; owner?: string } {
  const ref = (pod.metadata?.ownerReferences ?? []).find((r: Obj) => r.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!ref) return { name: pod.metadata?.name ?? '' };
  const { group, version } = splitApiVersion(String(ref.apiVersion));
  const api = group ? `apis/${group}/${version}` : `api/${version}`;
  const plural = findByKind(group, String(ref.kind))?.plural ?? `${String(ref.kind).toLowerCase()}s`;
  return { name: ref.name, owner: `kubernetes://${api}/namespaces/${pod.metadata.namespace}/${plural}/${ref.name}` };
}

/** The probe the sidecar's agent runs for the kubelet, and the kubelet's new probe pointing at the agent. */
function rewriteProbe(probe: Obj | undefined, container: string, kind: 'readyz' | 'livez', probers: Obj): Obj | undefined {
  if (!probe || !(probe.httpGet || probe.tcpSocket)) return probe;
  const path = `/app-health/${container}/${kind}`;
  const original = probe.httpGet ? { httpGet: { ...probe.httpGet } } : { tcpSocket: { ...probe.tcpSocket } };
  if (probe.httpGet) original.httpGet.scheme ??= 'HTTP';
  probers[path] = { ...original, ...(probe.timeoutSeconds ? { timeoutSeconds: probe.timeoutSeconds } : {}) };
  const { httpGet: _h, tcpSocket: _t, ...timing } = probe;
  return { ...timing, httpGet: { path, port: AGENT_PORT, scheme: 'HTTP' } };
}

/** Resolves named probe ports to numbers, as the injector does before handing them to the agent. */
function resolvePort(port: unknown, container: Obj): unknown {
  if (typeof port !== 'string') return port;
  return (container.ports ?? []).find((p: Obj) => p.name === port)?.containerPort ?? port;
}

/** Adds istio-cni to the Multus networks annotation (comma list or JSON list), once. */
function withIstioCni(networks: string | undefined): string {
  if (!networks?.trim()) return 'istio-cni';
  const t = networks.trim();
  if (t.startsWith('[')) {
    try {
      const list = JSON.parse(t) as Obj[];
      if (!list.some((n) => n.name === 'istio-cni')) list.push({ name: 'istio-cni' });
      return JSON.stringify(list);
    } catch {
      return t;
    }
  }
  return t.split(',').some((n) => n.trim() === 'istio-cni') ? t : `${t}, istio-cni`;
}

/** The pod with the sidecar injected (a new object; the input is not changed). */
export function injectSidecar(input: Obj): Obj {
  const pod = structuredClone(input);
  const meta = pod.metadata;
  const spec = pod.spec;
  const workload = workloadOf(pod);
  meta.labels ??= {};
  const labels = meta.labels;
  const canonicalName = labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? workload.name;
  const canonicalRevision = labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest';
  labels['security.istio.io/tlsMode'] = 'istio';
  labels['service.istio.io/canonical-name'] = canonicalName;
  labels['service.istio.io/canonical-revision'] = canonicalRevision;

  const probers: Obj = {};
  const appContainers: string[] = [];
  const podPorts: Obj[] = [];
  for (const c of spec.containers ?? []) {
    appContainers.push(c.name);
    for (const p of c.ports ?? []) podPorts.push({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, protocol: p.protocol ?? 'TCP' });
    for (const [field, kind] of [
      ['readinessProbe', 'readyz'],
      ['livenessProbe', 'livez'],
      ['startupProbe', 'startupz'],
    ] as const) {
      if (!c[field]) continue;
      const probe = structuredClone(c[field]);
      if (probe.httpGet) probe.httpGet.port = resolvePort(probe.httpGet.port, c);
      if (probe.tcpSocket) probe.tcpSocket.port = resolvePort(probe.tcpSocket.port, c);
      c[field] = rewriteProbe(probe, c.name, kind as 'readyz' | 'livez', probers);
    }
  }

  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  const env: Obj[] = [
    { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
    { name: 'CA_ADDR', value: 'istiod.istio-system.svc:15012' },
    { name: 'PILOT_ADDRESS', value: DISCOVERY_ADDRESS },
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('INSTANCE_IP', 'status.podIP'),
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldEnv('HOST_IP', 'status.hostIP'),
    fieldEnv('ISTIO_META_NODE_NAME', 'spec.nodeName'),
    { name: 'PROXY_CONFIG', value: JSON.stringify({ discoveryAddress: DISCOVERY_ADDRESS }) },
    { name: 'ISTIO_META_POD_PORTS', value: JSON.stringify(podPorts) },
    { name: 'ISTIO_META_APP_CONTAINERS', value: appContainers.join(',') },
    { name: 'ISTIO_META_CLUSTER_ID', value: 'Kubernetes' },
    { name: 'ISTIO_META_INTERCEPTION_MODE', value: 'REDIRECT' },
    { name: 'ISTIO_META_WORKLOAD_NAME', value: workload.name },
    ...(workload.owner ? [{ name: 'ISTIO_META_OWNER', value: workload.owner }] : []),
    { name: 'ISTIO_META_MESH_ID', value: 'cluster.local' },
    { name: 'TRUST_DOMAIN', value: 'cluster.local' },
    { name: 'ISTIO_VERSION', value: PROXY_VERSION },
    ...(Object.keys(probers).length ? [{ name: 'ISTIO_KUBE_APP_PROBERS', value: JSON.stringify(probers) }] : []),
  ];
  const securityContext = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: PROXY_UID,
    runAsNonRoot: true,
    runAsUser: PROXY_UID,
  };
  spec.containers.push({
    name: 'istio-proxy',
    image: PROXY_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    args: ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local', '--proxyLogLevel=warning', '--log_output_level=default:info'],
    env,
    ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }],
    readinessProbe: {
      httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' },
      initialDelaySeconds: 1,
      periodSeconds: 2,
      timeoutSeconds: 3,
      failureThreshold: 30,
    },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    securityContext,
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  });
  // With istio-cni the rules come from the CNI plugin; this init container only checks they are in place.
  // First among the init containers, as Istio orders it: nothing of the pod's runs before the capture is checked.
  spec.initContainers ??= [];
  spec.initContainers.unshift({
    name: 'istio-validation',
    image: PROXY_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    args: [
      'istio-iptables',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      String(PROXY_UID),
      '-m',
      'REDIRECT',
      '-i',
      '*',
      '-x',
      '',
      '-b',
      '*',
      '-d',
      '15090,15021,15020',
      '--run-validation',
      '--skip-rule-apply',
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    securityContext,
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  });

  meta.annotations ??= {};
  const annotations = meta.annotations;
  annotations['k8s.v1.cni.cncf.io/networks'] = withIstioCni(annotations['k8s.v1.cni.cncf.io/networks']);
  annotations['istio.io/rev'] = 'default';
  annotations['kubectl.kubernetes.io/default-container'] ??= appContainers[0];
  annotations['kubectl.kubernetes.io/default-logs-container'] ??= appContainers[0];
  annotations['prometheus.io/path'] = '/stats/prometheus';
  annotations['prometheus.io/port'] = String(AGENT_PORT);
  annotations['prometheus.io/scrape'] = 'true';
  annotations['sidecar.istio.io/interceptionMode'] = 'REDIRECT';
  annotations['traffic.sidecar.istio.io/excludeInboundPorts'] ??= String(AGENT_PORT);
  annotations['traffic.sidecar.istio.io/includeInboundPorts'] ??= '*';
  annotations['traffic.sidecar.istio.io/includeOutboundIPRanges'] ??= '*';
  annotations['sidecar.istio.io/status'] = JSON.stringify({
    initContainers: ['istio-validation'],
    containers: ['istio-proxy'],
    volumes: [],
    imagePullSecrets: null,
    revision: 'default',
  });
  return pod;
}
