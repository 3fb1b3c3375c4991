// Builds virtmesh's built-in guest (a Debian kernel and a busybox initramfs) once into a
// cache directory. The directory name carries the recipe version, so a changed recipe
// builds anew; builders take a lock, build in a temporary directory and rename it into
// place, so callers only ever see complete images.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { run } from '../../util/exec.js';
import { DEFAULT_USERS, GUEST_MODULES, type GuestFlavor, guestFiles } from './guest-files.js';
import { compileGuestTools, guestToolSources } from './guest-tools.js';
import { buildUserland, CpioArchive } from './initramfs.js';
import { downloadDebianPackages, pvhKernelFromBzImage, unpackKernel } from './kernel.js';
import { acquireLock } from './lock.js';

export interface GuestImages {
  /** Absolute path of the kernel for QEMU's -kernel: an ELF that boots through PVH, or a bzImage. */
  kernel: string;
  /** Absolute path of the gzip'd cpio initramfs for QEMU's -initrd. */
  initrd: string;
  /** Recipe version and kernel release, e.g. "3f2a9c1d04b7-6.1.0-56-amd64". */
  version: string;
}

export interface EnsureGuestImagesOptions {
  cacheDir: string;
  onProgress?: (step: string, fraction?: number) => void;
  signal?: AbortSignal;
}

/**
 * Debian packages the image build needs on the host (apt and dpkg are always there).
 * Debian's dynamically linked busybox, for the guest's shell, comes with the kernel by
 * `apt-get download`: it cannot be installed beside busybox-static.
 */
export const GUEST_BUILD_PACKAGES = ['busybox-static', 'curl', 'ncat', 'gcc', 'libc6-dev', 'genisoimage', 'cpio', 'xz-utils'];

/** Kernel command line for the guest; the flavour picks the default user. */
export function guestKernelCmdline(flavor: GuestFlavor): string {
  return `console=ttyS0 quiet virtmesh.flavor=${flavor}`;
}

// Bump when the build steps change in a way the guest files do not show.
const BUILD_REVISION = 4;

/** Hash of everything the image is made from, apart from the host's packages. */
export const GUEST_RECIPE_VERSION = createHash('sha256')
  .update(JSON.stringify({ BUILD_REVISION, GUEST_MODULES, files: guestFiles((password) => `hash(${password})`), tools: guestToolSources() }))
  .digest('hex')
  .slice(0, 12);

const IMAGE_DIR_PREFIX = 'guest-';
const KERNEL_FILE = 'vmlinuz';
const PVH_KERNEL_FILE = 'vmlinux';
const INITRD_FILE = 'initrd.img';
const STAMP_FILE = 'stamp.json';

interface Stamp {
  recipe: string;
  version: string;
  kernelPackage: string;
  kernelFile: string;
  builtAt: string;
}

/** A SHA-512 crypt(3) hash for /etc/shadow, made by the busybox the guest logs in with. */
async function hashPassword(password: string, signal?: AbortSignal): Promise<string> {
  const hash = (await run('/bin/busybox', ['mkpasswd', '-m', 'sha512', password], { signal })).stdout.trim();
  if (!hash.startsWith('$6$')) throw new Error('busybox mkpasswd did not make a SHA-512 password hash');
  return hash;
}

async function readReady(dir: string): Promise<GuestImages | undefined> {
  try {
    const stamp = JSON.parse(await readFile(join(dir, STAMP_FILE), 'utf8')) as Stamp;
    const kernel = join(dir, stamp.kernelFile);
    const initrd = join(dir, INITRD_FILE);
    if (stamp.recipe !== GUEST_RECIPE_VERSION || !existsSync(kernel) || !existsSync(initrd)) return undefined;
    return { kernel, initrd, version: stamp.version };
  } catch {
    return undefined;
  }
}

/** Whether ensureGuestImages would return at once (the current recipe is built in cacheDir). */
export async function isGuestImageBuilt(cacheDir: string): Promise<boolean> {
  return (await readReady(join(resolve(cacheDir), IMAGE_DIR_PREFIX + GUEST_RECIPE_VERSION))) !== undefined;
}

