// Two sockets joined byte for byte (the TCP proxy, and HTTP connections after an
// Upgrade): each direction with backpressure, half-closes passed on, either side's
// error or the idle timeout closing both.

import type { Socket } from 'node:net';

export interface TunnelHooks {
  /** Bytes from the downstream side, sent upstream. */
  received(n: number): void;
  /** Bytes from the upstream side, sent downstream. */
  sent(n: number): void;
  /** Both sides are closed (called once). */
  closed(): void;
}

export function tunnel(
  down: Socket,
  up: Socket,
  /** Bytes the client sent before the tunnel existed (they go upstream first). */
  downPending: Buffer | undefined,
  /** Bytes the upstream sent before the tunnel existed (they go downstream first). */
  upPending: Buffer | undefined,
  /** The client already half-closed its side. */
  downEnded: boolean,
  idleMs: number,
  hooks: TunnelHooks,
): void {
  let open = 2;
  const closed = () => {
    if (--open === 0) hooks.closed();
  };
  const fail = () => {
    down.destroy();
    up.destroy();
  };
  down.setNoDelay(true);
  up.setNoDelay(true);
  join(down, up, hooks.received);
  join(up, down, hooks.sent);
  down.on('error', fail);
  up.on('error', fail);
  down.once('close', () => {
    up.destroy();
    closed();
  });
  up.once('close', () => {
    down.destroy();
    closed();
  });
  if (idleMs > 0) {
    down.setTimeout(idleMs, fail);
    up.setTimeout(idleMs, fail);
  }
  if (downPending?.length) {
    hooks.received(downPending.length);
    up.write(downPending);
  }
  if (upPending?.length) {
    hooks.sent(upPending.length);
    down.write(upPending);
  }
  if (downEnded) up.end();
  down.resume();
  up.resume();
}

function join(from: Socket, to: Socket, count: (n: number) => void): void {
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  // A half-close travels on: the other side may still answer.
  from.on('end', () => to.end());
}
