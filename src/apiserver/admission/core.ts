// kube-apiserver's built-in validation for Services, Pods and Namespaces
// (pkg/apis/core/validation), with its field paths and messages.

import { child, type FieldError, fieldError, index } from './field-errors.js';
import { validateFinalizerName } from './meta.js';
import {
  invalidEach,
  isDNS1123Subdomain,
  isIPv6,
  isValidIP,
  isValidPortName,
  isValidPortNum,
  validateDNS1123Label,
  validateLabels,
  validatePortNumOrName,
  validIPMessage,
} from './names.js';
import type { AdmissionContext, KubeObject } from './types.js';
import { arr, deepEqual, diffPaths, has, isObj, obj, str } from './util.js';

export const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
export const PORT_PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

const notIn = (v: unknown, allowed: string[]) => typeof v === 'string' && !allowed.includes(v);

/** Protocol is required (defaults fill it) and must be TCP, UDP or SCTP. */
export function validateProtocol(p: unknown, path: string): FieldError[] {
  if (p === undefined || p === null || p === '') return [fieldError.required(path)];
  return notIn(p, PORT_PROTOCOLS) ? [fieldError.notSupported(path, p, PORT_PROTOCOLS)] : [];
}

// ---------------------------------------------------------------- Service

export function validateService(svc: KubeObject, ctx: AdmissionContext): FieldError[] {
  const errs: FieldError[] = [];
  const spec = obj(svc.spec);
  const type = str(spec.type) || 'ClusterIP';
  if (notIn(spec.type, SERVICE_TYPES)) errs.push(fieldError.notSupported('spec.type', spec.type, SERVICE_TYPES));
  const clusterIP = str(spec.clusterIP);
  const clusterIPs = arr(spec.clusterIPs).map(str);
  const headless = clusterIP === 'None' || clusterIPs[0] === 'None';
  const ports = arr(spec.ports);

  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(fieldError.required('spec.ports'));
  if (type === 'ExternalName') {
    if (clusterIP || clusterIPs.length > 0) {
      errs.push(fieldError.forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    }
    const cname = str(spec.externalName).replace(/\.$/, '');
    if (!cname) errs.push(fieldError.required('spec.externalName'));
    else errs.push(...invalidEach('spec.externalName', cname, isDNS1123Subdomain(cname)));
  }

  const names = new Set<string>();
  const seen = new Set<string>();
  ports.forEach((raw, i) => {
    const p = obj(raw);
    const path = index('spec.ports', i);
    const name = str(p.name);
    if (ports.length > 1 && !name) {
      errs.push(fieldError.required(child(path, 'name')));
    } else if (name) {
      errs.push(...validateDNS1123Label(name, child(path, 'name')));
      if (names.has(name)) errs.push(fieldError.duplicate(child(path, 'name'), name));
      names.add(name);
    }
    errs.push(...invalidEach(child(path, 'port'), p.port, isValidPortNum(p.port)));
    errs.push(...validateProtocol(p.protocol, child(path, 'protocol')));
    if (has(p, 'targetPort')) errs.push(...validatePortNumOrName(p.targetPort, child(path, 'targetPort')));
    if (has(p, 'nodePort') && p.nodePort !== 0) {
      if (type === 'ClusterIP' || type === 'ExternalName') {
        errs.push(fieldError.forbidden(child(path, 'nodePort'), `may not be used when \`type\` is '${type}'`));
      } else {
        errs.push(...invalidEach(child(path, 'nodePort'), p.nodePort, isValidPortNum(p.nodePort)));
      }
    }
    const k = `${String(p.protocol)}/${String(p.port)}`;
    if (seen.has(k)) errs.push(fieldError.duplicate(path, { port: p.port, protocol: p.protocol }));
    seen.add(k);
  });

  if (type !== 'ExternalName') errs.push(...validateClusterIPs(spec, clusterIP, clusterIPs));
  errs.push(...validateLabels(spec.selector, 'spec.selector'));
  if (notIn(spec.sessionAffinity, ['ClientIP', 'None'])) {
    errs.push(fieldError.notSupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
  }
  if (notIn(spec.internalTrafficPolicy, ['Cluster', 'Local'])) {
    errs.push(fieldError.notSupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (has(spec, 'externalTrafficPolicy')) {
    if (type !== 'NodePort' && type !== 'LoadBalancer') {
      errs.push(fieldError.invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
    } else if (notIn(spec.externalTrafficPolicy, ['Cluster', 'Local'])) {
      errs.push(fieldError.notSupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']));
    }
  }
  const policies = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
  if (notIn(spec.ipFamilyPolicy, policies)) errs.push(fieldError.notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, policies));
  arr(spec.ipFamilies).forEach((f, i) => {
    if (notIn(f, ['IPv4', 'IPv6'])) errs.push(fieldError.notSupported(index('spec.ipFamilies', i), f, ['IPv4', 'IPv6']));
  });

  if (ctx.operation === 'UPDATE' && ctx.oldObject) errs.push(...validateServiceUpdate(svc, ctx.oldObject));
  return errs;
}

function validateClusterIPs(spec: Record<string, unknown>, clusterIP: string, clusterIPs: string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (clusterIP && clusterIPs.length > 0 && clusterIPs[0] !== clusterIP) {
    errs.push(fieldError.invalid('spec.clusterIPs', clusterIPs, 'first value must match `clusterIP`'));
  }
  const ips = clusterIPs.length > 0 ? clusterIPs : clusterIP ? [clusterIP] : [];
  const families = arr(spec.ipFamilies).map(str);
  ips.forEach((ip, i) => {
    const path = index('spec.clusterIPs', i);
    if (ip === 'None') {
      if (i > 0 || ips.length > 1) errs.push(fieldError.invalid(path, ip, 'must not have more than one value when the first is `None`'));
      return;
    }
    if (!isValidIP(ip)) {
      errs.push(fieldError.invalid(path, ip, validIPMessage));
      return;
    }
    const family = families[i] ?? (i === 0 ? 'IPv4' : '');
    if (family === 'IPv4' && isIPv6(ip)) {
      errs.push(fieldError.invalid(path, ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
    } else if (family === 'IPv6' && !isIPv6(ip)) {
      errs.push(fieldError.invalid(path, ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    }
  });
  return errs;
}

const clusterIPsOf = (spec: Record<string, unknown>) => {
  const ips = arr(spec.clusterIPs).map(str);
  if (ips.length > 0) return ips;
  return str(spec.clusterIP) ? [str(spec.clusterIP)] : [];
};

/**
 * kube's validateUpgradeDowngradeClusterIPs: once set, a cluster IP may not change. An update
 * that leaves it out keeps the allocated one (the server carries it over), so only a different
 * value is an error.
 */
function validateServiceUpdate(svc: KubeObject, old: KubeObject): FieldError[] {
  const spec = obj(svc.spec);
  const oldSpec = obj(old.spec);
  if (spec.type === 'ExternalName' || oldSpec.type === 'ExternalName') return [];
  const now = clusterIPsOf(spec);
  const before = clusterIPsOf(oldSpec);
  if (now.length === 0 || before.length === 0) return [];
  if (now[0] === 'None' && before[0] === 'None') return [];
  const errs: FieldError[] = [];
  before.forEach((ip, i) => {
    if (i < now.length && now[i] !== ip) errs.push(fieldError.invalid(index('spec.clusterIPs', i), now, 'may not change once set'));
  });
  return errs;
}

// ---------------------------------------------------------------- Pod

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];

function validateContainer(c: Record<string, unknown>, path: string, names: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(c.name);
  if (!name) {
    errs.push(fieldError.required(child(path, 'name')));
  } else {
    errs.push(...validateDNS1123Label(name, child(path, 'name')));
    if (names.has(name)) errs.push(fieldError.duplicate(child(path, 'name'), name));
    names.add(name);
  }
  if (!str(c.image)) errs.push(fieldError.required(child(path, 'image')));
  if (notIn(c.imagePullPolicy, PULL_POLICIES)) {
    errs.push(fieldError.notSupported(child(path, 'imagePullPolicy'), c.imagePullPolicy, PULL_POLICIES));
  }
  const portNames = new Set<string>();
  arr(c.ports).forEach((raw, i) => {
    const p = obj(raw);
    const pp = index(child(path, 'ports'), i);
    const pname = str(p.name);
    if (pname) {
      const msgs = isValidPortName(pname);
      if (msgs.length > 0) errs.push(...invalidEach(child(pp, 'name'), pname, msgs));
      else if (portNames.has(pname)) errs.push(fieldError.duplicate(child(pp, 'name'), pname));
      portNames.add(pname);
    }
    if (!has(p, 'containerPort') || p.containerPort === 0) errs.push(fieldError.required(child(pp, 'containerPort')));
    else errs.push(...invalidEach(child(pp, 'containerPort'), p.containerPort, isValidPortNum(p.containerPort)));
    if (has(p, 'hostPort') && p.hostPort !== 0) errs.push(...invalidEach(child(pp, 'hostPort'), p.hostPort, isValidPortNum(p.hostPort)));
    errs.push(...validateProtocol(p.protocol, child(pp, 'protocol')));
  });
  return errs;
}

export function validatePod(pod: KubeObject, ctx: AdmissionContext): FieldError[] {
  const errs: FieldError[] = [];
  const spec = obj(pod.spec);
  const names = new Set<string>();
  const containers = arr(spec.containers);
  if (containers.length === 0) errs.push(fieldError.required('spec.containers'));
  containers.forEach((c, i) => {
    errs.push(...validateContainer(obj(c), index('spec.containers', i), names));
  });
  arr(spec.initContainers).forEach((c, i) => {
    errs.push(...validateContainer(obj(c), index('spec.initContainers', i), names));
  });
  if (!has(spec, 'restartPolicy')) errs.push(fieldError.required('spec.restartPolicy'));
  else if (notIn(spec.restartPolicy, RESTART_POLICIES)) {
    errs.push(fieldError.notSupported('spec.restartPolicy', spec.restartPolicy, RESTART_POLICIES));
  }
  if (notIn(spec.dnsPolicy, DNS_POLICIES)) errs.push(fieldError.notSupported('spec.dnsPolicy', spec.dnsPolicy, DNS_POLICIES));
  if (ctx.operation === 'UPDATE' && ctx.oldObject) errs.push(...validatePodUpdate(spec, obj(ctx.oldObject.spec)));
  return errs;
}

export const POD_UPDATE_MESSAGE =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** kube's ValidatePodUpdate for spec: only images, activeDeadlineSeconds, added tolerations and a negative grace period may change. */
function validatePodUpdate(spec: Record<string, unknown>, oldSpec: Record<string, unknown>): FieldError[] {
  const munged: Record<string, unknown> = structuredClone(spec);
  for (const list of ['containers', 'initContainers']) {
    const now = arr(munged[list]);
    const before = arr(oldSpec[list]);
    if (now.length !== before.length) continue;
    now.forEach((c, i) => {
      if (isObj(c) && isObj(before[i])) c.image = (before[i] as Record<string, unknown>).image;
    });
  }
  const ads = munged.activeDeadlineSeconds;
  if (typeof ads === 'number' && ads > 0) {
    const old = oldSpec.activeDeadlineSeconds;
    if (old === undefined || old === null || (typeof old === 'number' && ads <= old)) munged.activeDeadlineSeconds = old;
  }
  const tolNow = arr(munged.tolerations);
  const tolBefore = arr(oldSpec.tolerations);
  if (tolBefore.every((t) => tolNow.some((n) => deepEqual(n, t)))) munged.tolerations = oldSpec.tolerations;
  const oldGrace = oldSpec.terminationGracePeriodSeconds;
  if (typeof oldGrace === 'number' && oldGrace < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = oldGrace;
  }
  // Binding a pod to a node (setting spec.nodeName once) is not a forbidden update.
  if (!has(munged, 'nodeName') || !has(oldSpec, 'nodeName')) munged.nodeName = oldSpec.nodeName;
  if (deepEqual(munged, oldSpec)) return [];
  const changed = diffPaths(oldSpec, munged, 'spec');
  return [fieldError.forbidden('spec', `${POD_UPDATE_MESSAGE}\n  changed: ${changed.join(', ')}`)];
}

// ---------------------------------------------------------------- Namespace

export function validateNamespace(ns: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of arr(obj(ns.spec).finalizers)) {
    if (typeof f === 'string') errs.push(...validateFinalizerName(f, 'spec.finalizers'));
  }
  return errs;
}