export async function ensureGuestImages(opts: EnsureGuestImagesOptions): Promise<GuestImages> {
  const cacheDir = resolve(opts.cacheDir);
  const imageDir = join(cacheDir, IMAGE_DIR_PREFIX + GUEST_RECIPE_VERSION);
  const ready = await readReady(imageDir);
  if (ready) return ready;

  const progress = opts.onProgress ?? (() => {});
  await mkdir(cacheDir, { recursive: true });
  const release = await acquireLock(join(cacheDir, '.build.lock'), {
    signal: opts.signal,
    onWait: (pid) => progress(`waiting for process ${pid}, which is building the guest image`),
  });
  try {
    const builtMeanwhile = await readReady(imageDir);
    if (builtMeanwhile) return builtMeanwhile;
    await removeLeftovers(cacheDir, imageDir);
    const tmp = join(cacheDir, `.tmp-build-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await buildInto(tmp, progress, opts.signal);
      await rm(imageDir, { recursive: true, force: true });
      await rename(join(tmp, 'image'), imageDir);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const built = await readReady(imageDir);
    if (!built) throw new Error(`the guest image build finished but ${imageDir} is incomplete`);
    progress('guest image ready', 1);
    return built;
  } finally {
    await release();
  }
}

/** Images of other recipe versions and temporary directories of builds that died. */
async function removeLeftovers(cacheDir: string, keep: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const path = join(cacheDir, name);
    if (name.startsWith(IMAGE_DIR_PREFIX) && path !== keep) await rm(path, { recursive: true, force: true });
    if (name.startsWith('.tmp-build-')) await rm(path, { recursive: true, force: true });
  }
}

// Host programs the build runs, and the Debian package of each.
const HOST_NEEDS: Array<[string, string]> = [
  ['/bin/busybox', 'busybox-static'],
  ['/usr/bin/curl', 'curl'],
  ['/usr/bin/ncat', 'ncat'],
  ['/usr/bin/gcc', 'gcc'],
  ['/usr/lib/x86_64-linux-gnu/libc.a', 'libc6-dev'],
  ['/usr/bin/xz', 'xz-utils'],
  ['/usr/bin/apt-get', 'apt'],
  ['/usr/bin/dpkg', 'dpkg'],
  ['/usr/bin/ldd', 'libc-bin'],
];

async function buildInto(tmp: string, progress: (step: string, fraction?: number) => void, signal?: AbortSignal): Promise<void> {
  const missing = HOST_NEEDS.filter(([path]) => !existsSync(path));
  if (missing.length) {
    throw new Error(`building the guest image needs ${missing.map(([p]) => p).join(', ')}; install the Debian packages ${missing.map(([, d]) => d).join(' ')}`);
  }
  const download = join(tmp, 'download');
  const unpacked = join(tmp, 'unpacked');
  const image = join(tmp, 'image');
  await mkdir(download, { recursive: true });
  await mkdir(image, { recursive: true });
  await mkdir(unpacked, { recursive: true });

  const debs = await downloadDebianPackages(download, ['busybox'], progress, signal);
  progress('unpacking the kernel and busybox');
  const kernel = await unpackKernel(debs.get('kernel')!, join(unpacked, 'kernel'), GUEST_MODULES, signal);
  await run('dpkg', ['-x', debs.get('busybox')!, join(unpacked, 'busybox')], { signal, timeoutMs: 0 });
  await rm(download, { recursive: true, force: true });
  const bzImage = await readFile(kernel.vmlinuz);
  const pvh = await pvhKernelFromBzImage(bzImage, tmp, signal);
  const kernelFile = pvh ? PVH_KERNEL_FILE : KERNEL_FILE;
  await writeFile(join(image, kernelFile), pvh ?? bzImage);

  progress('compiling the guest tools (nc, curl)');
  await mkdir(join(tmp, 'tools'));
  const tools = await compileGuestTools(join(tmp, 'tools'), { signal });
  progress('assembling the initramfs (busybox, nc, curl, ncat, kernel modules)');
  const version = `${GUEST_RECIPE_VERSION}-${kernel.release}`;
  const hashes = new Map<string, string>();
  for (const { password } of Object.values(DEFAULT_USERS)) {
    if (password) hashes.set(password, await hashPassword(password, signal));
  }
  const release = `VIRTMESH_IMAGE_VERSION='${version}'\nVIRTMESH_KERNEL_PACKAGE='${kernel.packageName}'\n`;
  const files = [...guestFiles((password) => hashes.get(password)!), { path: '/etc/virtmesh-release', mode: 0o644, text: release }];
  const archive = new CpioArchive();
  await buildUserland(archive, { shellBusybox: join(unpacked, 'busybox', 'bin', 'busybox'), tools, modules: kernel.modules, files, signal });
  await rm(unpacked, { recursive: true, force: true });
  signal?.throwIfAborted();
  progress('compressing the initramfs');
  await writeFile(join(image, INITRD_FILE), await promisify(gzip)(archive.finish(), { level: 6 }));

  const stamp: Stamp = { recipe: GUEST_RECIPE_VERSION, version, kernelPackage: kernel.packageName, kernelFile, builtAt: new Date().toISOString() };
  await writeFile(join(image, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
}
