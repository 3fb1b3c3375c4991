// KubeVirt's validating webhooks for VirtualMachineInstances and VirtualMachines
// (virt-api's vmi-create-admitter and vms-admitter), with KubeVirt's messages, narrowed
// to what virtmesh can run. A VM's template is checked as a VMI spec under `spec.template.spec`.

import { type FieldError, fieldError, index } from './field-errors.js';
import { isMeshed, validateNetworking } from './kubevirt-network.js';
import { isDNS1123Label, isDNS1123Subdomain, validatePortNumOrName } from './names.js';
import { tryParseQuantity } from './quantity.js';
import type { AdmissionContext, KubeObject, SemanticValidator } from './types.js';
import { arr, deepEqual, has, isObj, type Obj, obj, str } from './util.js';

export const VMI_WEBHOOK = 'virtualmachineinstances-create-validator.kubevirt.io';
export const VM_WEBHOOK = 'virtualmachine-validator.kubevirt.io';

/** Volume sources virtmesh can run; every other KubeVirt source is refused. */
export const SUPPORTED_VOLUME_SOURCES = ['containerDisk', 'cloudInitNoCloud', 'emptyDisk'];
const UNSUPPORTED_VOLUME_SOURCES = [
  'ephemeral',
  'persistentVolumeClaim',
  'dataVolume',
  'hostDisk',
  'sysprep',
  'configMap',
  'secret',
  'serviceAccount',
  'cloudInitConfigDrive',
  'downwardAPI',
  'downwardMetrics',
  'memoryDump',
];
const MIN_MEMORY = 1024 * 1024; // 1Mi
const CLOUD_INIT_MAX = 2048;
const BUSES = ['virtio', 'scsi', 'sata', 'usb'];
const MACHINE_TYPES = ['q35*', 'pc-q35*'];

