// virtmesh's guest images: the built-in guest (a Debian kernel and a busybox initramfs,
// built once into a cache), the containerDisk image catalog, and cloud-init seeds.

export {
  type EnsureGuestImagesOptions,
  ensureGuestImages,
  GUEST_BUILD_PACKAGES,
  GUEST_RECIPE_VERSION,
  type GuestImages,
  guestKernelCmdline,
  isGuestImageBuilt,
} from './build.js';
export { type ContainerDiskImage, listCatalog, resolveContainerDiskImage } from './catalog.js';
export { type NoCloudSeedOptions, parseCloudConfig, SEED_ISO_NAME, translateUserData, type UserDataDefaults, writeNoCloudSeed } from './cloud-init.js';
export { DEFAULT_USERS, defaultUserForFlavor, type GuestFlavor } from './guest-files.js';
