// One connection to an upstream endpoint, carrying one request at a time and kept
// for the next (keep-alive). It reads the response (head, then the body as framed:
// Content-Length, chunked, or until the connection closes, which a reset may end
// as well as a FIN) and hands it to whoever sent the request.

import type { Socket } from 'node:net';
import { ChunkedScanner } from './http-body.js';
import { findHeadEnd, HeadError, type HttpHead, parseResponseHead, skipEmptyLines, statusHasNoBody } from './http-head.js';

/** Envoy's limit for response heads (the same as for request heads). */
const MAX_RESPONSE_HEAD_BYTES = 60 * 1024;

export interface ResponseHandler {
  /**
   * The final response head (1xx other than 101 are skipped). `more`: body bytes or the response's end are
   * delivered before this read is done (so the head may wait to go out with them).
   */
  onResponseHead(head: HttpHead, more: boolean): void;
  /** Body bytes as the upstream framed them (a chunked body stays chunked). */
  onResponseBody(raw: Buffer): void;
  onResponseEnd(): void;
  /** The connection ended or broke before the response was complete (`headSeen` says whether the head came). */
  onResponseFailure(headSeen: boolean): void;
  /** After a 101: the socket now belongs to the caller, with the bytes that followed the head. */
  onUpgrade(socket: Socket, rest: Buffer | undefined): void;
  /** The socket's write buffer drained. */
  onUpstreamWritable(): void;
}

enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

export class UpstreamConn {
  /** Requests sent on this connection (for maxRequestsPerConnection). */
  requests = 0;
  /** Taken from the idle pool rather than freshly connected (its failures may be a stale keep-alive race). */
  reused = false;
  /** When it went idle (for the pool's idle sweep). */
  idleSince = 0;
  /** Whether the last response left the connection fit for another request. */
  reusable = true;
  /** Some byte of the current exchange's response arrived. */
  answered = false;
  /** The local address:port (for access logs), read once per connection rather than per request. */
  readonly local: string;
  #handler: ResponseHandler | undefined;
  #partial: Buffer | undefined;
  #head: HttpHead | undefined;
  #body = Body.None;
  #remaining = 0;
  #chunks: ChunkedScanner | undefined;
  #headRequest = false;
  #upgradeRequest = false;
  #detached = false;

  constructor(
    readonly socket: Socket,
    /** Called once when the socket is gone (to update the pool's counts). */
    readonly onGone: (conn: UpstreamConn) => void,
  ) {
    this.local = `${socket.localAddress}:${socket.localPort}`;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
  }

  get busy(): boolean {
    return this.#handler !== undefined;
  }

  /** Starts an exchange: responses now go to `handler`. */
  begin(handler: ResponseHandler, headRequest: boolean, upgradeRequest: boolean): void {
    this.#handler = handler;
    this.#headRequest = headRequest;
    this.#upgradeRequest = upgradeRequest;
    this.#head = undefined;
    this.#partial = undefined;
    this.reusable = true;
    this.answered = false;
    this.requests++;
  }

  /** Stops delivering to the current handler (its request was abandoned); the connection cannot be reused. */
  abandon(): void {
    this.#handler = undefined;
    this.reusable = false;
    this.socket.destroy();
  }

