// The guest's initramfs: a newc cpio archive written here (so device nodes need no root
// and every file is owned by root), holding busybox, the small static nc and curl, the
// host's curl and ncat (which those hand over to) packed with the shared libraries only
// they load, the kernel modules and the guest's own files.

import { existsSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { gzipSync } from 'node:zlib';
import { run } from '../../util/exec.js';
import type { GuestFile } from './guest-files.js';
import { GUEST_TOOLS, type GuestToolName, REAL_TOOLS_ARCHIVE, REAL_TOOLS_DIR } from './guest-tools.js';
import type { KernelModule } from './kernel.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

interface Entry {
  mode: number;
  owner: number;
  data: Buffer;
  rdevMajor: number;
  rdevMinor: number;
}

/** Builds a newc ("070701") cpio archive; parent directories are added on demand, a later entry replaces an earlier one. */
export class CpioArchive {
  private readonly entries = new Map<string, Entry>();

  directory(path: string, mode = 0o755, owner = 0): void {
    const p = normalize(path);
    const existing = this.entries.get(p);
    if (p === '' || (existing?.mode === (S_IFDIR | mode) && existing.owner === owner)) return;
    this.put(p, S_IFDIR | mode, Buffer.alloc(0), owner);
  }

  file(path: string, data: Buffer | string, mode = 0o644, owner = 0): void {
    this.put(path, S_IFREG | mode, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, owner);
  }

  symlink(path: string, target: string): void {
    this.put(path, S_IFLNK | 0o777, Buffer.from(target, 'utf8'));
  }

  charDevice(path: string, major: number, minor: number, mode = 0o600): void {
    this.put(path, S_IFCHR | mode, Buffer.alloc(0), 0, major, minor);
  }

  finish(): Buffer {
    const chunks: Buffer[] = [];
    let inode = 1;
    for (const [name, e] of [...this.entries, ['TRAILER!!!', { mode: 0, owner: 0, data: Buffer.alloc(0), rdevMajor: 0, rdevMinor: 0 }] as const]) {
      const nameBytes = Buffer.from(`${name}\0`, 'utf8');
      const fields = [inode++, e.mode, e.owner, e.owner, 1, 0, e.data.length, 0, 0, e.rdevMajor, e.rdevMinor, nameBytes.length, 0];
      const header = Buffer.from(`070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}`, 'ascii');
      chunks.push(header, nameBytes, pad(header.length + nameBytes.length), e.data, pad(e.data.length));
    }
    return Buffer.concat(chunks);
  }

  private put(path: string, mode: number, data: Buffer, owner = 0, rdevMajor = 0, rdevMinor = 0): void {
    const p = normalize(path);
    const parent = normalize(posix.dirname(p));
    if (parent !== '' && !this.entries.has(parent)) this.directory(parent);
    this.entries.set(p, { mode, owner, data, rdevMajor, rdevMinor });
  }
}

const normalize = (path: string) => posix.normalize(path).replace(/^[/.]+$|^\/+|\/+$/g, '');
const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);

/** Shared libraries (and the dynamic loader) a host program needs, as `ldd` lists them. */
export async function sharedLibraries(program: string, signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await run('ldd', [program], { signal }).catch((err: Error) => {
    if (/not a dynamic executable/.test(err.message)) return { stdout: '' };
    throw err;
  });
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]);
    else if (/=>\s*not found/.test(line)) throw new Error(`${program} needs a library that is missing on this machine: ${line.trim()}`);
  }
  return libs;
}

export interface UserlandOptions {
  /**
   * Debian's dynamically linked busybox, for the shell: busybox-static's ash runs its own
   * applets before looking at PATH, so `nc` would never reach ncat. The other applets
   * are the static busybox, which starts about five times faster under TCG.
   */
  shellBusybox: string;
  /** The compiled guest tools (compileGuestTools): /usr/bin/nc and /usr/bin/curl. */
  tools: Record<GuestToolName, string>;
  modules: KernelModule[];
  files: GuestFile[];
  signal?: AbortSignal;
}

