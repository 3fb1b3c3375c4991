// The VM launcher: from a VirtualMachineInstance to a QEMU process in a pod's
// network namespace, with its guest images and cloud-init seed.

export {
  type Accelerator,
  type AccelSetting,
  chooseAccelerator,
  KVM_CPU_MODELS,
  type KvmFindings,
  type KvmTrial,
  parseAccelSetting,
  resolveAccelerator,
} from './accel.js';
export {
  defaultUserForFlavor,
  ensureGuestImages,
  guestKernelCmdline,
  isGuestImageBuilt,
  listCatalog,
  resolveContainerDiskImage,
  translateUserData,
  writeNoCloudSeed,
} from './images/index.js';
export {
  adoptVm,
  GUEST_GATEWAY,
  GUEST_IP,
  type LaunchContext,
  qmp,
  type RunningVm,
  readVmProcesses,
  startVm,
  VM_BRIDGE,
} from './launcher.js';
export { guestMemoryBytes, type PlanError, planVm, type VmPlan } from './spec.js';
