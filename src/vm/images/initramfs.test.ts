import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { guestFiles } from './guest-files.js';
import { compileGuestTools, REAL_TOOLS_ARCHIVE } from './guest-tools.js';
import { buildUserland, CpioArchive, sharedLibraries } from './initramfs.js';
import { hasPvhNote, moduleDependencies, modulesInLoadOrder } from './kernel.js';
import { acquireLock } from './lock.js';

const work = mkdtempSync(join(tmpdir(), 'virtmesh-initramfs-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('CpioArchive', () => {
  it('writes a newc archive that cpio unpacks, parents first, later entries replacing earlier ones', () => {
    const a = new CpioArchive();
    a.file('/usr/bin/tool', 'first', 0o755);
    a.symlink('/usr/bin/nc', 'busybox');
    a.symlink('/usr/bin/nc', 'ncat');
    a.file('/usr/bin/tool', 'second', 0o750);
    a.directory('/home/fedora', 0o700, 1000);
    a.charDevice('/dev/console', 5, 1);
    const archive = join(work, 'a.cpio');
    writeFileSync(archive, a.finish());
    const list = spawnSync('cpio', ['-itv', '--numeric-uid-gid', '--quiet', '-F', archive], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    const names = list.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => /[A-Z][a-z]{2} +\d+ +(?:\d{4}|\d\d:\d\d) (.+)$/.exec(l)?.[1]);
    assert.deepEqual(names, ['usr', 'usr/bin', 'usr/bin/tool', 'usr/bin/nc -> ncat', 'home', 'home/fedora', 'dev', 'dev/console']);
    assert.match(list.stdout, /crw------- +1 0 +0 +5, +1 .* dev\/console/);
    assert.match(list.stdout, /drwx------ +\d+ 1000 +1000 .* home\/fedora/);
    const out = join(work, 'unpacked');
    spawnSync('mkdir', ['-p', out]);
    const x = spawnSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames', '-F', archive], { cwd: out, encoding: 'utf8' });
    assert.equal(x.status, 0, x.stderr);
    assert.equal(readFileSync(join(out, 'usr/bin/tool'), 'utf8'), 'second');
    assert.equal(statSync(join(out, 'usr/bin/tool')).mode & 0o777, 0o750);
    assert.equal(readlinkSync(join(out, 'usr/bin/nc')), 'ncat');
  });
});

describe('kernel modules', () => {
  const ko = (name: string, depends: string) => Buffer.from(`\x7fELF...\0license=GPL\0depends=${depends}\0name=${name}\0vermagic=6.1\0`, 'latin1');

  it('reads depends= from .modinfo and loads dependencies first', async () => {
    assert.deepEqual(moduleDependencies(ko('virtio_net', 'virtio_ring,virtio,net_failover')), ['virtio_ring', 'virtio', 'net_failover']);
    assert.deepEqual(moduleDependencies(ko('failover', '')), []);
    const files = new Map<string, string>();
    const fake: Record<string, string> = {
      virtio_ring: '',
      virtio: 'virtio_ring',
      failover: '',
      net_failover: 'failover',
      virtio_net: 'virtio_ring,virtio,net_failover',
    };
    for (const [name, deps] of Object.entries(fake)) {
      const path = join(work, `${name}.ko`);
      writeFileSync(path, ko(name, deps));
      files.set(name, path);
    }
    const order = (await modulesInLoadOrder(['virtio_net'], files, new Set())).map((m) => m.name);
    assert.deepEqual(order, ['virtio_ring', 'virtio', 'failover', 'net_failover', 'virtio_net']);
    // A built-in module needs no file and is not loaded.
    files.delete('failover');
    assert.deepEqual(
      (await modulesInLoadOrder(['net_failover'], files, new Set(['failover']))).map((m) => m.name),
      ['net_failover'],
    );
    await assert.rejects(modulesInLoadOrder(['virtio_blk'], files, new Set()), /kernel module virtio_blk is not in the kernel package/);
  });

  it('recognises a PVH-capable kernel ELF only by its Xen note', () => {
    assert.equal(hasPvhNote(Buffer.from('not an elf')), false);
    assert.equal(hasPvhNote(readFileSync(process.execPath)), false);
  });
});

