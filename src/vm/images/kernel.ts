// The guest kernel: Debian's linux-image package, downloaded and unpacked with dpkg -x
// (installing it would run initramfs-tools, which is slow), and the few modules the
// guest loads, in an order that respects their dependencies.

import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { run } from '../../util/exec.js';
import { runBuffer, runWithStatusFd } from './host-tools.js';

export interface KernelModule {
  name: string;
  /** Uncompressed .ko contents. */
  data: Buffer;
}

export interface UnpackedKernel {
  packageName: string;
  release: string;
  vmlinuz: string;
  modules: KernelModule[];
}

type Progress = (step: string, fraction?: number) => void;

/** The versioned package linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64. */
export async function kernelPackageName(signal?: AbortSignal): Promise<string> {
  const { stdout } = await run('apt-cache', ['depends', 'linux-image-amd64'], { signal });
  const name = /^\s*\|?Depends:\s*(linux-image-\d\S*)/m.exec(stdout)?.[1];
  if (!name) throw new Error(`cannot find the kernel package in \`apt-cache depends linux-image-amd64\`:\n${stdout.trim()}`);
  return name;
}

/**
 * Downloads the kernel .deb and the other packages into dir; returns package name -> .deb
 * path, the kernel under 'kernel'. A missing or stale package list (first use, or a newer
 * kernel replaced the one it names) is fixed by one `apt-get update`.
 */
export async function downloadDebianPackages(dir: string, others: string[], onProgress: Progress, signal?: AbortSignal): Promise<Map<string, string>> {
  const attempt = async () => {
    onProgress('finding the Debian kernel package');
    const kernel = await kernelPackageName(signal);
    const what = `downloading ${[kernel, ...others].join(', ')}`;
    onProgress(what, 0);
    // As root apt drops to the _apt user, who cannot write into a private cache dir.
    const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
    await runWithStatusFd(
      'apt-get',
      ['download', '-q', '-o', 'APT::Status-Fd=3', ...sandbox, kernel, ...others],
      (line) => {
        const percent = /^dlstatus:[^:]*:([\d.]+):/.exec(line)?.[1];
        if (percent) onProgress(what, Math.min(1, Number(percent) / 100));
      },
      { cwd: dir, signal },
    );
    const files = await readdir(dir);
    const debs = new Map<string, string>();
    for (const [key, name] of [['kernel', kernel], ...others.map((o) => [o, o])]) {
      const deb = files.find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
      if (!deb) throw new Error(`apt-get download ${name} left no .deb in ${dir}`);
      debs.set(key, join(dir, deb));
    }
    return debs;
  };
  try {
    return await attempt();
  } catch (err) {
    if (signal?.aborted) throw err;
    onProgress('updating the Debian package lists (apt-get update)');
    await run('apt-get', ['update', '-q'], { signal, timeoutMs: 0 }).catch((e: Error) => {
      throw new Error(`cannot download Debian packages (${(err as Error).message}); apt-get update failed too: ${e.message}`, { cause: e });
    });
    return attempt();
  }
}

export async function unpackKernel(deb: string, into: string, wanted: string[], signal?: AbortSignal): Promise<UnpackedKernel> {
  await run('dpkg', ['-x', deb, into], { signal, timeoutMs: 0 });
  const packageName = basename(deb).split('_')[0];
  const vmlinuz = (await readdir(join(into, 'boot'))).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`${basename(deb)} has no boot/vmlinuz-*`);
  const release = vmlinuz.slice('vmlinuz-'.length);
  const moduleDirs = [join(into, 'lib', 'modules', release), join(into, 'usr', 'lib', 'modules', release)];
  const files = new Map<string, string>();
  const builtin = new Set<string>();
  for (const dir of moduleDirs) {
    const list = await readFile(join(dir, 'modules.builtin'), 'utf8').catch(() => '');
    for (const m of list.matchAll(/([^/\s]+)\.ko$/gm)) builtin.add(moduleName(m[1]));
    const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
    for (const rel of entries) {
      const m = /([^/]+)\.ko(\.xz|\.zst|\.gz)?$/.exec(rel);
      if (m) files.set(moduleName(m[1]), join(dir, rel));
    }
  }
  if (files.size === 0) throw new Error(`${basename(deb)} has no kernel modules for ${release}`);
  const modules = await modulesInLoadOrder(wanted, files, builtin, signal);
  return { packageName, release, vmlinuz: join(into, 'boot', vmlinuz), modules };
}

