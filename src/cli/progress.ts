// One line per step of long work, with how long it took, so a person sees where time goes.

export async function step<T>(out: NodeJS.WritableStream, what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  out.write(`• ${what} ...`);
  try {
    const result = await fn();
    out.write(` done (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
    return result;
  } catch (e) {
    out.write(' failed\n');
    throw e;
  }
}
