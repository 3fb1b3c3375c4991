// virtmesh's image catalog: the containerDisk images of KubeVirt's demos and docs map to
// flavours of the built-in guest (same default user and password, same tools for the
// walkthroughs); an absolute path names a local qcow2 or raw disk image instead.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname, isAbsolute } from 'node:path';
import type { GuestFlavor } from './guest-files.js';

export type ContainerDiskImage =
  | { kind: 'builtin'; flavor: GuestFlavor; ref: string }
  | { kind: 'file'; path: string; format: 'qcow2' | 'raw' }
  | { kind: 'unknown'; ref: string; message: string };

interface CatalogEntry {
  name: string;
  flavor: GuestFlavor;
  description: string;
  /** Tags besides latest/devel that the image's registry publishes. */
  tags?: RegExp;
}

const CATALOG: CatalogEntry[] = [
  {
    name: 'kubevirt/fedora-cloud-container-disk-demo',
    flavor: 'fedora',
    description: 'Fedora cloud demo: user fedora, password from cloud-init; curl, nc (ncat), sh',
  },
  { name: 'kubevirt/cirros-container-disk-demo', flavor: 'cirros', description: 'CirrOS demo: user cirros, password gocubsgo; curl, nc, sh' },
  { name: 'kubevirt/alpine-container-disk-demo', flavor: 'alpine', description: 'Alpine demo: user root, no password; curl, nc, sh' },
  {
    name: 'containerdisks/fedora',
    flavor: 'fedora',
    description: 'Fedora cloud (quay.io/containerdisks): user fedora, password from cloud-init',
    tags: /^\d+$/,
  },
];

const REGISTRIES = ['quay.io/', 'docker.io/', 'index.docker.io/', 'registry:5000/', 'localhost:5000/'];

/** The catalog, for `virtmesh images`. */
export function listCatalog(): Array<{ name: string; flavor: string; description: string }> {
  return CATALOG.map(({ name, flavor, description }) => ({ name, flavor, description }));
}

const unknownMessage = (ref: string) =>
  `image "${ref}" is not in virtmesh's image catalog; run \`virtmesh images\` to list it, or give the absolute path of a qcow2/raw disk image`;

/** What a VMI's containerDisk image (or a disk path) boots. */
export function resolveContainerDiskImage(ref: string): ContainerDiskImage {
  const image = ref.trim();
  if (isAbsolute(image)) return resolveFile(image);

  let name = image;
  for (const registry of REGISTRIES) if (name.startsWith(registry)) name = name.slice(registry.length);
  if (name.includes('@')) {
    return { kind: 'unknown', ref, message: `image "${ref}": virtmesh's built-in images have no digests; use the tag latest or devel` };
  }
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest';
  if (colon > name.lastIndexOf('/')) name = name.slice(0, colon);
  const entry = CATALOG.find((e) => e.name === name);
  if (!entry) return { kind: 'unknown', ref, message: unknownMessage(ref) };
  if (tag !== 'latest' && tag !== 'devel' && !entry.tags?.test(tag)) {
    return { kind: 'unknown', ref, message: `image "${ref}": virtmesh's catalog has ${entry.name} with the tags latest and devel, not "${tag}"` };
  }
  return { kind: 'builtin', flavor: entry.flavor, ref };
}

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb"

function resolveFile(path: string): ContainerDiskImage {
  const head = Buffer.alloc(4);
  try {
    if (!statSync(path).isFile()) return { kind: 'unknown', ref: path, message: `disk image ${path} is not a regular file` };
    const fd = openSync(path, 'r');
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { kind: 'unknown', ref: path, message: code === 'ENOENT' ? `disk image ${path} does not exist` : `cannot read disk image ${path} (${code})` };
  }
  if (head.equals(QCOW2_MAGIC)) return { kind: 'file', path, format: 'qcow2' };
  if (extname(path).toLowerCase() === '.qcow2') {
    return { kind: 'unknown', ref: path, message: `disk image ${path} is named .qcow2 but has no qcow2 header (QFI\\xfb)` };
  }
  return { kind: 'file', path, format: 'raw' };
}
