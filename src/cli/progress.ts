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

/**
 * A progress callback for long builds: a bar redrawn in place on a terminal, one
 * line per step (and per tenth of a download) otherwise, so logs stay readable.
 */
export function progressBar(out: NodeJS.WritableStream & { isTTY?: boolean }): { update(step: string, fraction?: number): void; done(): void } {
  let lastStep = '';
  let lastTenth = -1;
  const width = 30;
  return {
    update(stepName, fraction) {
      if (out.isTTY) {
        const f = Math.max(0, Math.min(1, fraction ?? 0));
        const bar = fraction === undefined ? ' '.repeat(width) : '#'.repeat(Math.round(f * width)).padEnd(width);
        const pct = fraction === undefined ? '    ' : `${String(Math.round(f * 100)).padStart(3)}%`;
        out.write(`\r\x1b[K  [${bar}] ${pct} ${stepName}`);
        return;
      }
      const tenth = fraction === undefined ? -1 : Math.floor(fraction * 10);
      if (stepName === lastStep && tenth === lastTenth) return;
      if (stepName === lastStep && fraction !== undefined && tenth <= lastTenth) return;
      lastStep = stepName;
      lastTenth = tenth;
      out.write(`  ${stepName}${fraction === undefined ? '' : ` ${tenth * 10}%`}\n`);
    },
    done() {
      if (out.isTTY) out.write('\r\x1b[K');
    },
  };
}
