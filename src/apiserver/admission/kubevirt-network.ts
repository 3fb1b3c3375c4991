// KubeVirt's network admission (pkg/network/admitter) for a VMI spec, with its messages,
// plus what virtmesh adds: the Istio mesh rule and the bindings virtmesh can run.

import { child, type FieldError, fieldError, index } from './field-errors.js';
import { isValidPortName } from './names.js';
import type { AdmissionContext, KubeObject } from './types.js';
import { arr, has, isObj, type Obj, obj, str } from './util.js';

export const BINDINGS = ['masquerade', 'bridge', 'sriov', 'slirp', 'macvtap', 'passt'] as const;
const MODELS = ['e1000', 'e1000e', 'ne2k_pci', 'pcnet', 'rtl8139', 'virtio'];

/** KubeVirt's user guide states the limitation in these words; virtmesh enforces it. */
export const ISTIO_MASQUERADE_ONLY = 'Istio is only supported with masquerade network binding and pod network over IPv4';

/** The binding methods set on an interface (`binding` is a network binding plugin). */
export function bindingsOf(iface: Obj): string[] {
  const found: string[] = BINDINGS.filter((b) => has(iface, b));
  if (has(iface, 'binding')) found.push('binding');
  return found;
}

/**
 * Whether the VMI will get an Istio sidecar: its namespace is labeled for injection
 * (`istio-injection=enabled`, or `istio.io/rev` without `istio-injection`), or the VMI
 * carries the `sidecar.istio.io/inject: "true"` label; and it is not opted out with
 * `sidecar.istio.io/inject: "false"` (label or annotation).
 */
export function isMeshed(ctx: AdmissionContext, namespace: string, meta: { labels?: unknown; annotations?: unknown }): boolean {
  const labels = obj(meta.labels);
  const annotations = obj(meta.annotations);
  if (labels['sidecar.istio.io/inject'] === 'false' || annotations['sidecar.istio.io/inject'] === 'false') return false;
  const ns: KubeObject | undefined = namespace ? ctx.get('', 'namespaces', undefined, namespace) : undefined;
  const nsLabels = obj(ns?.metadata?.labels);
  const injection = nsLabels['istio-injection'];
  if (injection === 'disabled') return false;
  if (injection === 'enabled') return true;
  if (injection === undefined && typeof nsLabels['istio.io/rev'] === 'string') return true;
  return labels['sidecar.istio.io/inject'] === 'true';
}

const inv = (field: string, value: unknown, msg: string) => fieldError.invalid(field, value, msg);
const isCIDR = (v: string, v6: boolean) => {
  const m = /^(.+)\/(\d{1,3})$/.exec(v);
  if (!m) return false;
  const ok = v6 ? /:/.test(m[1]) && isIPv6Like(m[1]) : /^(\d{1,3})(\.\d{1,3}){3}$/.test(m[1]) && m[1].split('.').every((o) => Number(o) < 256);
  return ok && Number(m[2]) <= (v6 ? 128 : 32);
};
const isIPv6Like = (v: string) => /^[0-9a-fA-F:.]+$/.test(v) && v.split('::').length <= 2;

