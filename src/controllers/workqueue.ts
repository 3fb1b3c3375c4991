// A work queue as controllers use it: a key is handled by one worker at a time,
// changes arriving meanwhile coalesce into one more run, and failures retry with
// backoff.

export class WorkQueue {
  readonly #handle: (key: string) => Promise<void>;
  readonly #log: (line: string) => void;
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;
  /** Keys wait until the caches are filled: a decision on half a cache (no pod seen yet) is a wrong one. */
  #held: Set<string> | undefined = new Set();

  constructor(handle: (key: string) => Promise<void>, log: (line: string) => void = () => {}) {
    this.#handle = handle;
    this.#log = log;
  }

  /** Starts handling keys, those added so far first. */
  run(): void {
    const held = this.#held ?? new Set();
    this.#held = undefined;
    for (const k of held) this.add(k);
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#held) {
      this.#held.add(key);
      return;
    }
    if (this.#running.has(key)) {
      this.#again.add(key);
      return;
    }
    this.#running.add(key);
    void this.#run(key);
  }

  /** Runs the key again after `ms` (a poll for something that has no event, such as a timer). */
  addAfter(key: string, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.add(key);
    }, ms);
    this.#timers.add(t);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
  }

  async #run(key: string): Promise<void> {
    try {
      await this.#handle(key);
      this.#failures.delete(key);
    } catch (e) {
      const n = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, n);
      const ms = Math.min(100 * 2 ** n, 10_000);
      this.#log(`sync ${key} failed (${(e as Error).message}); retrying in ${ms} ms`);
      this.addAfter(key, ms);
    } finally {
      this.#running.delete(key);
      if (this.#again.delete(key)) this.add(key);
    }
  }
}
