// Newline-delimited framing over a byte stream, with a bound on line length so a peer
// that never sends a newline cannot grow a buffer without end.

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Returns a `data` handler that calls `onLine` per complete line (UTF-8, blank lines
 * skipped) and `onOverflow` once when a line grows past `maxBytes`; it stops after that,
 * or when `onLine` returns false.
 */
export function lineSplitter(
  onLine: (line: string) => boolean | undefined,
  onOverflow: () => void,
  maxBytes = DEFAULT_MAX_LINE_BYTES,
): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let done = false;
  return (chunk: Buffer) => {
    if (done) return;
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (pendingBytes + (nl - start) > maxBytes) {
        done = true;
        onOverflow();
        return;
      }
      const piece = chunk.subarray(start, nl);
      const line = pendingBytes > 0 ? Buffer.concat([...pending, piece]).toString('utf8') : piece.toString('utf8');
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
      if (line.trim() !== '' && onLine(line) === false) {
        done = true;
        return;
      }
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxBytes) {
        done = true;
        onOverflow();
      }
    }
  };
}
