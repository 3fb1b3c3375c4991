// HTTP/1.x message heads (request line or status line, then header fields),
// parsed from the bytes of a socket. Lenient where Envoy is lenient (bare LF line
// ends, responses without a reason phrase) and strict where leniency would let a
// request mean two things (conflicting Content-Length, Transfer-Encoding with
// Content-Length, whitespace before a colon, folded lines in requests).

/** Envoy's default max_request_headers_kb. */
export const MAX_HEAD_BYTES = 60 * 1024;
/** Envoy's default max_headers_count. */
export const MAX_HEADERS = 100;

const LF = 10;
const CR = 13;

/** Which characters an RFC 7230 token (a method, a header name) may hold. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Field values may hold anything but NUL, CR and LF (the last two never reach here). */
function hasBadValueChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === CR || (c < 32 && c !== 9) || c === 127) return true;
  }
  return false;
}

/** Why a head was refused, with the status Envoy answers it with. */
export class HeadError {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {}
}

export class HttpHead {
  method = '';
  target = '';
  status = 0;
  reason = '';
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor = 1;
  /** Header names, lowercased (HTTP/1 names are case-insensitive; Envoy forwards them lowercased too). */
  names: string[] = [];
  values: string[] = [];
  /** -1 when absent. */
  contentLength = -1;
  chunked = false;
  /** A Transfer-Encoding whose last coding is not chunked (a response body then ends with the connection). */
  otherTransferEncoding = false;
  connectionClose = false;
  connectionKeepAlive = false;
  connectionUpgrade = false;
  /** Other header names the Connection header lists: hop-by-hop, not forwarded. */
  connectionTokens: string[] | undefined;
  upgrade = '';
  expectContinue = false;
  host = '';
  /** Bytes of the head on the wire, terminator included. */
  bytes = 0;

  get(name: string): string | undefined {
    const i = this.names.indexOf(name);
    return i === -1 ? undefined : this.values[i];
  }

  /** Whether the connection may carry another message after this one (before looking at framing). */
  get keepAlive(): boolean {
    return this.minor === 1 ? !this.connectionClose : this.connectionKeepAlive && !this.connectionClose;
  }
}

/** Skips the empty lines a client may send between messages (RFC 7230 3.5). */
export function skipEmptyLines(buf: Buffer, start: number): number {
  let i = start;
  while (i < buf.length && (buf[i] === CR || buf[i] === LF)) i++;
  return i;
}

/** The offset just past the empty line that ends a head starting at `start`, or -1 when it has not all arrived. */
export function findHeadEnd(buf: Buffer, start: number): number {
  let i = buf.indexOf(LF, start);
  while (i !== -1) {
    const next = buf[i + 1];
    if (next === LF) return i + 2;
    if (next === CR) {
      if (buf[i + 2] === LF) return i + 3;
      if (i + 2 >= buf.length) return -1;
    }
    if (next === undefined) return -1;
    i = buf.indexOf(LF, i + 1);
  }
  return -1;
}

/**
 * Line bounds of the head being parsed: [start, end) of line n (line ends excluded) at 2n and 2n + 1.
 * Shared scratch space: parsing is synchronous, and a head never needs more than this (more is refused).
 */
const LINES = new Int32Array(2 * (MAX_HEADERS + 2));

/**
 * Finds the lines of `text` (LF or CRLF ended; the terminating empty line and anything after it are
 * dropped) into LINES and returns how many there are (counting on past the space LINES has).
 */
function splitLines(text: string): number {
  let n = 0;
  let from = 0;
  for (;;) {
    const lf = text.indexOf('\n', from);
    if (lf === -1) break;
    const end = lf > from && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
    if (end === from) break;
    if (n < MAX_HEADERS + 2) {
      LINES[2 * n] = from;
      LINES[2 * n + 1] = end;
    }
    n++;
    from = lf + 1;
  }
  return n;
}

