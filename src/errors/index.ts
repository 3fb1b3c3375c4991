// The registry of virtmesh's own errors. Every error has a stable code
// (VM_ERR_<PART>_<WHAT>), a message template and an HTTP status; callers check
// `err.code`, never `instanceof`. docs/errors.md lists the same codes (a test keeps
// them in step).

interface ErrorSpec {
  status: number;
  /** `%s` placeholders are filled from the arguments in order. */
  message: string;
}

export const errorSpecs = {
  VM_ERR_STORE_NOT_FOUND: { status: 404, message: '%s "%s" not found' },
  VM_ERR_STORE_ALREADY_EXISTS: { status: 409, message: '%s "%s" already exists' },
  VM_ERR_STORE_CONFLICT: {
    status: 409,
    message: 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again',
  },
  VM_ERR_STORE_OPEN: { status: 500, message: 'cannot open the state database at %s' },
  VM_ERR_CLUSTER_NOT_RUNNING: { status: 503, message: 'the virtmesh cluster is not running (state directory %s); start it with `virtmesh cluster up`' },
  VM_ERR_CLUSTER_START_TIMEOUT: { status: 504, message: 'timed out after %s waiting for %s' },
  VM_ERR_CLUSTER_ALREADY_RUNNING: { status: 409, message: 'a virtmesh cluster daemon already runs on the state directory %s (pid %s)' },
  VM_ERR_CLUSTER_PORT_IN_USE: { status: 500, message: 'port %s on 127.0.0.1 is taken by another program; set VIRTMESH_APISERVER_PORT to a free port' },
  VM_ERR_CLUSTER_BAD_STAND_IN: { status: 400, message: 'VIRTMESH_EXTERNAL_STAND_IN: "%s" %s' },
  VM_ERR_CLUSTER_BAD_UPLINK: { status: 400, message: 'VIRTMESH_NODE_UPLINK: "%s" %s' },
  VM_ERR_CLUSTER_BAD_ACCEL: { status: 400, message: 'VIRTMESH_VM_ACCEL: "%s" is not one of auto, kvm, tcg' },
  VM_ERR_CLUSTER_KVM_UNUSABLE: {
    status: 500,
    message: 'VIRTMESH_VM_ACCEL=kvm, but KVM cannot run a guest here: %s; unset it (auto picks TCG) or set VIRTMESH_VM_ACCEL=tcg',
  },
  VM_ERR_CONSOLE_NOT_FOUND: { status: 404, message: 'virtualmachineinstance.kubevirt.io "%s" not found in namespace %s' },
  VM_ERR_CONSOLE_NOT_RUNNING: {
    status: 400,
    message: 'Unable to connect to VirtualMachineInstance %s because phase is %s instead of Running',
  },
  VM_ERR_MESH_NOT_RUNNING: { status: 503, message: 'the mesh control plane is not running (no %s); start the cluster with `virtmesh cluster up`' },
  VM_ERR_MESH_NO_SIDECAR: {
    status: 400,
    message: 'failed to execute command on sidecar: error execing into %s/%s istio-proxy container: container istio-proxy is not valid for pod %s',
  },
  VM_ERR_MESH_PROXY_NOT_CONNECTED: { status: 404, message: '%s is not connected to %s (see `virtmesh proxy-status`)' },
  VM_ERR_DASHBOARD_UNKNOWN: { status: 400, message: 'unknown dashboard "%s": choose kiali (the virtmesh console) or prometheus' },
  VM_ERR_DASHBOARD_NOT_RUNNING: { status: 503, message: 'the cluster runs no %s: %s' },
  VM_ERR_DASHBOARD_BAD_KUBECONFIG: { status: 400, message: 'cannot use the kubeconfig %s: %s' },
  VM_ERR_DASHBOARD_KUBECONFIG_WITHOUT_PROMETHEUS: {
    status: 400,
    message: "--kubeconfig needs --prometheus: the console reads traffic from that cluster's Prometheus",
  },
  VM_ERR_DASHBOARD_BAD_URL: { status: 400, message: '--prometheus "%s" is not a URL (e.g. http://127.0.0.1:9090)' },
  VM_ERR_TELEMETRY_PROMETHEUS_UNREACHABLE: { status: 503, message: 'Prometheus at %s is unreachable: %s' },
  VM_ERR_TELEMETRY_PROMETHEUS_BAD_QUERY: { status: 400, message: 'Prometheus at %s rejected the query (%s): %s' },
  VM_ERR_TELEMETRY_PROMETHEUS_FAILED: { status: 503, message: 'Prometheus at %s %s' },
  VM_ERR_TELEMETRY_BAD_METRICS_QUERY: { status: 400, message: '%s' },
  VM_ERR_TELEMETRY_NO_PROMETHEUS: {
    status: 500,
    message: 'prometheus is not installed: install the Debian package prometheus, or run `virtmesh cluster up` as root and it installs it',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorSpecs;

export interface VirtmeshError extends Error {
  code: ErrorCode;
  status: number;
}

export function createError(code: ErrorCode, args: Array<string | number> = [], cause?: unknown): VirtmeshError {
  let i = 0;
  const message = errorSpecs[code].message.replace(/%s/g, () => String(args[i++] ?? ''));
  const err = new Error(message, cause === undefined ? undefined : { cause }) as VirtmeshError;
  err.code = code;
  err.status = errorSpecs[code].status;
  return err;
}

export function isVirtmeshError(err: unknown, code?: ErrorCode): err is VirtmeshError {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && c in errorSpecs && (code === undefined || c === code);
}
