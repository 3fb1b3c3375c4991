// The downstream side of HTTP/1.1: reads request heads off a client connection,
// runs one request at a time (pipelined requests wait their turn, so responses go
// out in order), and guards the connection: head size and time limits, idle
// timeout, half-closed clients, clients that stop reading, drain.

import type { Socket } from 'node:net';
import { findHeadEnd, HeadError, MAX_HEAD_BYTES, parseRequestHead, reasonPhrase, skipEmptyLines } from './http-head.js';
import { HttpStream } from './http-stream.js';
import type { Flow, ProxyRuntime } from './runtime.js';

/** Why reading from the client is paused (bits; reading resumes when none is left). */
export enum Pause {
  /** The upstream's write buffer is full. */
  Upstream = 1,
  /** Pipelined requests pile up behind the current one. */
  Pipeline = 2,
  /** The request body waits for an upstream connection. */
  Connecting = 4,
}

const PIPELINE_LIMIT = 256 * 1024;

let cachedDate = '';
let cachedDateAt = 0;
/** The Date header value, formatted at most once a second. */
export function httpDate(now: number): string {
  if (now - cachedDateAt >= 1000) {
    cachedDateAt = now - (now % 1000);
    cachedDate = new Date(cachedDateAt).toUTCString();
  }
  return cachedDate;
}

export class HttpConnection {
  #pending: Buffer | undefined;
  #stream: HttpStream | undefined;
  #pause = 0;
  /** The client sent FIN. */
  #clientEnded = false;
  /** We decided to close: nothing more is read or answered. */
  #closing = false;
  #processing = false;
  /** Runs once per request head, from its first byte (never cleared while the connection lives: refresh re-arms it). */
  #headTimer: NodeJS.Timeout | undefined;
  #headDeadline = false;
  #gone = false;

