// Istio's HTTP metadata exchange: the calling sidecar names its workload in request
// headers, the called sidecar answers with its own in response headers; each side
// reads and strips the other's, so the metrics of both reporters know both ends.

import type { WorkloadMeta } from '../config.js';

export const PEER_METADATA = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID = 'x-envoy-peer-metadata-id';

/** The header lines (CRLF-terminated) that announce `meta` as the workload behind node `nodeId`. */
export function peerHeaderLines(nodeId: string, meta: WorkloadMeta): string {
  const encoded = Buffer.from(JSON.stringify(meta)).toString('base64');
  return `${PEER_METADATA_ID}: ${nodeId}\r\n${PEER_METADATA}: ${encoded}\r\n`;
}

// Peers are few and their headers never change, so decoded metadata is cached by header value.
const decoded = new Map<string, WorkloadMeta | null>();
const MAX_CACHED = 512;
// A sidecar mostly talks to the same peer: comparing with the last value is cheaper than hashing it for the Map.
let lastValue = '';
let lastMeta: WorkloadMeta | null = null;

const FIELDS: Array<keyof WorkloadMeta> = [
  'workload',
  'namespace',
  'canonicalService',
  'canonicalRevision',
  'app',
  'version',
  'serviceAccount',
  'principal',
  'cluster',
  'podName',
  'ip',
];

/** The peer's workload from an x-envoy-peer-metadata value; undefined when absent or not ours to read. */
export function decodePeerMetadata(value: string | undefined): WorkloadMeta | undefined {
  if (!value) return undefined;
  if (value === lastValue) return lastMeta ?? undefined;
  let meta = decoded.get(value);
  if (meta === undefined) {
    meta = null;
    try {
      const v = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as Record<string, unknown>;
      if (v && typeof v === 'object' && typeof v.workload === 'string') {
        const m: Record<string, string> = {};
        for (const f of FIELDS) m[f] = typeof v[f] === 'string' ? (v[f] as string) : '';
        meta = m as unknown as WorkloadMeta;
      }
    } catch {
      // Not JSON: a peer speaking another encoding; treated as unknown.
    }
    if (decoded.size >= MAX_CACHED) decoded.clear();
    decoded.set(value, meta);
  }
  lastValue = value;
  lastMeta = meta;
  return meta ?? undefined;
}
