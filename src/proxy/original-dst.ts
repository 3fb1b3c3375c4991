// The original destination of a redirected connection (SO_ORIGINAL_DST), read
// through virtmesh's small native addon (native/original-dst, built by setup).

import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const addonPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'original-dst', 'build', 'Release', 'original_dst.node');

let addon: { originalDst(fd: number): [string, number] | null } | undefined;
function load() {
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)(addonPath) as typeof addon;
    } catch (e) {
      throw new Error(`the SO_ORIGINAL_DST addon is not built (${addonPath}): run npm run setup (${(e as Error).message})`);
    }
  }
  return addon!;
}

/** Throws now, at start-up, when the addon is missing, rather than on the first connection. */
export function ensureOriginalDst(): void {
  load();
}

/**
 * Where the connection was headed before the capture rules redirected it. A connection made straight to the
 * listener reports the listener's own address (conntrack tracks it too); undefined when nothing tracks it.
 */
export function originalDst(socket: Socket): { address: string; port: number } | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const r = load().originalDst(fd);
  return r ? { address: r[0], port: r[1] } : undefined;
}