const inv = (field: string, value: unknown, msg: string) => fieldError.invalid(field, value, msg);
const isBase64 = (s: string) => /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s.replace(/[\r\n]/g, ''));
const glob = (pattern: string, v: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(v);

function validateMemory(spec: Obj, p: string, mandatory: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const domain = obj(spec.domain);
  const resources = obj(domain.resources);
  const parse = (path: string, v: unknown): number | undefined => {
    if (v === undefined || v === null) return undefined;
    const q = tryParseQuantity(v);
    if ('error' in q) {
      errs.push(inv(path, v, q.error));
      return undefined;
    }
    if (q.value < 0) errs.push(inv(path, v, `${path} '${v}': must be greater than or equal to 0.`));
    return q.value;
  };
  const reqPath = `${p}.domain.resources.requests.memory`;
  const limPath = `${p}.domain.resources.limits.memory`;
  const guestPath = `${p}.domain.memory.guest`;
  const rawReq = obj(resources.requests).memory;
  const rawLim = obj(resources.limits).memory;
  const rawGuest = obj(domain.memory).guest;
  const req = parse(reqPath, rawReq);
  const lim = parse(limPath, rawLim);
  const guest = parse(guestPath, rawGuest);
  // KubeVirt's floor is 1M; virtmesh asks for 1Mi, the least QEMU can boot with.
  if (req !== undefined && req >= 0 && req < MIN_MEMORY) errs.push(inv(reqPath, rawReq, `${reqPath} '${rawReq}': must be greater than or equal to 1Mi.`));
  if (guest !== undefined && guest >= 0 && guest < MIN_MEMORY)
    errs.push(inv(guestPath, rawGuest, `${guestPath} '${rawGuest}': must be greater than or equal to 1Mi.`));
  if (lim !== undefined && lim > 0 && req !== undefined && req > lim) {
    errs.push(inv(reqPath, rawReq, `${reqPath} '${rawReq}' is greater than ${limPath} '${rawLim}'`));
  }
  if (lim !== undefined && lim > 0 && guest !== undefined && guest > lim) {
    errs.push(inv(guestPath, rawGuest, `${guestPath} '${rawGuest}' must be equal to or less than the memory limit ${limPath} '${rawLim}'`));
  }
  const hugepages = obj(obj(domain.memory).hugepages);
  if (has(hugepages, 'pageSize')) parse(`${p}.domain.memory.hugepages.pageSize`, hugepages.pageSize);
  if (mandatory && rawReq === undefined && rawGuest === undefined && !has(hugepages, 'pageSize')) {
    errs.push(
      fieldError.required(reqPath, `no memory requested, at least one of '${guestPath}', '${p}.domain.memory.hugepages.size' or '${reqPath}' must be set`),
    );
  }
  for (const kind of ['requests', 'limits']) {
    const cpu = obj(resources[kind]).cpu;
    const path = `${p}.domain.resources.${kind}.cpu`;
    if (cpu !== undefined) parse(path, cpu);
  }
  return errs;
}

function validateProbe(probe: unknown, path: string, hasPodNetwork: boolean): FieldError[] {
  if (!isObj(probe)) return [];
  const errs: FieldError[] = [];
  const handlers = ['httpGet', 'tcpSocket', 'exec', 'guestAgentPing'].filter((h) => has(probe, h));
  if (handlers.length > 1) errs.push(inv(path, handlers, `${path} must have exactly one probe type set`));
  if (handlers.length < 1) {
    errs.push(fieldError.required(path, `either ${path}.tcpSocket, ${path}.exec or ${path}.httpGet must be set if a ${path} is specified`));
  }
  for (const h of ['exec', 'guestAgentPing']) {
    if (has(probe, h)) {
      errs.push(
        fieldError.forbidden(`${path}.${h}`, `${h} probes run through the QEMU guest agent, which virtmesh does not support; use httpGet or tcpSocket`),
      );
    }
  }
  for (const h of ['httpGet', 'tcpSocket']) {
    if (!has(probe, h)) continue;
    const handler = obj(probe[h]);
    if (!hasPodNetwork) errs.push(inv(`${path}.${h}`, h, `${path}.${h} is only allowed if the Pod Network is attached`));
    if (!has(handler, 'port')) errs.push(fieldError.required(`${path}.${h}.port`));
    else errs.push(...validatePortNumOrName(handler.port, `${path}.${h}.port`));
    if (h === 'httpGet' && has(handler, 'scheme') && !['HTTP', 'HTTPS'].includes(str(handler.scheme))) {
      errs.push(fieldError.notSupported(`${path}.httpGet.scheme`, handler.scheme, ['HTTP', 'HTTPS']));
    }
  }
  for (const f of ['periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold']) {
    const v = probe[f];
    if (typeof v === 'number' && v < 1) errs.push(inv(`${path}.${f}`, v, 'must be greater than or equal to 1'));
  }
  const delay = probe.initialDelaySeconds;
  if (typeof delay === 'number' && delay < 0) errs.push(inv(`${path}.initialDelaySeconds`, delay, 'must be greater than or equal to 0'));
  return errs;
}

function validateVolumes(spec: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const volumes = arr(spec.volumes).map(obj);
  const disks = arr(obj(obj(spec.domain).devices).disks).map(obj);
  const diskNames = new Set(disks.map((d) => str(d.name)));
  const firstIndex = new Map<string, number>();
  volumes.forEach((v, i) => {
    const path = index(`${p}.volumes`, i);
    const name = str(v.name);
    const other = firstIndex.get(name);
    if (other !== undefined) errs.push(inv(`${path}.name`, name, `${path} and ${p}.volumes[${other}] must not have the same Name.`));
    else firstIndex.set(name, i);
    if (!diskNames.has(name)) errs.push(inv(`${path}.name`, name, `${path}.name '${name}' not found.`));
    const sources = [...SUPPORTED_VOLUME_SOURCES, ...UNSUPPORTED_VOLUME_SOURCES].filter((s) => has(v, s));
    if (sources.length !== 1) errs.push(inv(path, name, `${path} must have exactly one source type set`));
    for (const s of sources) {
      if (UNSUPPORTED_VOLUME_SOURCES.includes(s)) {
        errs.push(fieldError.forbidden(`${path}.${s}`, `${s} is not supported by virtmesh (supported volume sources: ${SUPPORTED_VOLUME_SOURCES.join(', ')})`));
      }
    }
    if (has(v, 'containerDisk')) {
      const cd = obj(v.containerDisk);
      if (!str(cd.image)) errs.push(fieldError.required(`${path}.containerDisk.image`));
      const file = str(cd.path);
      if (file === '/') errs.push(inv(`${path}.containerDisk`, file, `${path}.containerDisk must not point to root`));
      else if (file && (!file.startsWith('/') || file.split('/').some((s) => s === '..' || s === '.'))) {
        errs.push(inv(`${path}.containerDisk`, file, `${path}.containerDisk must be an absolute path to a file without relative components`));
      }
    }
    if (has(v, 'emptyDisk')) {
      const cap = obj(v.emptyDisk).capacity;
      const q = tryParseQuantity(cap);
      if (cap === undefined) errs.push(fieldError.required(`${path}.emptyDisk.capacity`));
      else if ('error' in q) errs.push(inv(`${path}.emptyDisk.capacity`, cap, q.error));
      else if (q.value <= 0) errs.push(inv(`${path}.emptyDisk.capacity`, cap, 'must be greater than zero'));
    }
    if (has(v, 'cloudInitNoCloud')) errs.push(...validateNoCloud(obj(v.cloudInitNoCloud), `${path}.cloudInitNoCloud`));
  });
  return errs;
}

/** virtmesh builds the NoCloud seed itself: exactly one inline user data source, no Secret references. */
function validateNoCloud(ci: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const ref of ['userDataSecretRef', 'networkDataSecretRef', 'secretRef']) {
    if (has(ci, ref)) errs.push(fieldError.forbidden(`${path}.${ref}`, `${ref} is not supported by virtmesh; put the data inline`));
  }
  const sources = ['userData', 'userDataBase64', 'userDataSecretRef', 'secretRef'].filter((k) => has(ci, k) && ci[k] !== '');
  if (sources.length > 1) errs.push(inv(path, sources, `${path} must have only one userdatasource set.`));
  if (sources.length === 0) errs.push(fieldError.required(path, `${path} must have one userdatasource set (userData or userDataBase64).`));
  let userData = str(ci.userData);
  for (const k of ['userDataBase64', 'networkDataBase64']) {
    const b64 = str(ci[k]);
    if (!b64) continue;
    if (!isBase64(b64)) errs.push(inv(`${path}.${k}`, b64, `${path}.${k} is not a valid base64 value.`));
    else if (k === 'userDataBase64') userData = Buffer.from(b64, 'base64').toString('utf8');
  }
  if (Buffer.byteLength(userData) > CLOUD_INIT_MAX)
    errs.push(inv(path, `${Buffer.byteLength(userData)} bytes`, `${path} userdata exceeds ${CLOUD_INIT_MAX} byte limit.`));
  const networkData = str(ci.networkData) || (isBase64(str(ci.networkDataBase64)) ? Buffer.from(str(ci.networkDataBase64), 'base64').toString() : '');
  if (Buffer.byteLength(networkData) > CLOUD_INIT_MAX)
    errs.push(inv(path, `${Buffer.byteLength(networkData)} bytes`, `${path} networkdata exceeds ${CLOUD_INIT_MAX} byte limit.`));
  return errs;
}

