import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { listCatalog, resolveContainerDiskImage } from './catalog.js';

describe('image catalog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-catalog-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('maps the demo containerDisks to built-in flavours, with or without registry and tag', () => {
    const cases: Array<[string, string]> = [
      ['kubevirt/fedora-cloud-container-disk-demo', 'fedora'],
      ['quay.io/kubevirt/fedora-cloud-container-disk-demo:latest', 'fedora'],
      ['registry:5000/kubevirt/fedora-cloud-container-disk-demo:devel', 'fedora'],
      ['kubevirt/cirros-container-disk-demo', 'cirros'],
      ['docker.io/kubevirt/cirros-container-disk-demo:devel', 'cirros'],
      ['quay.io/kubevirt/alpine-container-disk-demo', 'alpine'],
      ['quay.io/containerdisks/fedora:40', 'fedora'],
      ['containerdisks/fedora', 'fedora'],
    ];
    for (const [ref, flavor] of cases) assert.deepEqual(resolveContainerDiskImage(ref), { kind: 'builtin', flavor, ref }, ref);
  });

  it('explains unknown images, tags and digests', () => {
    const unknown = resolveContainerDiskImage('quay.io/someone/windows:latest');
    assert.equal(unknown.kind, 'unknown');
    assert.equal(
      unknown.kind === 'unknown' && unknown.message,
      'image "quay.io/someone/windows:latest" is not in virtmesh\'s image catalog; run `virtmesh images` to list it, or give the absolute path of a qcow2/raw disk image',
    );
    const tag = resolveContainerDiskImage('kubevirt/cirros-container-disk-demo:v0.59.0');
    assert.match(tag.kind === 'unknown' ? tag.message : '', /has kubevirt\/cirros-container-disk-demo with the tags latest and devel, not "v0.59.0"/);
    assert.equal(resolveContainerDiskImage('kubevirt/cirros-container-disk-demo@sha256:abc').kind, 'unknown');
  });

  it('takes an absolute path as a disk image, qcow2 by its magic bytes', () => {
    const qcow2 = join(dir, 'disk.img');
    writeFileSync(qcow2, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(60)]));
    assert.deepEqual(resolveContainerDiskImage(qcow2), { kind: 'file', path: qcow2, format: 'qcow2' });
    const raw = join(dir, 'disk.raw');
    writeFileSync(raw, Buffer.alloc(512));
    assert.deepEqual(resolveContainerDiskImage(raw), { kind: 'file', path: raw, format: 'raw' });
    const fake = join(dir, 'fake.qcow2');
    writeFileSync(fake, 'not qcow2');
    assert.match(JSON.stringify(resolveContainerDiskImage(fake)), /named .qcow2 but has no qcow2 header/);
    assert.match(JSON.stringify(resolveContainerDiskImage(join(dir, 'missing.qcow2'))), /does not exist/);
    mkdirSync(join(dir, 'adir'));
    assert.match(JSON.stringify(resolveContainerDiskImage(join(dir, 'adir'))), /not a regular file/);
  });

  it('lists every catalog entry with its flavour', () => {
    const names = listCatalog().map((e) => `${e.name}=${e.flavor}`);
    assert.ok(names.includes('kubevirt/fedora-cloud-container-disk-demo=fedora'));
    assert.ok(names.includes('kubevirt/cirros-container-disk-demo=cirros'));
    for (const e of listCatalog()) assert.ok(e.description.length > 10);
  });
});