const BUSYBOX = '/bin/busybox';
const SHELL_BUSYBOX = '/bin/busybox-dynamic';
// The shell, and applets that run other programs by name: busybox-static would run its own
// applet of that name instead (its nc has no -c), so these come from the dynamic busybox.
const EXEC_APPLETS = new Set(
  'sh ash env xargs find timeout nohup nice setsid chroot time watch flock ionice taskset chrt nsenter unshare setpriv start-stop-daemon run-parts linux32 linux64 setarch'.split(
    ' ',
  ),
);
// glibc loads these at run time (ldd does not list them); recent glibc has them built in.
const NSS_LIBRARIES = ['/lib/x86_64-linux-gnu/libnss_files.so.2', '/lib/x86_64-linux-gnu/libnss_dns.so.2'];
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** A library under the name the loader looks for, with the contents of the file it links to. */
async function addLibrary(archive: CpioArchive, lib: string): Promise<void> {
  archive.file(lib, await readFile(await realpath(lib)), 0o755);
}

export async function buildUserland(archive: CpioArchive, opts: UserlandOptions): Promise<void> {
  for (const dir of ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/lib', '/lib64', '/etc', '/mnt', '/home', '/var/log']) archive.directory(dir);
  for (const dir of ['/proc', '/sys', '/dev', '/run', '/var/lib']) archive.directory(dir);
  archive.directory('/tmp', 0o1777);
  archive.directory('/root', 0o700);
  // The kernel opens /dev/console for /init before devtmpfs is mounted.
  archive.charDevice('/dev/console', 5, 1);
  archive.charDevice('/dev/null', 1, 3, 0o666);

  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing; install the Debian package busybox-static`);
  archive.file(BUSYBOX, await readFile(BUSYBOX), 0o755);
  const libraries = new Set<string>(await sharedLibraries(BUSYBOX, opts.signal));
  const { stdout } = await run(BUSYBOX, ['--list-full'], { signal: opts.signal });
  for (const applet of stdout.split('\n').filter((a) => a && a !== 'linuxrc' && a !== 'bin/busybox')) archive.symlink(`/${applet}`, BUSYBOX);
  archive.file(SHELL_BUSYBOX, await readFile(opts.shellBusybox), 0o755);
  const shellApplets = new Set((await run(opts.shellBusybox, ['--list'], { signal: opts.signal })).stdout.split('\n'));
  for (const applet of stdout.split('\n').filter((a) => EXEC_APPLETS.has(posix.basename(a)) && shellApplets.has(posix.basename(a)))) {
    archive.symlink(`/${applet}`, SHELL_BUSYBOX);
  }
  // bash too: scripts written for Fedora often start with #!/bin/bash, and ash runs the common ones.
  archive.symlink('/bin/bash', SHELL_BUSYBOX);
  for (const lib of await sharedLibraries(opts.shellBusybox, opts.signal)) libraries.add(lib);
  for (const lib of NSS_LIBRARIES) if (existsSync(lib)) libraries.add(lib);
  for (const lib of libraries) await addLibrary(archive, lib);
  // The walkthroughs use curl and ncat's `-c`: the small static programs in /usr/bin; the
  // host's, which they hand over to, packed with the libraries only they load (the kernel
  // unpacks the initramfs when a 128 MiB guest has least memory; /init unpacks these later).
  const real = new CpioArchive();
  const realLibraries = new Set<string>();
  for (const tool of GUEST_TOOLS) {
    if (!existsSync(tool.real)) throw new Error(`${tool.real} is missing; install the Debian packages curl and ncat`);
    for (const lib of await sharedLibraries(tool.real, opts.signal)) if (!libraries.has(lib)) realLibraries.add(lib);
    archive.file(`/usr/bin/${tool.name}`, await readFile(opts.tools[tool.name]), 0o755);
  }
  for (const lib of realLibraries) await addLibrary(real, lib);
  // The programs last: once one is there, so are its libraries.
  for (const tool of GUEST_TOOLS) real.file(posix.join(REAL_TOOLS_DIR, posix.basename(tool.real)), await readFile(tool.real), 0o755);
  const unpacked = real.finish();
  archive.file(REAL_TOOLS_ARCHIVE, gzipSync(unpacked, { level: 9 }));
  archive.file(`${REAL_TOOLS_ARCHIVE}.kb`, `${Math.ceil(unpacked.length / 1024)}\n`); // the room /init makes for them
  archive.symlink('/usr/bin/ncat', 'nc');
  if (existsSync(CA_BUNDLE)) archive.file(CA_BUNDLE, await readFile(CA_BUNDLE));

  for (const m of opts.modules) archive.file(`/lib/modules/${m.name}.ko`, m.data);
  archive.file('/lib/modules/load-order', opts.modules.map((m) => `${m.name}\n`).join(''));
  for (const f of opts.files) {
    if (f.directory) archive.directory(f.path, f.mode, f.owner);
    else archive.file(f.path, f.text, f.mode, f.owner);
  }
}