function validateDisks(spec: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const path = `${p}.domain.devices.disks`;
  const disks = arr(obj(obj(spec.domain).devices).disks).map(obj);
  const volumes = new Map(arr(spec.volumes).map((v) => [str(obj(v).name), obj(v)] as const));
  disks.forEach((d, i) => {
    const dp = index(path, i);
    const name = str(d.name);
    const dup = disks.findIndex((o) => str(o.name) === name);
    if (dup < i) errs.push(inv(`${dp}.name`, name, `${dp} and ${path}[${dup}] must not have the same Name.`));
    const targets = ['disk', 'lun', 'cdrom'].filter((t) => has(d, t));
    if (targets.length > 1) errs.push(inv(dp, targets, `${dp} can only have a single target type defined`));
    const volume = volumes.get(name);
    if (!volume) {
      errs.push(
        inv(
          `${dp}.name`,
          name,
          has(d, 'cdrom') ? 'DeclarativeHotplugVolumes feature gate not enabled, cannot define an empty CD-ROM disk' : `${dp}.Name '${name}' not found.`,
        ),
      );
    }
    if (has(d, 'lun') && volume && !has(volume, 'persistentVolumeClaim') && !has(volume, 'dataVolume')) {
      errs.push(inv(`${dp}.lun`, name, `${dp}.lun can only be mapped to a DataVolume or PersistentVolumeClaim volume.`));
    }
    const target = targets[0];
    const bus = target ? str(obj(d[target]).bus) : '';
    if (bus === 'ide') errs.push(inv(`${dp}.${target}.bus`, bus, 'IDE bus is not supported'));
    else if (bus && !BUSES.includes(bus)) {
      errs.push(inv(`${dp}.${target}.bus`, bus, `${dp} is set with an unrecognized bus ${bus}, must be one of: [${BUSES.join(' ')}]`));
    } else if (bus === 'virtio' && target === 'cdrom') errs.push(inv(`${dp}.cdrom.bus`, bus, 'Bus type virtio is invalid for CD-ROM device'));
    else if (bus === 'sata' && target === 'disk' && obj(d.disk).readOnly === true) {
      errs.push(inv(`${dp}.disk.bus`, bus, 'sata hard-disks do not support read-only.'));
    }
    for (const msg of isDNS1123Label(name)) errs.push(inv(`${dp}.name`, name, msg));
    if (typeof d.bootOrder === 'number' && d.bootOrder < 1) errs.push(inv(`${dp}.bootOrder`, d.bootOrder, `${dp} must have a boot order > 0, if supplied`));
  });
  return errs;
}