/** Whether buf[start, end) holds a byte no field value may hold (NUL, controls but tab, DEL, a CR not ending a line). */
function hasBadBytes(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c < 32) {
      if (c === 9 || c === LF || (c === CR && buf[i + 1] === LF)) continue;
      return true;
    }
    if (c === 127) return true;
  }
  return false;
}

function parseVersion(v: string): number {
  if (v === 'HTTP/1.1') return 1;
  if (v === 'HTTP/1.0') return 0;
  return -1;
}

/** Parses a request head occupying buf[start, end). */
export function parseRequestHead(buf: Buffer, start: number, end: number): HttpHead | HeadError {
  const text = buf.toString('latin1', start, end);
  const count = splitLines(text);
  const line = count > 0 ? text.slice(LINES[0], LINES[1]) : '';
  // One pass over the bytes spares checking each value on its own (the usual case: nothing is wrong).
  const clean = !hasBadBytes(buf, start, end);
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || line.indexOf(' ', sp2 + 1) !== -1) return new HeadError(400, 'http1.codec_error');
  const head = new HttpHead();
  head.method = line.slice(0, sp1);
  head.target = line.slice(sp1 + 1, sp2);
  const minor = parseVersion(line.slice(sp2 + 1));
  if (!isToken(head.method) || head.target.length === 0 || (!clean && hasBadValueChar(head.target))) return new HeadError(400, 'http1.codec_error');
  if (minor < 0) return line.startsWith('HTTP/', sp2 + 1) ? new HeadError(505, 'http1.codec_error') : new HeadError(400, 'http1.codec_error');
  head.minor = minor;
  head.bytes = end - start;
  const err = parseFields(head, text, count, true, clean);
  if (err) return err;
  if (head.chunked && head.contentLength >= 0) return new HeadError(400, 'http1.content_length_and_chunked_not_allowed');
  if (head.otherTransferEncoding) return new HeadError(501, 'http1.invalid_transfer_encoding');
  return head;
}

/** Parses a response head occupying buf[start, end): lenient about the status line's reason and about folded lines. */
export function parseResponseHead(buf: Buffer, start: number, end: number): HttpHead | HeadError {
  const text = buf.toString('latin1', start, end);
  const count = splitLines(text);
  const line = count > 0 ? text.slice(LINES[0], LINES[1]) : '';
  const sp1 = line.indexOf(' ');
  const minor = parseVersion(sp1 === -1 ? line : line.slice(0, sp1));
  if (minor < 0) return new HeadError(502, 'upstream.invalid_status_line');
  const sp2 = line.indexOf(' ', sp1 + 1);
  const code = line.slice(sp1 + 1, sp2 === -1 ? undefined : sp2);
  const status = code.length === 3 ? Number(code) : Number.NaN;
  if (!Number.isInteger(status) || status < 100) return new HeadError(502, 'upstream.invalid_status_line');
  const head = new HttpHead();
  head.minor = minor;
  head.status = status;
  head.reason = sp2 === -1 ? '' : line.slice(sp2 + 1);
  head.bytes = end - start;
  const err = parseFields(head, text, count, false, !hasBadBytes(buf, start, end));
  if (err) return err;
  if (head.chunked) head.contentLength = -1;
  return head;
}

/** What String.prototype.trim strips, within Latin-1. */
const isTrimmed = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 160;

