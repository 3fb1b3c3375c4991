// Where an HTTP/1.x body ends. Bodies are forwarded as the bytes that arrived (a
// chunked body stays chunked), so the scanner only needs to find the end; it can
// also hand out the payload for the rare peer that needs the body unchunked.

enum State {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  LastLf,
  Done,
}

const hexValue = (c: number): number => {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
};

/** A chunked-body state machine, fed the body's bytes as they arrive (bare LF accepted where CRLF belongs). */
export class ChunkedScanner {
  #state = State.Size;
  #remaining = 0;
  #digits = 0;
  /** Set when the bytes are not a chunked body. */
  error: string | undefined;

  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Scans buf[start..] and returns the offset just past the body's last byte, or -1
   * when the body goes on (or on error). `onData` receives the payload's slices.
   */
  scan(buf: Buffer, start: number, onData?: (payload: Buffer) => void): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      const c = buf[i];
      switch (this.#state) {
        case State.Size: {
          const h = hexValue(c);
          if (h >= 0) {
            // 15 hex digits stay inside a double's exact integers.
            if (++this.#digits > 15) return this.#fail('chunk size too large');
            this.#remaining = this.#remaining * 16 + h;
            i++;
          } else if (this.#digits === 0) {
            return this.#fail('bad chunk size');
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.#state = State.Extension;
            i++;
          } else if (c === 13) {
            this.#state = State.SizeLf;
            i++;
          } else if (c === 10) {
            this.#afterSize();
            i++;
          } else return this.#fail('bad chunk size');
          break;
        }
        case State.Extension: {
          const lf = buf.indexOf(10, i);
          if (lf === -1) return -1;
          i = lf + 1;
          this.#afterSize();
          break;
        }
        case State.SizeLf:
          if (c !== 10) return this.#fail('bad chunk size line');
          i++;
          this.#afterSize();
          break;
        case State.Data: {
          const take = Math.min(this.#remaining, n - i);
          if (onData) onData(buf.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (c === 13) {
            this.#state = State.DataLf;
            i++;
          } else if (c === 10) {
            this.#nextChunk();
            i++;
          } else return this.#fail('missing CRLF after chunk data');
          break;
        case State.DataLf:
          if (c !== 10) return this.#fail('missing LF after chunk data');
          this.#nextChunk();
          i++;
          break;
        case State.TrailerStart:
          if (c === 13) {
            this.#state = State.LastLf;
            i++;
          } else if (c === 10) {
            this.#state = State.Done;
            return i + 1;
          } else {
            this.#state = State.TrailerLine;
          }
          break;
        case State.TrailerLine: {
          const lf = buf.indexOf(10, i);
          if (lf === -1) return -1;
          i = lf + 1;
          this.#state = State.TrailerStart;
          break;
        }
        case State.LastLf:
          if (c !== 10) return this.#fail('bad last chunk');
          this.#state = State.Done;
          return i + 1;
        case State.TrailerLf:
        case State.Done:
          return i;
      }
    }
    return -1;
  }

  #afterSize(): void {
    this.#state = this.#remaining === 0 ? State.TrailerStart : State.Data;
  }

  #nextChunk(): void {
    this.#state = State.Size;
    this.#digits = 0;
    this.#remaining = 0;
  }

  #fail(why: string): number {
    this.error = why;
    return -1;
  }
}

/** Frames `payload` as one chunk (for bodies that ended with the connection, forwarded to a keep-alive client). */
export function chunkHeader(length: number): string {
  return length.toString(16) + '\r\n';
}

export const LAST_CHUNK = '0\r\n\r\n';