export function validateNetworking(spec: Obj, p: string, meshed: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const networks = arr(spec.networks).map(obj);
  const ifacesPath = `${p}.domain.devices.interfaces`;
  const ifaces = arr(obj(obj(spec.domain).devices).interfaces).map(obj);
  const netByName = new Map<string, Obj>();
  const ifaceNames = new Set(ifaces.map((i) => str(i.name)));

  if (networks.filter((n) => has(n, 'pod')).length > 1) {
    errs.push(inv(`${p}.interfaces`, undefined, `more than one interface is connected to a pod network in ${p}.interfaces`));
  }
  networks.forEach((n, i) => {
    const path = index(`${p}.networks`, i);
    const name = str(n.name);
    const types = ['pod', 'multus'].filter((t) => has(n, t));
    if (types.length === 0) errs.push(fieldError.required(path, 'should have a network type'));
    else if (types.length > 1) errs.push(fieldError.required(path, 'should have only one network type'));
    if (has(n, 'multus') && !str(obj(n.multus).networkName)) {
      errs.push(fieldError.required(path, 'CNI delegating plugin must have a networkName'));
    }
    if (netByName.has(name)) {
      errs.push(inv(child(path, 'name'), name, `Network with name "${name}" already exists, every network must have a unique name`));
    } else netByName.set(name, n);
    if (!ifaceNames.has(name)) errs.push(fieldError.required(child(path, 'name'), `${p}.networks[${i}].name '${name}' not found.`));
    const pod = obj(n.pod);
    const v4 = str(pod.vmNetworkCIDR);
    const v6 = str(pod.vmIPv6NetworkCIDR);
    if (v4 && !isCIDR(v4, false)) errs.push(inv(`${path}.pod.vmNetworkCIDR`, v4, 'must be a valid IPv4 CIDR (e.g. 10.0.2.0/24)'));
    if (v6 && !isCIDR(v6, true)) errs.push(inv(`${path}.pod.vmIPv6NetworkCIDR`, v6, 'must be a valid IPv6 CIDR (e.g. fd10:0:2::/120)'));
    if (meshed && v6 && !v4) {
      errs.push(fieldError.forbidden(`${path}.pod.vmIPv6NetworkCIDR`, `${ISTIO_MASQUERADE_ONLY} (network "${name}" is configured for IPv6 only)`));
    }
  });

  const seen = new Set<string>();
  ifaces.forEach((iface, i) => {
    const path = index(ifacesPath, i);
    const name = str(iface.name);
    const net = netByName.get(name);
    const onPod = net !== undefined && has(net, 'pod');
    if (!/^[A-Za-z0-9-_]+$/.test(name)) {
      errs.push(inv(`${path}.name`, name, 'Network interface name can only contain alphabetical characters, numbers, dashes (-) or underscores (_)'));
    }
    if (seen.has(name)) errs.push(inv(`${path}.name`, name, 'Only one interface can be connected to one specific network'));
    seen.add(name);
    if (!net) errs.push(inv(`${path}.name`, name, `${path}.name '${name}' not found.`));

    const bindings = bindingsOf(iface);
    const methods = bindings.filter((b) => b !== 'binding');
    if (has(iface, 'binding') && methods.length > 0) {
      errs.push(inv(`${path}.binding`, name, `logical ${name} interface cannot have both binding plugin and interface binding method`));
    } else if (bindings.length !== 1) {
      const found = bindings.length === 0 ? 'found none' : `found ${bindings.join(', ')}`;
      errs.push(inv(path, name, `logical ${name} interface must have exactly one binding method (${found}); virtmesh supports masquerade: {}`));
    }
    const binding = bindings.length === 1 ? bindings[0] : undefined;
    if (has(iface, 'masquerade') && net && !onPod) {
      errs.push(inv(`${path}.name`, name, 'Masquerade interface only implemented with pod network'));
    }
    if (meshed && onPod && binding !== 'masquerade') {
      const uses = binding ? `uses ${binding} binding` : bindings.length === 0 ? 'has no binding' : `uses ${bindings.join(' and ')} bindings`;
      errs.push(fieldError.forbidden(path, `${ISTIO_MASQUERADE_ONLY} (interface "${name}" ${uses})`));
    } else if (binding === 'bridge' && onPod) {
      // KubeVirt allows this when enabled in its config; virtmesh cannot run it yet (deliberate difference).
      errs.push(
        inv(`${path}.name`, name, 'Bridge on pod network configuration is not supported by virtmesh; use the masquerade binding (masquerade: {}) instead'),
      );
    } else if (binding && binding !== 'masquerade' && binding !== 'bridge') {
      errs.push(fieldError.forbidden(`${path}.${binding}`, `the ${binding} binding is not supported by virtmesh; use masquerade: {} on the pod network`));
    }

    const model = str(iface.model);
    if (model && !MODELS.includes(model)) errs.push(inv(`${path}.model`, model, `interface ${path}.name uses model ${model} that is not supported.`));
    const mac = str(iface.macAddress);
    if (mac && !/^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/.test(mac)) {
      errs.push(inv(`${path}.macAddress`, mac, `interface ${path}.name has malformed MAC address (${mac}).`));
    }
    if (onPod) errs.push(...validatePorts(arr(iface.ports), `${path}.ports`));
  });
  return errs;
}

function validatePorts(ports: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  ports.forEach((raw, j) => {
    const port = isObj(raw) ? raw : {};
    const pp = index(path, j);
    const name = str(port.name);
    if (name) {
      if (names.has(name)) errs.push(inv(`${pp}.name`, name, `Duplicate name of the port: ${name}`));
      if (isValidPortName(name).length > 0) errs.push(inv(`${pp}.name`, name, `Invalid name of the port: ${name}`));
      names.add(name);
    }
    const n = port.port;
    if (n === undefined || n === null || n === 0) errs.push(fieldError.required(pp, 'Port field is mandatory.'));
    else if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
      errs.push(inv(pp, n, 'Port field must be in range 0 < x < 65536.'));
    }
    const proto = port.protocol;
    if (proto !== undefined && proto !== '' && proto !== 'TCP' && proto !== 'UDP') {
      errs.push(inv(`${pp}.protocol`, proto, 'Unknown protocol, only TCP or UDP allowed'));
    }
  });
  return errs;
}
