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

/** Splits a head into lines without their line ends; the terminating empty line is dropped. */
function lines(text: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const lf = text.indexOf('\n', from);
    if (lf === -1) break;
    const end = lf > from && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
    if (end === from) break;
    out.push(text.slice(from, end));
    from = lf + 1;
  }
  return out;
}

function parseVersion(v: string): number {
  if (v === 'HTTP/1.1') return 1;
  if (v === 'HTTP/1.0') return 0;
  return -1;
}

/** Parses a request head occupying buf[start, end). */
export function parseRequestHead(buf: Buffer, start: number, end: number): HttpHead | HeadError {
  const all = lines(buf.toString('latin1', start, end));
  const line = all[0] ?? '';
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || line.indexOf(' ', sp2 + 1) !== -1) return new HeadError(400, 'http1.codec_error');
  const head = new HttpHead();
  head.method = line.slice(0, sp1);
  head.target = line.slice(sp1 + 1, sp2);
  const minor = parseVersion(line.slice(sp2 + 1));
  if (!isToken(head.method) || head.target.length === 0 || hasBadValueChar(head.target)) return new HeadError(400, 'http1.codec_error');
  if (minor < 0) return line.startsWith('HTTP/', sp2 + 1) ? new HeadError(505, 'http1.codec_error') : new HeadError(400, 'http1.codec_error');
  head.minor = minor;
  head.bytes = end - start;
  const err = parseFields(head, all, true);
  if (err) return err;
  if (head.chunked && head.contentLength >= 0) return new HeadError(400, 'http1.content_length_and_chunked_not_allowed');
  if (head.otherTransferEncoding) return new HeadError(501, 'http1.invalid_transfer_encoding');
  return head;
}

/** Parses a response head occupying buf[start, end): lenient about the status line's reason and about folded lines. */
export function parseResponseHead(buf: Buffer, start: number, end: number): HttpHead | HeadError {
  const all = lines(buf.toString('latin1', start, end));
  const line = all[0] ?? '';
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
  const err = parseFields(head, all, false);
  if (err) return err;
  if (head.chunked) head.contentLength = -1;
  return head;
}

function parseFields(head: HttpHead, all: string[], isRequest: boolean): HeadError | undefined {
  if (all.length - 1 > MAX_HEADERS) return new HeadError(431, 'http1.too_many_headers');
  const { names, values } = head;
  for (let i = 1; i < all.length; i++) {
    const line = all[i];
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      // obs-fold: refused in requests (RFC 7230 3.2.4), joined with a space in responses.
      if (isRequest || values.length === 0) return new HeadError(400, 'http1.codec_error');
      values[values.length - 1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return new HeadError(isRequest ? 400 : 502, 'http1.codec_error');
    const name = line.slice(0, colon).toLowerCase();
    if (!isToken(name)) return new HeadError(isRequest ? 400 : 502, 'http1.invalid_characters');
    const value = line.slice(colon + 1).trim();
    if (hasBadValueChar(value)) return new HeadError(isRequest ? 400 : 502, 'http1.invalid_characters');
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
    case 'content-length': {
      // "5, 5" and repeated equal fields are one length; different ones are a smuggling attempt.
      for (const part of value.split(',')) {
        const v = part.trim();
        if (!/^\d{1,15}$/.test(v)) return new HeadError(isRequest ? 400 : 502, 'http1.invalid_content_length');
        const n = Number(v);
        if (head.contentLength !== -1 && head.contentLength !== n) return new HeadError(isRequest ? 400 : 502, 'http1.content_length_not_allowed');
        head.contentLength = n;
      }
      return undefined;
    }
    case 'transfer-encoding': {
      const codings = value.toLowerCase().split(',');
      const last = codings[codings.length - 1].trim();
      head.chunked = last === 'chunked';
      head.otherTransferEncoding = !head.chunked;
      return undefined;
    }
    case 'connection':
      for (const part of value.split(',')) {
        const t = part.trim().toLowerCase();
        if (t === 'close') head.connectionClose = true;
        else if (t === 'keep-alive') head.connectionKeepAlive = true;
        else if (t === 'upgrade') head.connectionUpgrade = true;
        else if (t !== '') {
          head.connectionTokens ??= [];
          head.connectionTokens.push(t);
        }
      }
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