/** Module names use underscores; some files use dashes (rng-core.ko is rng_core). */
const moduleName = (s: string) => s.replace(/-/g, '_');

async function readModule(path: string, signal?: AbortSignal): Promise<Buffer> {
  if (path.endsWith('.xz')) return runBuffer('xz', ['-dc', path], { signal });
  if (path.endsWith('.zst')) return runBuffer('zstd', ['-dcq', path], { signal });
  if (path.endsWith('.gz')) return gunzipSync(await readFile(path));
  return readFile(path);
}

/** The `depends=` field of a module's .modinfo section (what `modinfo -F depends` prints). */
export function moduleDependencies(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const start = at + '\0depends='.length;
  const value = ko.subarray(start, ko.indexOf(0, start)).toString('utf8');
  return value.split(',').filter(Boolean).map(moduleName);
}

/** Wanted modules and everything they depend on, each after its dependencies; built-in ones are skipped. */
export async function modulesInLoadOrder(wanted: string[], files: Map<string, string>, builtin: Set<string>, signal?: AbortSignal): Promise<KernelModule[]> {
  const ordered: KernelModule[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (name: string, chain: string[]): Promise<void> => {
    if (state.get(name) === 'done' || (builtin.has(name) && !files.has(name))) return;
    if (state.get(name) === 'visiting') throw new Error(`kernel modules depend on each other in a cycle: ${[...chain, name].join(' -> ')}`);
    const path = files.get(name);
    if (!path) throw new Error(`kernel module ${name} is not in the kernel package${chain.length ? ` (needed by ${chain.at(-1)})` : ''}`);
    state.set(name, 'visiting');
    const data = await readModule(path, signal);
    for (const dep of moduleDependencies(data)) await visit(dep, [...chain, name]);
    state.set(name, 'done');
    ordered.push({ name, data });
  };
  for (const name of wanted) await visit(moduleName(name), []);
  return ordered;
}

/**
 * The uncompressed kernel ELF inside a bzImage, when it can boot through PVH (a Xen
 * PHYS32_ENTRY note): QEMU then jumps straight into it, which skips the kernel's own
 * decompression, about 2 s under TCG. Undefined when it is not PVH-capable or the
 * compression is one this host cannot undo.
 */
export async function pvhKernelFromBzImage(bzImage: Buffer, scratchDir: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  if (bzImage.length < 0x250 || bzImage.toString('latin1', 0x202, 0x206) !== 'HdrS' || bzImage.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSectors = bzImage[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + bzImage.readUInt32LE(0x248);
  const payload = bzImage.subarray(start, start + bzImage.readUInt32LE(0x24c));
  let elf: Buffer;
  if (payload.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    const file = join(scratchDir, 'kernel-payload.xz');
    await writeFile(file, payload);
    // The payload ends with the uncompressed size, after the xz stream.
    elf = await runBuffer('xz', ['-dc', '--single-stream', file], { signal });
    await rm(file, { force: true });
  } else if (payload[0] === 0x1f && payload[1] === 0x8b) {
    elf = gunzipSync(payload);
  } else {
    return undefined;
  }
  return hasPvhNote(elf) ? elf : undefined;
}

/** Whether an ELF64 file has the Xen PHYS32_ENTRY note (type 18) QEMU needs for PVH boot. */
export function hasPvhNote(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    let at = Number(elf.readBigUInt64LE(ph + 8));
    const end = at + Number(elf.readBigUInt64LE(ph + 0x20));
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at);
      const descsz = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const name = elf.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      at += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

const align4 = (n: number) => (n + 3) & ~3;