function validateMisc(spec: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const machine = str(obj(obj(spec.domain).machine).type);
  if (machine && !MACHINE_TYPES.some((m) => glob(m, machine))) {
    errs.push(inv(`${p}.domain.machine.type`, machine, `${p}.domain.machine.type is not supported: ${machine} (allowed values: [${MACHINE_TYPES.join(' ')}])`));
  }
  if (has(spec, 'architecture') && !['amd64', 'arm64', 's390x'].includes(str(spec.architecture))) {
    errs.push(inv(`${p}.architecture`, spec.architecture, `unsupported architecture: ${str(spec.architecture)}`));
  }
  const hostname = str(spec.hostname);
  const hErr = hostname ? isDNS1123Label(hostname) : [];
  if (hErr.length > 0) errs.push(inv(`${p}.hostname`, hostname, `${p}.hostname does not conform to the kubernetes DNS_LABEL rules : ${hErr.join(', ')}`));
  const subdomain = str(spec.subdomain);
  const sErr = subdomain ? isDNS1123Subdomain(subdomain) : [];
  if (sErr.length > 0)
    errs.push(inv(`${p}.subdomain`, subdomain, `${p}.subdomain does not conform to the kubernetes DNS_SUBDOMAIN rules : ${sErr.join(', ')}`));
  const dns = str(spec.dnsPolicy);
  if (dns && !['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'].includes(dns)) {
    errs.push(
      fieldError.invalid(`${p}.dnsPolicy`, dns, `DNSPolicy: ${dns} is not supported, valid values: [ClusterFirstWithHostNet ClusterFirst Default None ]`),
    );
  }
  const eviction = spec.evictionStrategy;
  if (has(spec, 'evictionStrategy') && !['LiveMigrate', 'LiveMigrateIfPossible', 'None', 'External'].includes(str(eviction))) {
    errs.push(inv(`${p}.evictionStrategy`, eviction, `${p}.evictionStrategy is set with an unrecognized option: ${str(eviction)}`));
  }
  if (has(spec, 'startStrategy') && spec.startStrategy !== 'Paused') {
    errs.push(inv(`${p}.startStrategy`, spec.startStrategy, `${p}.startStrategy is set with an unrecognized option: ${str(spec.startStrategy)}`));
  }
  return errs;
}