describe('guest files', () => {
  it('are valid sh scripts', () => {
    for (const f of guestFiles((pw) => `hash-of-${pw}`).filter((f) => f.text.startsWith('#!/bin/sh'))) {
      const r = spawnSync('sh', ['-n', '-c', f.text], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${f.path}: ${r.stderr}`);
    }
  });

  it('give each flavour its default user', () => {
    const files = new Map(guestFiles((pw) => `hash-of-${pw}`).map((f) => [f.path, f.text]));
    assert.match(files.get('/etc/virtmesh/cirros/shadow') ?? '', /^cirros:hash-of-gocubsgo:/m);
    assert.match(files.get('/etc/virtmesh/fedora/shadow') ?? '', /^fedora:!:/m);
    assert.match(files.get('/etc/virtmesh/alpine/shadow') ?? '', /^root::/m);
    assert.match(files.get('/etc/virtmesh/fedora/passwd') ?? '', /^fedora:x:1000:1000::\/home\/fedora:\/bin\/sh$/m);
  });
});

describe('sharedLibraries', () => {
  it('lists what ldd lists, and nothing for a static program', async () => {
    const libs = await sharedLibraries('/usr/bin/curl');
    assert.ok(libs.some((l) => l.endsWith('/libcurl.so.4')));
    assert.ok(libs.some((l) => l.includes('ld-linux')));
    assert.deepEqual(await sharedLibraries('/bin/busybox'), []);
  });
});

/** Whether an ELF executable asks for a dynamic loader (has a PT_INTERP program header). */
function isDynamic(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const [size, count] = [elf.readUInt16LE(0x36), elf.readUInt16LE(0x38)];
  return Array.from({ length: count }, (_, i) => elf.readUInt32LE(phoff + i * size)).includes(3);
}

describe('the userland', () => {
  it('has the static nc and curl in /usr/bin, and the real ones packed with the libraries only they load', { timeout: 120_000 }, async () => {
    const toolsDir = join(work, 'tools');
    spawnSync('mkdir', ['-p', toolsDir]);
    const tools = await compileGuestTools(toolsDir);
    const archive = new CpioArchive();
    // busybox-static stands in for Debian's dynamic busybox (the shell) here.
    await buildUserland(archive, { shellBusybox: '/bin/busybox', tools, modules: [], files: guestFiles((pw) => pw) });
    const root = join(work, 'userland');
    spawnSync('mkdir', ['-p', root]);
    writeFileSync(join(work, 'userland.cpio'), archive.finish());
    assert.equal(spawnSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames', '-F', join(work, 'userland.cpio')], { cwd: root }).status, 0);
    for (const tool of ['nc', 'curl']) {
      const binary = readFileSync(join(root, 'usr/bin', tool));
      assert.equal(binary.subarray(0, 4).toString('latin1'), '\x7fELF');
      assert.equal(isDynamic(binary), false, `/usr/bin/${tool} is static`);
    }
    assert.equal(readlinkSync(join(root, 'usr/bin/ncat')), 'nc');
    // The real programs and their libraries are in the packed archive, not beside it.
    const packed = spawnSync('sh', ['-c', `zcat ${join(root, REAL_TOOLS_ARCHIVE)} | cpio -t --quiet`], { encoding: 'utf8' }).stdout.split('\n');
    assert.ok(packed.includes('usr/libexec/virtmesh/curl') && packed.includes('usr/libexec/virtmesh/ncat'), packed.join(' '));
    assert.ok(packed.some((p) => p.endsWith('/libcurl.so.4')));
    assert.deepEqual(packed.filter(Boolean).slice(-2), ['usr/libexec/virtmesh/ncat', 'usr/libexec/virtmesh/curl'], 'the programs come last');
    assert.ok(Number(readFileSync(join(root, `${REAL_TOOLS_ARCHIVE}.kb`), 'utf8')) > 1000);
  });
});

describe('build lock', () => {
  it('waits for a live holder and takes over a dead one', async () => {
    const path = join(work, 'lock');
    const release = await acquireLock(path);
    let waitedFor = 0;
    const second = acquireLock(path, { pollMs: 20, onWait: (pid) => (waitedFor = pid) });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(waitedFor, process.pid);
    await release();
    await (await second)();
    // A holder that died (no such pid) is stale.
    writeFileSync(path, JSON.stringify({ pid: 2 ** 22 + 12345, start: '1' }));
    await (await acquireLock(path, { pollMs: 20 }))();
    const aborted = new AbortController();
    const held = await acquireLock(path);
    const waiting = acquireLock(path, { pollMs: 20, signal: aborted.signal });
    aborted.abort();
    await assert.rejects(waiting, /abort/i);
    await held();
  });
});
