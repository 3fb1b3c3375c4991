// Forwarding of names outside the cluster to the upstream resolvers: UDP first, TCP when the
// UDP answer comes back truncated, the next upstream when one fails or stays silent.

import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { answersQuery, frameForTcp, isTruncated, MAX_TCP_MESSAGE, takeTcpMessages, withId } from './wire.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface Forwarder {
  /**
   * The upstream's answer to `query` (raw bytes, id as in `query`) no larger than `maxSize`, or
   * undefined when every upstream failed within the time budget.
   */
  forward(query: Buffer, maxSize: number): Promise<Buffer | undefined>;
  /** Abandons every exchange in flight; their forward() calls resolve undefined. */
  close(): void;
}

type Exchange = (upstream: Upstream, query: Buffer, timeoutMs: number) => Promise<Buffer>;

export function createForwarder(opts: { upstream: Upstream[]; timeoutMs: number; log: (line: string) => void }): Forwarder {
  // Cancels of the exchanges in flight, so close() leaves no socket or timer behind.
  const inFlight = new Set<(err: Error) => void>();
  let closed = false;

  /** Runs one exchange with cleanup registered; `start` gets a `finish` to call exactly once. */
  const track = (timeoutMs: number, start: (finish: (err: Error | null, answer?: Buffer) => void) => () => void): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      if (closed) return reject(new Error('forwarder closed'));
      let done = false;
      let release = () => {};
      const finish = (err: Error | null, answer?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        inFlight.delete(cancel);
        release();
        if (err || !answer) reject(err ?? new Error('no answer'));
        else resolve(answer);
      };
      const cancel = (err: Error) => finish(err);
      const timer = setTimeout(() => finish(new Error(`no answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
      inFlight.add(cancel);
      release = start(finish);
      if (done) release();
    });

  const exchangeUdp: Exchange = (upstream, query, timeoutMs) =>
    track(timeoutMs, (finish) => {
      const socket = createSocket(isIPv6(upstream.host) ? 'udp6' : 'udp4');
      // A connected socket only hears from the upstream, and learns of a closed port (ICMP) at once.
      socket.on('error', (err) => finish(err));
      socket.on('message', (answer) => {
        if (answersQuery(answer, query)) finish(null, answer);
      });
      socket.connect(upstream.port, upstream.host, () => socket.send(query, (err) => err && finish(err)));
      return () => {
        try {
          socket.close();
        } catch {
          // already closed by a failed connect
        }
      };
    });

  const exchangeTcp: Exchange = (upstream, query, timeoutMs) =>
    track(timeoutMs, (finish) => {
      const socket = connect({ host: upstream.host, port: upstream.port });
      let buffered: Buffer = Buffer.alloc(0);
      socket.on('connect', () => socket.write(frameForTcp(query)));
      socket.on('error', (err) => finish(err));
      socket.on('close', () => finish(new Error('connection closed before an answer')));
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        const { messages, rest } = takeTcpMessages(buffered);
        buffered = rest;
        const answer = messages.find((m) => answersQuery(m, query));
        if (answer) finish(null, answer);
      });
      return () => socket.destroy();
    });

  return {
    async forward(query, maxSize) {
      const deadline = Date.now() + opts.timeoutMs;
      const upstreams = opts.upstream;
      for (let i = 0; i < upstreams.length && !closed; i++) {
        const upstream = upstreams[i];
        // Split what is left evenly, so one silent upstream cannot use up the time of the others.
        const budget = (deadline - Date.now()) / (upstreams.length - i);
        if (budget <= 0) break;
        // A fresh random id per attempt: an off-path spoofer must guess it as well as the port.
        const ourQuery = withId(query, randomInt(0x10000));
        const where = `${upstream.host}:${upstream.port}`;
        try {
          const udpAnswer = await exchangeUdp(upstream, ourQuery, budget);
          if (!isTruncated(udpAnswer)) return withId(udpAnswer, query.readUInt16BE(0));
          try {
            const tcpAnswer = await exchangeTcp(upstream, ourQuery, Math.max(deadline - Date.now(), 1));
            // A UDP client cannot take a longer answer; the truncated one makes it retry over TCP.
            if (tcpAnswer.length <= Math.min(maxSize, MAX_TCP_MESSAGE)) return withId(tcpAnswer, query.readUInt16BE(0));
          } catch (err) {
            opts.log(`dns: upstream ${where} over TCP: ${(err as Error).message}`);
          }
          return withId(udpAnswer, query.readUInt16BE(0));
        } catch (err) {
          if (!closed) opts.log(`dns: upstream ${where}: ${(err as Error).message}`);
        }
      }
      return undefined;
    },

    close() {
      closed = true;
      for (const cancel of [...inFlight]) cancel(new Error('forwarder closed'));
    },
  };
}