/** Every check on a VMI spec; `p` is where the spec sits (`spec`, or `spec.template.spec` in a VM). */
export function validateVMISpec(spec: Obj, p: string, meshed: boolean, mandatoryMemory: boolean): FieldError[] {
  const hasPodNetwork = arr(spec.networks).some((n) => has(obj(n), 'pod')) || (!has(spec, 'networks') && !has(obj(obj(spec.domain).devices), 'interfaces'));
  return [
    ...validateMemory(spec, p, mandatoryMemory),
    ...validateNetworking(spec, p, meshed),
    ...validateProbe(spec.readinessProbe, `${p}.readinessProbe`, hasPodNetwork),
    ...validateProbe(spec.livenessProbe, `${p}.livenessProbe`, hasPodNetwork),
    ...validateDisks(spec, p),
    ...validateVolumes(spec, p),
    ...validateMisc(spec, p),
  ];
}

export const vmiValidator: SemanticValidator = {
  webhook: VMI_WEBHOOK,
  validate(vmi: KubeObject, ctx: AdmissionContext): FieldError[] {
    if (ctx.operation === 'UPDATE' && ctx.oldObject) {
      // virt-api's update admitter: only KubeVirt itself may change a running VMI's spec.
      return deepEqual(vmi.spec, ctx.oldObject.spec) ? [] : [fieldError.forbidden('spec', 'update of VMI object is restricted')];
    }
    const meta = vmi.metadata ?? {};
    const meshed = isMeshed(ctx, str(meta.namespace), meta);
    return validateVMISpec(obj(vmi.spec), 'spec', meshed, true);
  },
};

const RUN_STRATEGIES = ['Always', 'RerunOnFailure', 'Manual', 'Halted', 'Once', 'WaitAsReceiver'];

export const vmValidator: SemanticValidator = {
  webhook: VM_WEBHOOK,
  validate(vm: KubeObject, ctx: AdmissionContext): FieldError[] {
    const errs: FieldError[] = [];
    const spec = obj(vm.spec);
    if (has(spec, 'running') && has(spec, 'runStrategy')) {
      errs.push(
        inv('spec.running', spec.running, 'Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead'),
      );
    }
    if (has(spec, 'runStrategy') && !RUN_STRATEGIES.includes(str(spec.runStrategy))) {
      errs.push(inv('spec.runStrategy', spec.runStrategy, `Invalid RunStrategy (${str(spec.runStrategy)})`));
    }
    if (arr(spec.dataVolumeTemplates).length > 0) {
      errs.push(fieldError.forbidden('spec.dataVolumeTemplates', 'dataVolumeTemplates is not supported by virtmesh'));
    }
    if (!isObj(spec.template)) {
      errs.push(fieldError.required('spec.template', 'missing virtual machine template.'));
      return errs;
    }
    const tmeta = obj(spec.template.metadata);
    const meshed = isMeshed(ctx, str(vm.metadata?.namespace), tmeta);
    // KubeVirt only requires memory when the VMI is created; virtmesh says so when the VM is.
    const tspec = obj(spec.template.spec);
    errs.push(...validateVMISpec(tspec, 'spec.template.spec', meshed, !has(spec, 'instancetype')));
    return errs;
  },
};
