// One request's trip through the sidecar, read top to bottom:
//   route (virtual host, route; 404 NR)  ->  direct response / fault (FI, DI)
//   -> cluster and retry policy  ->  try: endpoint (503 UH), connection (503 UF/UO),
//      request out, response back (retry on what the policy names; 504 UT)
//   -> response to the client  ->  metrics and access log.
// Bodies stream both ways with backpressure; a request body small enough to
// replay (64 KiB) is kept so a failed try can be retried.

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type ClusterRuntime, type EndpointState, endpointForFlow } from './cluster.js';
import type { WorkloadMeta } from './config.js';
import { downstreamResponseHead, upstreamRequestHead } from './forward-heads.js';
import { ChunkedScanner, chunkHeader, LAST_CHUNK } from './http-body.js';
import { type HttpConnection, Pause } from './http-connection.js';
import { type HttpHead, statusHasNoBody } from './http-head.js';
import { decideFault, FAULT_ABORT_BODY } from './layers/fault.js';
import { recordHttp } from './layers/http-telemetry.js';
import { decodePeerMetadata, PEER_METADATA } from './layers/peer-metadata.js';
import { backoffMs, ISTIO_DEFAULT_RETRY, NO_RETRY, type RetryRules, retriesFailure, retriesStatus, retryRulesFor, type TryFailure } from './layers/retry.js';
import { type HopTrace, traceHop } from './layers/trace-headers.js';
import { Flag } from './metrics.js';
import { type CompiledRoute, matchRoute, pickCluster } from './router.js';
import { tunnel } from './tunnel.js';
import type { ResponseHandler, UpstreamConn } from './upstream.js';

/** Bodies up to this size are kept for a retry (Istio's default per-request buffer). */
const MAX_REPLAY_BYTES = 64 * 1024;

/** Response bodies' first bytes up to this size are copied after the head, to go out in one write. */
const MERGE_MAX_BYTES = 16 * 1024;

export const UPSTREAM_RESET_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: ';

enum BodyMode {
  None,
  Length,
  Chunked,
}

/** How the response body goes to the client. */
enum Relay {
  /** As the upstream framed it. */
  Raw,
  /** Ended by the upstream's close: sent chunked so the client connection stays open. */
  Rechunk,
  /** Chunked upstream to an HTTP/1.0 client: the payload only, ended by our close. */
  Dechunk,
}

export class HttpStream implements ResponseHandler {
  readonly #startMs = Date.now();
  readonly #start = performance.now();
  readonly #rt;
  readonly #inbound: boolean;
  // The request body as it arrives.
  #bodyMode = BodyMode.None;
  #bodyLeft = 0;
  #bodyScanner: ChunkedScanner | undefined;
  #requestComplete = false;
  #bodyBytes = 0;
  /** Chunks not yet written to the current try, or (while #replayable) every chunk. */
  #body: Buffer[] = [];
  #bodySent = 0;
  #replayable = true;
  // Routing.
  #authority = '';
  #path = '/';
  /** The request target in origin form (what the upstream is sent). */
  #upHeadTarget = '/';
  #route: CompiledRoute | undefined;
  #cluster: ClusterRuntime | undefined;
  #retry: RetryRules = NO_RETRY;
  #trace: HopTrace | undefined;
  #flags = 0;
  #details = '';
  #upstreamFailure = '';
  // The current try.
  #tries = 0;
  /** Numbers each connection request, so a late answer to an abandoned one is recognised. */
  #attempt = 0;
  #tried: EndpointState[] = [];
  #ep: EndpointState | undefined;
  #up: UpstreamConn | undefined;
  #upLocal: string | undefined;
  #tryOpen = false;
  #upSentAt = 0;
  #upHead: string | undefined;
  #tryTimer: NodeJS.Timeout | undefined;
  #routeTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  // The response.
  #status = 0;
  #responseStarted = false;
  #relay = Relay.Raw;
  #dechunker: ChunkedScanner | undefined;
  #responseBytes = 0;
  #serviceMs = -1;
  #closeAfter = false;
  /** The response head, held until the body's first bytes or the response's end (in the same read) join it. */
  #headOut: string | undefined;
  #peer: WorkloadMeta | undefined;
  #done = false;

