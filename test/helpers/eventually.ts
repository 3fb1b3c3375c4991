// Polling with a deadline, for tests that wait on something asynchronous: the
// error says what was awaited and the last failure seen.

/** Polls until `check` returns a value (not undefined/false); fails with the last thing it saw. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, ms = 10_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${ms / 1000}s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
