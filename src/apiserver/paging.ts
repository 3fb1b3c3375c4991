// Chunked lists (`limit` and `continue`), as kubectl asks for them (limit=500).
// The continue token has kube's shape: base64 of {"v","rv","start"}. Unlike etcd,
// the store keeps no snapshots, so a continued list shows the objects after the
// token's key as they are now.

import type { KubeObject } from '../store/index.js';
import { status } from './status.js';

// NUL sorts before every character a namespace or name may hold, so comparing these keys
// orders by (namespace, name) exactly as the store lists them ("a-b/x" < "a/x" would not).
const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}\u0000${o.metadata?.name ?? ''}`;

export interface Page {
  items: KubeObject[];
  continue?: string;
  remainingItemCount?: number;
}

function decodeToken(token: string): string {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (t.v !== 'meta.k8s.io/v1' || typeof t.start !== 'string') throw new Error('unknown format');
    return t.start;
  } catch (e) {
    throw status.badRequest(`continue key is not valid: ${(e as Error).message}`);
  }
}

/** `items` must be sorted by namespace/name (the store lists them so). */
export function paginate(items: KubeObject[], limit: string | null, token: string | null, resourceVersion: string): Page {
  let rest = items;
  if (token) {
    const after = decodeToken(token);
    rest = items.filter((o) => keyOf(o) > after);
  }
  const n = Number(limit);
  if (!limit || !Number.isInteger(n) || n <= 0 || rest.length <= n) return { items: rest };
  const page = rest.slice(0, n);
  const next = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(resourceVersion), start: keyOf(page[page.length - 1]) })).toString('base64');
  return { items: page, continue: next, remainingItemCount: rest.length - n };
}