  constructor(
    readonly conn: HttpConnection,
    readonly req: HttpHead,
  ) {
    this.#rt = conn.rt;
    this.#inbound = conn.flow.direction === 'INBOUND';
    if (req.chunked) {
      this.#bodyMode = BodyMode.Chunked;
      this.#bodyScanner = new ChunkedScanner();
    } else if (req.contentLength > 0) {
      this.#bodyMode = BodyMode.Length;
      this.#bodyLeft = req.contentLength;
    } else this.#requestComplete = true;
  }

  get wantsBody(): boolean {
    return !this.#requestComplete && !this.#done;
  }

  /** Takes the request body's bytes from the front of `buf`; returns how many belonged to it. */
  feedBody(buf: Buffer): number {
    let used: number;
    if (this.#bodyMode === BodyMode.Length) {
      used = Math.min(this.#bodyLeft, buf.length);
      this.#bodyLeft -= used;
      if (this.#bodyLeft === 0) this.#requestComplete = true;
    } else {
      const end = this.#bodyScanner!.scan(buf, 0);
      if (this.#bodyScanner!.error) {
        this.#localReply(400, 'Bad Request', 'http1.invalid_chunk', 0);
        return buf.length;
      }
      used = end === -1 ? buf.length : end;
      if (end !== -1) this.#requestComplete = true;
    }
    this.#bodyBytes += used;
    if (used > 0) this.#onBodyChunk(used === buf.length ? buf : buf.subarray(0, used));
    if (this.#requestComplete) this.#onRequestComplete();
    return used;
  }

  #onBodyChunk(chunk: Buffer): void {
    if (this.#done) return;
    this.#body.push(chunk);
    if (this.#replayable && this.#bodyBytes > MAX_REPLAY_BYTES) this.#replayable = false;
    if (this.#up && this.#upSentAt > 0) this.#sendBody();
    else if (!this.#replayable) this.conn.pauseFor(Pause.Connecting);
  }

  #onRequestComplete(): void {
    const timeoutMs = this.#route?.route.route?.timeoutMs;
    if (timeoutMs && !this.#routeTimer && this.#cluster) this.#routeTimer = setTimeout(HttpStream.#routeTimeout, timeoutMs, this);
  }

  /** Routes the request and sends it on (or answers it here). */
  start(): void {
    if (this.#done) return;
    const req = this.req;
    let target = req.target;
    if (target.startsWith('http://') || target.startsWith('https://')) {
      // absolute-form (a client configured with this as its HTTP proxy): the authority is in the URL.
      const slash = target.indexOf('/', target.indexOf('//') + 2);
      this.#authority = req.host || target.slice(target.indexOf('//') + 2, slash === -1 ? undefined : slash);
      target = slash === -1 ? '/' : target.slice(slash);
    } else this.#authority = req.host;
    const q = target.search(/[?#]/);
    this.#path = q === -1 ? target : target.slice(0, q);
    this.#upHeadTarget = target;
    this.#trace = traceHop(req, this.#rt.samplePercent);
    if (this.#inbound) this.#peer = decodePeerMetadata(req.get(PEER_METADATA));
    if (!this.#authority) {
      if (req.minor === 1) {
        this.#localReply(400, 'Bad Request', 'missing_host_header', 0);
        return;
      }
      this.#authority = `${this.conn.flow.dst.address}:${this.conn.flow.dst.port}`;
    }
    if (req.method === 'CONNECT') {
      this.#localReply(403, 'Forbidden', 'connect_not_allowed', 0);
      return;
    }
    const rc = this.#rt.store.routes.get(this.conn.routeConfigName);
    const vh = rc?.findVirtualHost(this.#authority);
    const route = vh ? matchRoute(vh, req, this.#authority, this.#path, target) : undefined;
    if (!route) {
      this.#localReply(404, '', 'route_not_found', Flag.NR);
      return;
    }
    this.#route = route;
    const r = route.route;
    if (r.directResponse) {
      this.#localReply(r.directResponse.status, r.directResponse.body ?? '', 'direct_response', 0);
      return;
    }
    const fault = decideFault(r);
    if (fault.delayMs > 0) {
      this.#flags |= Flag.DI;
      this.#retryTimer = setTimeout(() => this.#afterDelay(fault.abortStatus), fault.delayMs);
      return;
    }
    this.#afterDelay(fault.abortStatus);
  }

  #afterDelay(abortStatus: number): void {
    if (this.#done) return;
    if (abortStatus > 0) {
      this.#localReply(abortStatus, FAULT_ABORT_BODY, 'fault_filter_abort', Flag.FI);
      return;
    }
    const action = this.#route!.route.route!;
    const name = pickCluster(this.#route!);
    const cluster = name === undefined ? undefined : this.#rt.store.clusters.get(name);
    if (!cluster) {
      this.#localReply(503, '', 'cluster_not_found', Flag.NC);
      return;
    }
    this.#cluster = cluster;
    this.#retry = this.#inbound ? retryRulesFor(action, NO_RETRY) : retryRulesFor(action, ISTIO_DEFAULT_RETRY);
    // Envoy answers 100-continue itself and does not pass Expect on.
    if (this.req.expectContinue && !this.#requestComplete) this.conn.write('HTTP/1.1 100 Continue\r\n\r\n');
    if (this.#requestComplete) this.#onRequestComplete();
    this.#try();
  }

  #try(): void {
    this.#retryTimer = undefined;
    if (this.#done) return;
    const cluster = this.#cluster!;
    const now = Date.now();
    const ep = endpointForFlow(cluster, this.conn.flow, this.#tried, now);
    if (!ep) {
      this.#localReply(503, 'no healthy upstream', 'no_healthy_upstream', Flag.UH);
      return;
    }
    this.#tries++;
    this.#tried.push(ep);
    this.#ep = ep;
    this.#tryOpen = true;
    ep.activeRequests++;
    cluster.stats.upstream_rq_total++;
    cluster.stats.upstream_rq_active++;
    if (this.#retry.perTryTimeoutMs > 0) this.#tryTimer = setTimeout(HttpStream.#tryTimeout, this.#retry.perTryTimeoutMs, this);
    const attempt = ++this.#attempt;
    cluster.acquire(ep, (r) => {
      if (typeof r !== 'string' && (this.#done || attempt !== this.#attempt)) {
        cluster.release(r, true, ep, Date.now());
        return;
      }
      if (this.#done || attempt !== this.#attempt) return;
      if (r === 'connect-failure') return this.#tryFailed('connect-failure');
      if (r === 'overflow') return this.#localReply(503, UPSTREAM_RESET_BODY + 'overflow', 'upstream_reset_before_response_started{overflow}', Flag.UO);
      this.#send(r);
    });
  }

  /** Writes the request (head and the body so far) on an upstream connection. */
  #send(up: UpstreamConn): void {
    this.#up = up;
    this.#upLocal = up.local;
    up.begin(this, this.req.method === 'HEAD', this.#isUpgrade());
    this.#upHead ??= upstreamRequestHead({
      req: this.req,
      target: this.#upHeadTarget,
      authority: this.#authority,
      route: this.#route!.route,
      matchedPrefix: this.#route!.prefix,
      chunkedBody: this.#bodyMode === BodyMode.Chunked,
      upgrade: this.#isUpgrade(),
      trace: this.#trace!,
      peerHeaders: this.#inbound ? '' : this.#rt.peerHeaders,
    });
    up.socket.cork();
    up.socket.write(this.#upHead, 'latin1');
    this.#upSentAt = performance.now();
    this.#bodySent = 0;
    this.#sendBody();
    up.socket.uncork();
    this.conn.resumeFor(Pause.Connecting);
  }

  #sendBody(): void {
    const up = this.#up!;
    let ok = true;
    for (let i = this.#bodySent; i < this.#body.length; i++) ok = up.socket.write(this.#body[i]);
    this.#bodySent = this.#body.length;
    if (!this.#replayable) {
      this.#body = [];
      this.#bodySent = 0;
    }
    if (!ok) this.conn.pauseFor(Pause.Upstream);
  }

  onUpstreamWritable(): void {
    this.conn.resumeFor(Pause.Upstream);
  }

  #isUpgrade(): boolean {
    return this.req.connectionUpgrade && this.req.upgrade !== '' && this.req.upgrade.toLowerCase() !== 'h2c';
  }

  onResponseHead(head: HttpHead, more: boolean): void {
    if (this.#done) return;
    clearTimeout(this.#tryTimer);
    const now = performance.now();
    if (this.#canRetry() && retriesStatus(this.#retry, head.status)) {
      this.#cluster!.noteResult(this.#ep!, head.status >= 500, Date.now());
      this.#endTry(false);
      this.#scheduleRetry();
      return;
    }
    this.#serviceMs = now - this.#upSentAt;
    this.#status = head.status;
    this.#cluster!.stats.byClass[Math.min(5, Math.floor(head.status / 100))]++;
    this.#cluster!.noteResult(this.#ep!, head.status >= 500, Date.now());
    if (!this.#inbound) this.#peer = decodePeerMetadata(head.get(PEER_METADATA));
    const req = this.req;
    const bodyless = req.method === 'HEAD' || statusHasNoBody(head.status);
    const closeDelimited = !bodyless && !head.chunked && (head.contentLength < 0 || head.otherTransferEncoding);
    if (req.minor === 0) {
      this.#relay = head.chunked && !bodyless ? Relay.Dechunk : Relay.Raw;
      if (this.#relay === Relay.Dechunk) this.#dechunker = new ChunkedScanner();
      this.#closeAfter = !req.keepAlive || this.#relay === Relay.Dechunk || closeDelimited;
    } else {
      this.#relay = closeDelimited ? Relay.Rechunk : Relay.Raw;
      this.#closeAfter = !req.keepAlive;
    }
    if (this.#rt.draining) this.#closeAfter = true;
    const s = downstreamResponseHead({
      head,
      chunked: (head.chunked && this.#relay === Relay.Raw) || this.#relay === Relay.Rechunk,
      dropLength: head.chunked || this.#relay !== Relay.Raw,
      serviceMs: this.#serviceMs,
      peerHeaders: this.#inbound ? this.#rt.peerHeaders : '',
      route: this.#route!.route,
      close: this.#closeAfter,
    });
    this.#responseStarted = true;
    this.#responseBytes += s.length;
    // The body's first bytes (or the response's end) usually came in the same read: the head waits for them.
    if (more) this.#headOut = s;
    else this.conn.write(s);
  }

  onResponseBody(raw: Buffer): void {
    if (this.#done) return;
    const head = this.#headOut;
    if (head === undefined) {
      this.#relayBody(raw);
      return;
    }
    this.#headOut = undefined;
    if (this.#relay === Relay.Raw && raw.length <= MERGE_MAX_BYTES) {
      // One buffer, one write: cheaper than a corked string and buffer going out as a writev.
      this.#responseBytes += raw.length;
      const out = Buffer.allocUnsafe(head.length + raw.length);
      out.write(head, 0, 'latin1');
      raw.copy(out, head.length);
      if (!this.conn.write(out)) this.#up?.socket.pause();
      return;
    }
    const socket = this.conn.socket;
    socket.cork();
    this.conn.write(head);
    this.#relayBody(raw);
    socket.uncork();
  }

  /** Sends body bytes on to the client as the relay mode frames them. */
  #relayBody(raw: Buffer): void {
    let ok: boolean;
    if (this.#relay === Relay.Raw) {
      this.#responseBytes += raw.length;
      ok = this.conn.write(raw);
    } else if (this.#relay === Relay.Rechunk) {
      const size = chunkHeader(raw.length);
      this.#responseBytes += size.length + raw.length + 2;
      this.conn.socket.cork();
      this.conn.write(size);
      this.conn.write(raw);
      ok = this.conn.write('\r\n');
      this.conn.socket.uncork();
    } else {
      ok = true;
      this.#dechunker!.scan(raw, 0, (payload) => {
        this.#responseBytes += payload.length;
        ok = this.conn.write(payload) && ok;
      });
    }
    if (!ok) this.#up?.socket.pause();
  }

  onDownstreamWritable(): void {
    this.#up?.socket.resume();
  }

  onResponseEnd(): void {
    if (this.#done) return;
    const head = this.#headOut;
    this.#headOut = undefined;
    if (this.#relay === Relay.Rechunk) {
      this.#responseBytes += LAST_CHUNK.length;
      this.conn.write(head === undefined ? LAST_CHUNK : head + LAST_CHUNK);
    } else if (head !== undefined) this.conn.write(head);
    this.#endTry(this.#requestComplete);
    this.#finish();
  }

  onResponseFailure(headSeen: boolean): void {
    if (this.#done) return;
    clearTimeout(this.#tryTimer);
    // Nothing came back on a connection taken from the pool: most likely the server closed it as we reused it.
    const staleKeepAlive = this.#up?.reused === true && !this.#up.answered;
    this.#cluster!.noteResult(this.#ep!, true, Date.now());
    this.#endTry(false);
    if (!this.#responseStarted && !headSeen) {
      // Try a fresh connection at once, as HTTP clients do (not counted as a retry).
      if (staleKeepAlive && this.#replayable) {
        this.#tries--;
        this.#tried.pop();
        this.#try();
        return;
      }
      this.#tryFailed('reset');
      return;
    }
    // The response was cut short: the client can only see the connection break.
    this.#flags |= Flag.UC;
    this.#details = 'upstream_reset_after_response_started{connection_termination}';
    this.#abortDownstream();
  }

  onUpgrade(socket: Socket, rest: Buffer | undefined): void {
    if (this.#done) {
      socket.destroy();
      return;
    }
    // The socket is the tunnel's now, not the pool's.
    this.#up = undefined;
    this.#endTry(false);
    const down = this.conn.takeOver();
    tunnel(this.conn.socket, socket, down, rest, false, this.#rt.limits.tcpIdleMs, {
      received: (n) => {
        this.#bodyBytes += n;
      },
      sent: (n) => {
        this.#responseBytes += n;
      },
      closed: () => this.#finish(),
    });
  }

  /** The client is gone (or cut its body short): give up the request (DC). */
  abort(): void {
    if (this.#done) return;
    this.#flags |= Flag.DC;
    if (!this.#details) this.#details = 'downstream_remote_disconnect';
    this.#endTry(false);
    this.#closeAfter = true;
    this.#finish();
  }

  /** No traffic for the idle timeout with this request in flight (Envoy's stream idle timeout). */
  onIdleTimeout(): void {
    if (this.#done) return;
    this.#flags |= Flag.SI;
    if (!this.#responseStarted) {
      this.#localReply(408, 'stream timeout', 'stream_idle_timeout', 0);
      return;
    }
    this.#details = 'stream_idle_timeout';
    this.#abortDownstream();
  }

  // Timer callbacks are static, given the stream as an argument: no closures made per request.
  static #routeTimeout(s: HttpStream): void {
    s.#onRouteTimeout();
  }

  static #tryTimeout(s: HttpStream): void {
    s.#onTryTimeout();
  }

  #onRouteTimeout(): void {
    this.#routeTimer = undefined;
    if (this.#done) return;
    this.#cluster!.stats.upstream_rq_timeout++;
    this.#endTry(false);
    clearTimeout(this.#retryTimer);
    if (!this.#responseStarted) {
      this.#localReply(504, 'upstream request timeout', 'response_timeout', Flag.UT);
      return;
    }
    this.#flags |= Flag.UT;
    this.#details = 'response_timeout';
    this.#abortDownstream();
  }

  #onTryTimeout(): void {
    if (this.#done || this.#responseStarted) return;
    this.#cluster!.stats.upstream_rq_timeout++;
    this.#endTry(false);
    if (this.#canRetry() && retriesFailure(this.#retry, 'per-try-timeout')) {
      this.#scheduleRetry();
      return;
    }
    this.#localReply(504, 'upstream request timeout', 'response_timeout', Flag.UT);
  }

  #canRetry(): boolean {
    return this.#tries <= this.#retry.numRetries && this.#replayable && !this.#responseStarted && !this.#done;
  }

  #tryFailed(failure: TryFailure): void {
    if (failure === 'connect-failure') this.#cluster!.noteResult(this.#ep!, true, Date.now());
    this.#endTry(false);
    if (this.#canRetry() && retriesFailure(this.#retry, failure)) {
      this.#scheduleRetry();
      return;
    }
    const retried = this.#tries > 1 ? Flag.URX : 0;
    if (failure === 'connect-failure') {
      this.#upstreamFailure = 'delayed_connect_error:_Connection_refused';
      this.#localReply(503, UPSTREAM_RESET_BODY + 'connection failure', 'upstream_reset_before_response_started{connection_failure}', Flag.UF | retried);
      return;
    }
    this.#localReply(503, UPSTREAM_RESET_BODY + 'connection termination', 'upstream_reset_before_response_started{connection_termination}', Flag.UC | retried);
  }

  #scheduleRetry(): void {
    this.#cluster!.stats.upstream_rq_retry++;
    this.#retryTimer = setTimeout(() => this.#try(), backoffMs(this.#tries));
  }

  /** Ends the current try's bookkeeping; the connection goes back to the pool only when `reuse`. */
  #endTry(reuse: boolean): void {
    clearTimeout(this.#tryTimer);
    const up = this.#up;
    this.#up = undefined;
    this.#upSentAt = 0;
    if (up) this.#cluster!.release(up, reuse, this.#ep!, Date.now());
    if (!this.#tryOpen) return;
    this.#tryOpen = false;
    this.#ep!.activeRequests--;
    this.#cluster!.stats.upstream_rq_active--;
  }

  /** A response made here (errors, direct responses, faults). */
  #localReply(status: number, body: string, details: string, flags: number): void {
    if (this.#done) return;
    this.#endTry(false);
    this.#flags |= flags;
    this.#details = details;
    if (this.#responseStarted) {
      this.#abortDownstream();
      return;
    }
    this.#status = status;
    this.#responseStarted = true;
    // A body still on its way would be read as the next request: close instead, as Envoy does.
    this.#closeAfter = !this.#requestComplete || !this.req.keepAlive || this.#rt.draining;
    this.#responseBytes += this.conn.writeLocalReply(status, body, this.#inbound ? this.#rt.peerHeaders : '', this.#closeAfter);
    this.#finish();
  }

  /** Breaks the client connection mid-response (Envoy resets the stream). */
  #abortDownstream(): void {
    this.#closeAfter = true;
    this.#finish();
    this.conn.socket.destroy();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#routeTimer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#tryTimer);
    this.#endTry(false);
    const durationMs = performance.now() - this.#start;
    recordHttp(this.#rt, {
      flow: this.conn.flow,
      req: this.req,
      authority: this.#authority,
      status: this.#status,
      flags: this.#flags,
      details: this.#details,
      upstreamFailure: this.#upstreamFailure,
      bodyBytes: this.#bodyBytes,
      responseBytes: this.#responseBytes,
      startMs: this.#startMs,
      durationMs,
      serviceMs: this.#serviceMs,
      peer: this.#peer,
      cluster: this.#cluster,
      endpoint: this.#ep,
      requestId: this.#trace?.requestId,
      upstreamLocal: this.#upLocal,
      routeName: this.#route?.route.name,
    });
    this.conn.streamDone(this, !this.#closeAfter && this.#requestComplete);
  }
}