  constructor(
    readonly socket: Socket,
    readonly flow: Flow,
    readonly rt: ProxyRuntime,
    /** The RouteConfiguration the filter chain names (looked up per request, so RDS updates apply at once). */
    readonly routeConfigName: string,
    initial: Buffer | undefined,
    /** The client's FIN already came (seen while sniffing). */
    ended: boolean,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(rt.limits.idleMs);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
    socket.on('timeout', this.#onTimeout);
    socket.resume();
    if (initial) this.#onData(initial);
    if (ended) this.#onEnd();
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Writes to the client; false when its buffer is full (wait for onDownstreamWritable). */
  write(data: string | Buffer): boolean {
    if (this.#gone) return true;
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  pauseFor(reason: Pause): void {
    if (this.#pause === 0) this.socket.pause();
    this.#pause |= reason;
  }

  resumeFor(reason: Pause): void {
    if ((this.#pause & reason) === 0) return;
    this.#pause &= ~reason;
    if (this.#pause === 0 && !this.#gone) this.socket.resume();
  }

  /** Answers on the proxy's own behalf with a complete response; returns the bytes written. */
  writeLocalReply(status: number, body: string, extraHeaders: string, close: boolean): number {
    const head =
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      (body ? 'content-type: text/plain\r\n' : '') +
      `date: ${httpDate(Date.now())}\r\nserver: envoy\r\n${extraHeaders}${close ? 'connection: close\r\n' : ''}\r\n`;
    this.write(head + body);
    return head.length + Buffer.byteLength(body);
  }

  /** Called by the stream when its response is complete (or abandoned). */
  streamDone(stream: HttpStream, keepAlive: boolean): void {
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    if (!keepAlive || this.rt.draining || (this.#clientEnded && !this.#pending)) {
      this.#closeGracefully();
      return;
    }
    this.resumeFor(Pause.Pipeline | Pause.Upstream | Pause.Connecting);
    if (!this.#processing) this.#process();
  }

  /** Gives the socket to an upgrade tunnel: no more HTTP here. Returns bytes the client already sent past the head. */
  takeOver(): Buffer | undefined {
    this.#stream = undefined;
    this.#gone = true;
    clearTimeout(this.#headTimer);
    this.socket.setTimeout(0);
    this.socket.removeListener('data', this.#onData);
    this.socket.removeListener('end', this.#onEnd);
    this.socket.removeListener('error', this.#onError);
    this.socket.removeListener('close', this.#onClose);
    this.socket.removeListener('drain', this.#onDrain);
    this.socket.removeListener('timeout', this.#onTimeout);
    const rest = this.#pending;
    this.#pending = undefined;
    this.#pause = 0;
    this.socket.resume();
    return rest;
  }

  #onData = (chunk: Buffer): void => {
    if (this.#closing) return;
    const s = this.#stream;
    if (s?.wantsBody) {
      const used = s.feedBody(chunk);
      if (used === chunk.length || this.#closing) return;
      this.#pending = chunk.subarray(used);
    } else this.#pending = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    if (!this.#processing) this.#process();
  };

  /** Starts the requests whose heads have arrived, one at a time. */
  #process(): void {
    this.#processing = true;
    try {
      while (!this.#stream && this.#pending && !this.#closing) {
        const buf = this.#pending;
        const start = skipEmptyLines(buf, 0);
        if (start === buf.length) {
          this.#pending = undefined;
          break;
        }
        const end = findHeadEnd(buf, start);
        if (end === -1 || end - start > MAX_HEAD_BYTES) {
          if (buf.length - start > MAX_HEAD_BYTES) {
            this.#refuse(431, 'Request Header Fields Too Large');
            return;
          }
          this.#pending = start > 0 ? buf.subarray(start) : buf;
          this.#armHeadTimer();
          break;
        }
        const head = parseRequestHead(buf, start, end);
        if (head instanceof HeadError) {
          this.#refuse(head.status, reasonPhrase(head.status));
          return;
        }
        this.#headDeadline = false;
        this.#pending = end < buf.length ? buf.subarray(end) : undefined;
        const stream = new HttpStream(this, head);
        this.#stream = stream;
        const rest = this.#pending;
        if (rest && stream.wantsBody) {
          this.#pending = undefined;
          const used = stream.feedBody(rest);
          // The body may have ended the stream and the connection (a bad chunk): then the rest is dropped.
          if (used < rest.length && !this.#closing) this.#pending = rest.subarray(used);
        }
        stream.start();
      }
      if (this.#stream && this.#pending && this.#pending.length > PIPELINE_LIMIT) this.pauseFor(Pause.Pipeline);
      // After the client's FIN, a partial head can never complete.
      if (!this.#stream && this.#clientEnded) this.#closeGracefully();
    } finally {
      this.#processing = false;
    }
  }

  /** A head the proxy will not forward: answer and close, as Envoy does on codec errors. */
  #refuse(status: number, body: string): void {
    this.writeLocalReply(status, body, '', true);
    this.#closeGracefully();
  }

  /** Starts the head's deadline at its first byte; later bytes of the same head do not extend it (slowloris). */
  #armHeadTimer(): void {
    if (this.#headDeadline) return;
    this.#headDeadline = true;
    if (this.#headTimer) this.#headTimer.refresh();
    else this.#headTimer = setTimeout(this.#onHeadTimeout, this.rt.limits.requestHeadersMs);
  }

  #onHeadTimeout = (): void => {
    if (!this.#headDeadline || this.#stream || this.#closing) return;
    this.#refuse(408, 'request header timeout');
  };

  #onEnd = (): void => {
    this.#clientEnded = true;
    const s = this.#stream;
    // A body cut short can never complete: the request is given up. A complete request is still answered.
    if (s?.wantsBody) s.abort();
    else if (!s) this.#closeGracefully();
  };

  #onTimeout = (): void => {
    if (this.#closing) this.socket.destroy();
    else if (this.#stream) this.#stream.onIdleTimeout();
    else this.#closeGracefully();
  };

  #onDrain = (): void => {
    this.#stream?.onDownstreamWritable();
  };

  #onError = (): void => {
    // 'close' follows; the stream is told there.
  };

  #onClose = (): void => {
    this.#gone = true;
    this.#closing = true;
    clearTimeout(this.#headTimer);
    this.#stream?.abort();
  };

  /** Half-closes after what was written, then gives the client a moment to close its side before forcing it. */
  #closeGracefully(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#pending = undefined;
    clearTimeout(this.#headTimer);
    this.socket.end();
    this.socket.setTimeout(this.rt.limits.delayedCloseMs);
    this.socket.resume();
  }
}
