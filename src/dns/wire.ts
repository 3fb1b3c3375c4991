// Byte-level helpers of the virtmesh DNS server: building responses that fit the client's
// transport, and matching upstream answers to the queries they answer.

import { type Answer, type DecodedPacket, encode, type Packet, RECURSION_AVAILABLE, RECURSION_DESIRED, TRUNCATED_RESPONSE } from 'dns-packet';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

const AUTHORITATIVE_ANSWER = 1 << 10;
const CHECKING_DISABLED = 1 << 4;
const QR_BIT = 0x80; // in the third header byte

/** Classic DNS over UDP without EDNS. */
export const MIN_UDP_PAYLOAD = 512;
/** What this server advertises and honours at most: the DNS flag day 2020 size, which avoids IP fragmentation. */
export const MAX_UDP_PAYLOAD = 1232;
/** A length-prefixed TCP message holds at most this. */
export const MAX_TCP_MESSAGE = 65535;

/** The largest UDP response this client accepts, from its EDNS OPT record. */
export function udpLimitOf(query: DecodedPacket): number {
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  const advertised = opt && 'udpPayloadSize' in opt ? opt.udpPayloadSize : MIN_UDP_PAYLOAD;
  return Math.min(Math.max(advertised, MIN_UDP_PAYLOAD), MAX_UDP_PAYLOAD);
}

export interface ResponseSections {
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/**
 * Encodes a response to `query` no larger than `maxSize`: extra records go first, then, like
 * any server, it sends the header and question with TC set so the client retries over TCP.
 */
export function encodeResponse(
  query: DecodedPacket,
  rcode: Rcode,
  sections: ResponseSections,
  opts: { authoritative: boolean; recursionAvailable: boolean; maxSize: number },
): Buffer {
  const hasEdns = query.additionals?.some((a) => a.type === 'OPT') ?? false;
  const opt: Answer[] = hasEdns
    ? [{ type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
    : [];
  const flags =
    RCODE[rcode] |
    (opts.authoritative ? AUTHORITATIVE_ANSWER : 0) |
    (opts.recursionAvailable ? RECURSION_AVAILABLE : 0) |
    ((query.flags ?? 0) & (RECURSION_DESIRED | CHECKING_DISABLED));
  const packet: Packet = {
    type: 'response',
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: sections.answers ?? [],
    authorities: sections.authorities ?? [],
    additionals: [...(sections.additionals ?? []), ...opt],
  };
  let wire = encode(packet);
  if (wire.length <= opts.maxSize) return wire;
  wire = encode({ ...packet, additionals: opt });
  if (wire.length <= opts.maxSize) return wire;
  return encode({ ...packet, flags: flags | TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: opt });
}

export function isTruncated(message: Buffer): boolean {
  return message.length >= 4 && (message[2] & (TRUNCATED_RESPONSE >> 8)) !== 0;
}

/** A copy of `message` carrying query id `id`. */
export function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message);
  copy.writeUInt16BE(id, 0);
  return copy;
}

/** The end offset of the first question, or undefined when the bytes do not hold one. */
function questionEnd(message: Buffer): number | undefined {
  if (message.length < 12 || message.readUInt16BE(4) === 0) return undefined;
  let offset = 12;
  for (;;) {
    if (offset >= message.length) return undefined;
    const len = message[offset];
    if (len === 0) {
      offset += 1;
      break;
    }
    // A compression pointer ends the name; queries rarely use one, answers may.
    if ((len & 0xc0) === 0xc0) {
      offset += 2;
      break;
    }
    if (len > 63) return undefined;
    offset += 1 + len;
  }
  return offset + 4 <= message.length ? offset + 4 : undefined;
}

/** ASCII case-insensitive: resolvers may randomise the case of names (DNS 0x20) and servers echo it back. */
function sameBytesIgnoringCase(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] >= 0x41 && a[i] <= 0x5a ? a[i] | 0x20 : a[i];
    const y = b[i] >= 0x41 && b[i] <= 0x5a ? b[i] | 0x20 : b[i];
    if (x !== y) return false;
  }
  return true;
}

/**
 * Whether `answer` responds to `query`: same id, the response bit, and the same question. An
 * answer without a question (e.g. FORMERR) is accepted on the id alone.
 */
export function answersQuery(answer: Buffer, query: Buffer): boolean {
  if (answer.length < 12 || query.length < 12) return false;
  if (answer.readUInt16BE(0) !== query.readUInt16BE(0) || (answer[2] & QR_BIT) === 0) return false;
  if (answer.readUInt16BE(4) === 0) return true;
  const answerEnd = questionEnd(answer);
  const queryEnd = questionEnd(query);
  if (answerEnd === undefined || queryEnd === undefined) return false;
  return sameBytesIgnoringCase(answer.subarray(12, answerEnd), query.subarray(12, queryEnd));
}

/** Prefixes `message` with its 16-bit length, the DNS-over-TCP framing. */
export function frameForTcp(message: Buffer): Buffer {
  const framed = Buffer.alloc(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}

/** Splits complete length-prefixed messages off `buffered`; `rest` keeps a partial one. */
export function takeTcpMessages(buffered: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (buffered.length - offset >= 2) {
    const len = buffered.readUInt16BE(offset);
    if (buffered.length - offset - 2 < len) break;
    messages.push(buffered.subarray(offset + 2, offset + 2 + len));
    offset += 2 + len;
  }
  return { messages, rest: buffered.subarray(offset) };
}
