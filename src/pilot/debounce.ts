// Istio's push debounce: changes are collected until none has come for `quietMs`, or
// for at most `maxMs` after the first, then flushed as one push. A flush still running
// (an async push) is never overlapped: changes meanwhile wait for the next flush.

export interface DebouncerOptions {
  quietMs: number;
  maxMs: number;
  flush(reasons: Set<string>): void | Promise<void>;
  onError?(e: unknown): void;
  /** Clock for tests (mock.timers); Date.now otherwise. */
  now?: () => number;
}

export class Debouncer {
  readonly #opts: DebouncerOptions;
  readonly #now: () => number;
  #reasons = new Set<string>();
  #first = 0;
  #last = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing = false;
  #stopped = false;
  /** How many changes the current batch holds (for push_status). */
  pending = 0;

  constructor(opts: DebouncerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  add(reason: string): void {
    if (this.#stopped) return;
    const now = this.#now();
    if (this.pending === 0) this.#first = now;
    this.#last = now;
    this.pending++;
    this.#reasons.add(reason);
    // One timer per batch, re-armed on expiry, rather than one reset per change.
    if (!this.#timer && !this.#flushing) this.#arm(this.#opts.quietMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(0, ms));
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#stopped || this.pending === 0) return;
    const now = this.#now();
    const quiet = now - this.#last;
    const waited = now - this.#first;
    if (quiet >= this.#opts.quietMs || waited >= this.#opts.maxMs) void this.#flush();
    else this.#arm(Math.min(this.#opts.quietMs - quiet, this.#opts.maxMs - waited));
  }

  async #flush(): Promise<void> {
    const reasons = this.#reasons;
    this.#reasons = new Set();
    this.pending = 0;
    this.#flushing = true;
    try {
      await this.#opts.flush(reasons);
    } catch (e) {
      this.#opts.onError?.(e);
    } finally {
      this.#flushing = false;
      // Changes that came during the flush start their own quiet period now.
      if (this.pending > 0 && !this.#stopped && !this.#timer) this.#arm(this.#opts.quietMs);
    }
  }
}
