// The proxy's side of the discovery protocol (../pilot/protocol.ts): one TCP
// connection carrying newline-delimited JSON. It subscribes to every type, applies
// each response, and answers with an ACK (the response's version and nonce) or a
// NACK (the nonce, the version still in force and why), as Envoy does over ADS.
// When the control plane goes away the proxy keeps serving its last config and
// reconnects with jittered exponential backoff, re-sending the versions it has.

import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { DiscoveryRequest } from '../pilot/protocol.js';
import { type ProxyNode, TypeUrl } from './config.js';
import type { Logger } from './runtime.js';

/** Envoy subscribes clusters first (their endpoints next), then listeners and their routes. */
export const SUBSCRIPTION_ORDER: TypeUrl[] = [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route, TypeUrl.extension];

/** gRPC's INVALID_ARGUMENT, the code Envoy puts in a NACK's error_detail. */
const INVALID_ARGUMENT = 3;
/** A single message larger than this is not a config push we are willing to hold. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5_000;

export interface XdsClientOptions {
  host: string;
  port: number;
  node: ProxyNode;
  /** Applies a push; returns why it was refused (then a NACK goes back), or undefined. */
  apply(typeUrl: TypeUrl, resources: unknown[], version: string): string | undefined;
  /** The version in force for a type ("" before any). */
  versionOf(typeUrl: TypeUrl): string;
  log: Logger;
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface XdsStatus {
  connected: boolean;
  address: string;
  connects: number;
  acks: number;
  nacks: number;
  lastNack: { typeUrl: string; nonce: string; message: string; at: string } | undefined;
}

/**
 * Events: 'connected', 'disconnected', 'ack' (typeUrl, version), 'nack' (typeUrl, message).
 */
export class XdsClient extends EventEmitter {
  readonly #opts: XdsClientOptions;
  #socket: Socket | undefined;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #status: XdsStatus;

  constructor(opts: XdsClientOptions) {
    super();
    this.#opts = opts;
    this.#status = { connected: false, address: `${opts.host}:${opts.port}`, connects: 0, acks: 0, nacks: 0, lastNack: undefined };
  }

  status(): XdsStatus {
    return { ...this.#status };
  }

  start(): void {
    this.#connect();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  /** The wait before reconnect attempt n (from 0): doubling from the initial wait up to the cap, each drawn from [half, full]. */
  backoffMs(n: number): number {
    const initial = this.#opts.backoff?.initialMs ?? 500;
    const max = this.#opts.backoff?.maxMs ?? 10_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(n, 30));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  #connect(): void {
    if (this.#closed) return;
    const { host, port } = this.#opts;
    const socket = connect({ host, port, noDelay: true });
    this.#socket = socket;
    this.#partial = [];
    this.#partialBytes = 0;
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy());
    socket.setKeepAlive(true, 10_000);
    socket.on('connect', () => {
      socket.setTimeout(0);
      this.#status.connected = true;
      this.#status.connects++;
      this.#opts.log.info(`xds: connected to ${host}:${port}`);
      // The first request carries the node; every type restates the version in force, so a control plane
      // that restarted sees what the proxy runs, and answers with a full push.
      SUBSCRIPTION_ORDER.forEach((typeUrl, i) => {
        const req: DiscoveryRequest = { typeUrl, versionInfo: this.#opts.versionOf(typeUrl), responseNonce: '' };
        if (i === 0) req.node = this.#opts.node;
        this.#send(socket, req);
      });
      this.emit('connected');
    });
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', (e) => this.#opts.log.debug(`xds: ${host}:${port}: ${e.message}`));
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      const wasConnected = this.#status.connected;
      this.#status.connected = false;
      if (wasConnected) {
        this.#opts.log.warn(`xds: connection to ${host}:${port} closed; serving the last config`);
        this.emit('disconnected');
      } else if (this.#failures === 0) this.#opts.log.warn(`xds: cannot reach ${host}:${port}; retrying`);
      if (this.#closed) return;
      const wait = this.backoffMs(this.#failures++);
      this.#retryTimer = setTimeout(() => this.#connect(), wait);
    });
  }

  #send(socket: Socket, req: DiscoveryRequest): void {
    if (!socket.destroyed) socket.write(JSON.stringify(req) + '\n');
  }

  #onData(socket: Socket, chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      const piece = chunk.subarray(start, nl);
      const line = this.#partial.length > 0 ? Buffer.concat([...this.#partial, piece]).toString('utf8') : piece.toString('utf8');
      this.#partial = [];
      this.#partialBytes = 0;
      if (line.trim() !== '') this.#onMessage(socket, line);
      // A line that made us drop the connection ends the chunk: its close event comes later.
      if (this.#socket !== socket || socket.destroyed) return;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      this.#partial.push(start === 0 ? chunk : chunk.subarray(start));
      this.#partialBytes += chunk.length - start;
      if (this.#partialBytes > MAX_MESSAGE_BYTES) {
        this.#opts.log.error('xds: message too large; reconnecting');
        socket.destroy();
      }
    }
  }

  #onMessage(socket: Socket, line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // Without a nonce there is nothing to NACK: the stream itself is broken.
      this.#opts.log.error('xds: a message is not JSON; reconnecting');
      socket.destroy();
      return;
    }
    if (!msg || typeof msg !== 'object' || typeof msg.typeUrl !== 'string' || typeof msg.nonce !== 'string') {
      this.#opts.log.warn('xds: ignoring a message without typeUrl or nonce');
      return;
    }
    this.#failures = 0;
    const typeUrl = msg.typeUrl as TypeUrl;
    const nonce = msg.nonce;
    const previous = this.#opts.versionOf(typeUrl);
    let why: string | undefined;
    if (typeof msg.versionInfo !== 'string') why = 'versionInfo is not a string';
    else if (!Array.isArray(msg.resources)) why = 'resources is not a list';
    else {
      try {
        why = this.#opts.apply(typeUrl, msg.resources, msg.versionInfo);
      } catch (e) {
        why = `internal error applying the config: ${(e as Error).message}`;
      }
    }
    if (why) {
      this.#status.nacks++;
      this.#status.lastNack = { typeUrl, nonce, message: why, at: new Date().toISOString() };
      this.#opts.log.warn(`xds: rejected ${typeUrl} version ${String(msg.versionInfo)}: ${why}`);
      this.#send(socket, { typeUrl, versionInfo: previous, responseNonce: nonce, errorDetail: { code: INVALID_ARGUMENT, message: why } });
      this.emit('nack', typeUrl, why);
      return;
    }
    this.#status.acks++;
    this.#opts.log.debug(`xds: applied ${typeUrl} version ${String(msg.versionInfo)}`);
    this.#send(socket, { typeUrl, versionInfo: msg.versionInfo as string, responseNonce: nonce });
    this.emit('ack', typeUrl, msg.versionInfo);
  }
}
