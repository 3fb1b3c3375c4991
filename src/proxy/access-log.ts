// Access log lines in the text format Istio configures Envoy with (the demo
// profile's /dev/stdout log), one per request or TCP connection, batched so the
// hot path never waits on a write to stdout.

export interface AccessRecord {
  startMs: number;
  /** "-" for TCP. */
  method: string;
  path: string;
  protocol: string;
  code: number;
  flags: string;
  details: string;
  upstreamFailure: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  /** -1 when there was no upstream response. */
  upstreamServiceMs: number;
  forwardedFor: string | undefined;
  userAgent: string | undefined;
  requestId: string | undefined;
  authority: string | undefined;
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  upstreamLocal: string | undefined;
  downstreamLocal: string;
  downstreamRemote: string;
  routeName: string | undefined;
}

const dash = (v: string | number | undefined) => (v === undefined || v === '' ? '-' : v);

export function formatAccessLog(r: AccessRecord): string {
  return (
    `[${new Date(r.startMs).toISOString()}] "${r.method} ${r.path} ${r.protocol}" ${r.code} ${r.flags} ${dash(r.details)} - "${dash(r.upstreamFailure)}" ` +
    `${r.bytesReceived} ${r.bytesSent} ${Math.round(r.durationMs)} ${r.upstreamServiceMs < 0 ? '-' : Math.round(r.upstreamServiceMs)} ` +
    `"${dash(r.forwardedFor)}" "${dash(r.userAgent)}" "${dash(r.requestId)}" "${dash(r.authority)}" "${dash(r.upstreamHost)}" ` +
    `${dash(r.upstreamCluster)} ${dash(r.upstreamLocal)} ${r.downstreamLocal} ${r.downstreamRemote} - ${dash(r.routeName)}`
  );
}

/** A line sink that gathers lines and writes them together once per turn of the event loop. */
export function createBatchedWriter(write: (text: string) => void): { line: (line: string) => void; flush: () => void } {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('\n') + '\n';
    pending = [];
    write(text);
  };
  return {
    line(line: string) {
      pending.push(line);
      if (pending.length >= 256) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