/** The header lines 1..count-1 of `text` (bounds in LINES); `clean`: no value can hold a bad character. */
function parseFields(head: HttpHead, text: string, count: number, isRequest: boolean, clean: boolean): HeadError | undefined {
  if (count - 1 > MAX_HEADERS) return new HeadError(431, 'http1.too_many_headers');
  const { names, values } = head;
  for (let l = 1; l < count; l++) {
    const from = LINES[2 * l];
    const to = LINES[2 * l + 1];
    const first = text.charCodeAt(from);
    if (first === 32 || first === 9) {
      // obs-fold: refused in requests (RFC 7230 3.2.4), joined with a space in responses.
      if (isRequest || values.length === 0) return new HeadError(400, 'http1.codec_error');
      values[values.length - 1] += ' ' + text.slice(from, to).trim();
      continue;
    }
    const colon = text.indexOf(':', from);
    if (colon <= from || colon >= to) return new HeadError(isRequest ? 400 : 502, 'http1.codec_error');
    // The name must be a token; it is lowercased only when it has capitals.
    let upper = false;
    for (let i = from; i < colon; i++) {
      const c = text.charCodeAt(i);
      if (c > 127 || TOKEN[c] === 0) return new HeadError(isRequest ? 400 : 502, 'http1.invalid_characters');
      if (c >= 65 && c <= 90) upper = true;
    }
    const name = upper ? text.slice(from, colon).toLowerCase() : text.slice(from, colon);
    let vs = colon + 1;
    let ve = to;
    while (vs < ve && isTrimmed(text.charCodeAt(vs))) vs++;
    while (ve > vs && isTrimmed(text.charCodeAt(ve - 1))) ve--;
    const value = text.slice(vs, ve);
    if (!clean && hasBadValueChar(value)) return new HeadError(isRequest ? 400 : 502, 'http1.invalid_characters');
    names.push(name);
    values.push(value);
    const err = noteFramingField(head, name, value, isRequest);
    if (err) return err;
  }
  return undefined;
}

/** Reads the fields that decide framing and connection handling as they go by. */
function noteFramingField(head: HttpHead, name: string, value: string, isRequest: boolean): HeadError | undefined {
  switch (name) {
    case 'content-length':
      // "5, 5" and repeated equal fields are one length; different ones are a smuggling attempt.
      if (value.indexOf(',') === -1) return noteContentLength(head, value, isRequest);
      for (const part of value.split(',')) {
        const err = noteContentLength(head, part.trim(), isRequest);
        if (err) return err;
      }
      return undefined;
    case 'transfer-encoding': {
      const codings = value.toLowerCase().split(',');
      const last = codings[codings.length - 1].trim();
      head.chunked = last === 'chunked';
      head.otherTransferEncoding = !head.chunked;
      return undefined;
    }
    case 'connection':
      if (value.indexOf(',') === -1) noteConnectionToken(head, value.toLowerCase());
      else for (const part of value.split(',')) noteConnectionToken(head, part.trim().toLowerCase());
      return undefined;
    case 'upgrade':
      head.upgrade = value;
      return undefined;
    case 'expect':
      if (value.toLowerCase() === '100-continue') head.expectContinue = true;
      return undefined;
    case 'host':
      if (isRequest && head.host !== '') return new HeadError(400, 'http1.multiple_host_headers');
      head.host = value;
      return undefined;
    default:
      return undefined;
  }
}

const DIGITS = /^\d{1,15}$/;

function noteContentLength(head: HttpHead, v: string, isRequest: boolean): HeadError | undefined {
  if (!DIGITS.test(v)) return new HeadError(isRequest ? 400 : 502, 'http1.invalid_content_length');
  const n = Number(v);
  if (head.contentLength !== -1 && head.contentLength !== n) return new HeadError(isRequest ? 400 : 502, 'http1.content_length_not_allowed');
  head.contentLength = n;
  return undefined;
}

/** One token of a Connection header (trimmed, lowercased). */
function noteConnectionToken(head: HttpHead, t: string): void {
  if (t === 'close') head.connectionClose = true;
  else if (t === 'keep-alive') head.connectionKeepAlive = true;
  else if (t === 'upgrade') head.connectionUpgrade = true;
  else if (t !== '') {
    head.connectionTokens ??= [];
    head.connectionTokens.push(t);
  }
}

/** Headers that describe one connection, never forwarded (RFC 7230 6.1), plus the ones the proxy sets itself. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export function isHopByHop(head: HttpHead, name: string): boolean {
  return HOP_BY_HOP.has(name) || head.connectionTokens?.includes(name) === true;
}

const REASONS: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  418: "I'm a teapot",
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

/** Status codes whose responses never carry a body (besides answers to HEAD). */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}
