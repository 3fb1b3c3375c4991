// `virtmesh images`: the containerDisk catalog, and building the guest images ahead of the first VM.

import { ensureGuestImages, isGuestImageBuilt, listCatalog, parseAccelSetting, resolveAccelerator } from '../vm/index.js';
import type { CliConfig } from './config.js';
import { progressBar } from './progress.js';

/** Builds the guest images when missing, with a progress bar; quick when they are cached. */
export async function buildGuestImages(cfg: CliConfig, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (await isGuestImageBuilt(cfg.imageCacheDir)) return;
  out.write(`• Building the guest images into ${cfg.imageCacheDir} (once; a kernel and a busybox initramfs from Debian packages)\n`);
  const started = Date.now();
  const bar = progressBar(out);
  await ensureGuestImages({ cacheDir: cfg.imageCacheDir, onProgress: (s, f) => bar.update(s, f) });
  bar.done();
  out.write(`• Guest images built (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
}

export async function images(cfg: CliConfig, build: boolean, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (build) {
    await buildGuestImages(cfg, out);
    // With the image at hand, the accelerator is tried too (the verdict is cached for this boot, as `cluster up` would find it).
    const accel = await resolveAccelerator({ setting: parseAccelSetting(cfg.vmAccel), imageCacheDir: cfg.imageCacheDir });
    out.write(`• VMs run with ${accel.summary}\n`);
  }
  const built = await isGuestImageBuilt(cfg.imageCacheDir);
  const rows = listCatalog().map((e) => [e.name, e.flavor, e.description]);
  const widths = [0, 1].map((i) => Math.max(i === 0 ? 'IMAGE'.length : 'GUEST'.length, ...rows.map((r) => r[i].length)));
  out.write(`${'IMAGE'.padEnd(widths[0])}   ${'GUEST'.padEnd(widths[1])}   DESCRIPTION\n`);
  for (const r of rows) out.write(`${r[0].padEnd(widths[0])}   ${r[1].padEnd(widths[1])}   ${r[2]}\n`);
  out.write(`\nGuest images ${built ? 'built' : 'not built yet (`virtmesh images --build`, or the first VM builds them)'} in ${cfg.imageCacheDir}.\n`);
  out.write('A containerDisk image may also be the absolute path of a local qcow2 or raw disk image (e.g. a cloud image).\n');
}
