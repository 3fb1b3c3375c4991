// A discovery client that behaves like a sidecar's xDS client without being one:
// subscribes to every type, applies (or, when told to, rejects) what it gets and
// answers with ACK/NACK. For tests and the push benchmark.

import { connect, type Socket } from 'node:net';
import { type ProxyNode, TypeUrl } from '../proxy/config.js';
import { lineSplitter } from './line-reader.js';
import type { DiscoveryRequest, DiscoveryResponse } from './protocol.js';

export interface SimulatedProxyOptions {
  host: string;
  port: number;
  node: ProxyNode;
  /** The types to subscribe to, in order (all five by default). */
  types?: TypeUrl[];
  /** A reason to reject (NACK) a response; undefined accepts it. */
  reject?: (res: DiscoveryResponse) => string | undefined;
  /** Called for every response, after it was answered. */
  onResponse?: (res: DiscoveryResponse, accepted: boolean) => void;
  /** Keep accepted resources (tests look at them; the benchmark does not need to). */
  keepResources?: boolean;
}

const ALL_TYPES = [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route, TypeUrl.extension];

export class SimulatedProxy {
  readonly #opts: SimulatedProxyOptions;
  readonly #socket: Socket;
  readonly #waiters = new Set<() => void>();
  /** What the proxy runs with, per type: the last accepted version and resources. */
  readonly applied = new Map<TypeUrl, { version: string; resources: unknown[] }>();
  /** Every response, in arrival order (resources dropped unless kept). */
  readonly responses: DiscoveryResponse[] = [];
  closed = false;

  private constructor(opts: SimulatedProxyOptions, socket: Socket) {
    this.#opts = opts;
    this.#socket = socket;
    socket.on(
      'data',
      lineSplitter(
        (line) => {
          this.#onResponse(JSON.parse(line) as DiscoveryResponse);
          return true;
        },
        () => socket.destroy(),
      ),
    );
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static connect(opts: SimulatedProxyOptions): Promise<SimulatedProxy> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: opts.host, port: opts.port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        const proxy = new SimulatedProxy(opts, socket);
        (opts.types ?? ALL_TYPES).forEach((typeUrl, i) => {
          proxy.send({ ...(i === 0 ? { node: opts.node } : {}), typeUrl, versionInfo: '', responseNonce: '' });
        });
        resolve(proxy);
      });
    });
  }

  send(req: DiscoveryRequest): void {
    if (!this.#socket.destroyed) this.#socket.write(`${JSON.stringify(req)}\n`);
  }

  /** Raw bytes, for tests of what the server does with garbage. */
  writeRaw(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /** Stops reading (the server's writes back up), as a stuck proxy would. */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  version(typeUrl: TypeUrl): string {
    return this.applied.get(typeUrl)?.version ?? '';
  }

  resources<T = unknown>(typeUrl: TypeUrl): T[] {
    return (this.applied.get(typeUrl)?.resources ?? []) as T[];
  }

  responsesOf(typeUrl: TypeUrl): DiscoveryResponse[] {
    return this.responses.filter((r) => r.typeUrl === typeUrl);
  }

  /** Resolves once `check` holds after some response (or at once); rejects if the connection closes or `ms` pass first. */
  waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      const waiter = () => {
        if (check()) done();
        else if (this.closed) done(new Error(`connection closed while waiting for ${what}`));
      };
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      this.#waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.destroy();
    });
  }

  #onResponse(res: DiscoveryResponse): void {
    const reason = this.#opts.reject?.(res);
    const previous = this.applied.get(res.typeUrl)?.version ?? '';
    if (reason === undefined) {
      this.applied.set(res.typeUrl, { version: res.versionInfo, resources: this.#opts.keepResources === false ? [] : res.resources });
      this.send({ typeUrl: res.typeUrl, versionInfo: res.versionInfo, responseNonce: res.nonce });
    } else {
      this.send({ typeUrl: res.typeUrl, versionInfo: previous, responseNonce: res.nonce, errorDetail: { code: 3, message: reason } });
    }
    this.responses.push(this.#opts.keepResources === false ? { ...res, resources: [] } : res);
    this.#opts.onResponse?.(res, reason === undefined);
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}