  #onDrain = (): void => {
    this.#handler?.onUpstreamWritable();
  };

  #onData = (chunk: Buffer): void => {
    const h = this.#handler;
    if (!h) {
      // Bytes on an idle connection are a protocol violation (or a late close notice): not reusable.
      this.reusable = false;
      this.socket.destroy();
      return;
    }
    this.answered = true;
    let buf = chunk;
    let i = 0;
    if (!this.#head) {
      if (this.#partial) {
        buf = Buffer.concat([this.#partial, chunk]);
        this.#partial = undefined;
      }
      for (;;) {
        i = skipEmptyLines(buf, i);
        const end = findHeadEnd(buf, i);
        if (end === -1) {
          if (buf.length - i > MAX_RESPONSE_HEAD_BYTES) {
            this.#fail(h);
            return;
          }
          if (i < buf.length) this.#partial = buf.subarray(i);
          return;
        }
        const head = parseResponseHead(buf, i, end);
        if (head instanceof HeadError) {
          this.#fail(h);
          return;
        }
        i = end;
        if (head.status === 101 && this.#upgradeRequest) {
          this.#detach();
          h.onResponseHead(head, false);
          if (this.#handler === h) {
            this.#handler = undefined;
            h.onUpgrade(this.socket, i < buf.length ? buf.subarray(i) : undefined);
          }
          return;
        }
        if (head.status >= 200) {
          this.#startBody(head);
          break;
        }
        if (head.status === 101) {
          this.#fail(h);
          return;
        }
      }
      h.onResponseHead(this.#head!, this.#body === Body.None || i < buf.length);
      if (this.#handler !== h) return;
      if (this.#body === Body.None) {
        this.#finish(h, buf, i);
        return;
      }
    }
    this.#readBody(h, buf, i);
  };

  #startBody(head: HttpHead): void {
    this.#head = head;
    if (this.#headRequest || statusHasNoBody(head.status)) this.#body = Body.None;
    else if (head.chunked) {
      this.#body = Body.Chunked;
      this.#chunks = new ChunkedScanner();
    } else if (head.contentLength >= 0 && !head.otherTransferEncoding) {
      this.#body = head.contentLength === 0 ? Body.None : Body.Length;
      this.#remaining = head.contentLength;
    } else this.#body = Body.UntilClose;
    this.reusable = head.keepAlive && this.#body !== Body.UntilClose;
  }

  #readBody(h: ResponseHandler, buf: Buffer, i: number): void {
    if (i >= buf.length) return;
    switch (this.#body) {
      case Body.Length: {
        const take = Math.min(this.#remaining, buf.length - i);
        this.#remaining -= take;
        h.onResponseBody(i === 0 && take === buf.length ? buf : buf.subarray(i, i + take));
        if (this.#remaining === 0 && this.#handler === h) this.#finish(h, buf, i + take);
        return;
      }
      case Body.Chunked: {
        const end = this.#chunks!.scan(buf, i);
        if (this.#chunks!.error) {
          this.#fail(h);
          return;
        }
        h.onResponseBody(i === 0 && end === -1 ? buf : buf.subarray(i, end === -1 ? buf.length : end));
        if (end !== -1 && this.#handler === h) this.#finish(h, buf, end);
        return;
      }
      case Body.UntilClose:
        h.onResponseBody(i === 0 ? buf : buf.subarray(i));
        return;
      case Body.None:
        return;
    }
  }

  #finish(h: ResponseHandler, buf: Buffer, used: number): void {
    // Bytes after the response: the upstream is not speaking HTTP/1.1 as we understand it.
    if (used < buf.length) this.reusable = false;
    this.#handler = undefined;
    this.#head = undefined;
    this.#chunks = undefined;
    h.onResponseEnd();
  }

  #fail(h: ResponseHandler): void {
    const headSeen = this.#head !== undefined;
    this.#handler = undefined;
    this.reusable = false;
    this.socket.destroy();
    h.onResponseFailure(headSeen);
  }

  /** The end of the connection: the end of a body that runs until close, else a failure. */
  #closed(): void {
    this.reusable = false;
    const h = this.#handler;
    if (!h) return;
    if (this.#head && this.#body === Body.UntilClose) {
      this.#handler = undefined;
      this.#head = undefined;
      h.onResponseEnd();
    } else this.#fail(h);
  }

  #onEnd = (): void => {
    this.#closed();
  };

  // A reset after a close-delimited response is how a server that never read the request ends it.
  #onError = (): void => {
    this.#closed();
  };

  #onClose = (): void => {
    this.#closed();
    if (!this.#detached) this.onGone(this);
  };

  /** Hands the socket over (an upgraded connection): no more parsing here. */
  #detach(): void {
    this.#detached = true;
    this.reusable = false;
    this.socket.removeListener('data', this.#onData);
    this.socket.removeListener('end', this.#onEnd);
    this.socket.removeListener('error', this.#onError);
    this.socket.removeListener('close', this.#onClose);
    this.socket.removeListener('drain', this.#onDrain);
    // Until the new owner listens, an error must not go unhandled.
    this.socket.on('error', () => {});
    this.onGone(this);
  }
}
