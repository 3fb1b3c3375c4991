// The virtmesh cluster DNS server (the role CoreDNS plays in Kubernetes): cluster names are
// answered from the index, every other name goes to the upstream resolvers. It serves UDP and
// length-prefixed TCP on one port.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import { type Answer, type DecodedPacket, decode, encode, RECURSION_DESIRED, type RecordType } from 'dns-packet';
import { createForwarder, type Upstream } from './forward.js';
import type { ClusterDnsIndex, ClusterDnsResult } from './records.js';
import { encodeResponse, frameForTcp, MAX_TCP_MESSAGE, type Rcode, takeTcpMessages, udpLimitOf } from './wire.js';

export type { Upstream } from './forward.js';
export { readHostResolvers } from './resolv-conf.js';

export interface DnsServerOptions {
  host: string;
  /** 0 picks a port free for both UDP and TCP. */
  port: number;
  index: ClusterDnsIndex;
  /** Resolvers for names outside the cluster, tried in order; null refuses such names. */
  upstream: Upstream[] | null;
  log?: (line: string) => void;
  /** Time budget of one forwarded query across all upstreams, after which the client gets SERVFAIL. */
  timeoutMs?: number;
  /** Forwarded queries in flight at most; more are refused, as CoreDNS's max_concurrent does. */
  maxInFlight?: number;
}

export interface DnsServer {
  port: number;
  close(): Promise<void>;
}

/** Under the 5 s a glibc stub waits, so the client hears SERVFAIL rather than silence. */
const DEFAULT_TIMEOUT_MS = 4000;
const DEFAULT_MAX_IN_FLIGHT = 512;
/** CNAMEs followed from an ExternalName service before giving up on a chain. */
const MAX_CNAME_CHAIN = 8;
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 256;
const MAX_TCP_BACKLOG_BYTES = 1 << 20;
const LOG_INTERVAL_MS = 10_000;

/** Logs each kind of line at most once per interval, so a flood of bad packets cannot flood the log. */
function throttled(log: (line: string) => void): (kind: string, line: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (kind, line) => {
    const now = Date.now();
    const seen = last.get(kind);
    if (seen && now - seen.at < LOG_INTERVAL_MS) {
      seen.suppressed++;
      return;
    }
    log(seen?.suppressed ? `${line} (${seen.suppressed} more like it suppressed)` : line);
    last.set(kind, { at: now, suppressed: 0 });
  };
}

function bindUdp(socket: UdpSocket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(server: TcpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const log = opts.log ?? (() => {});
  const note = throttled(log);
  const { index, upstream } = opts;
  const maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const forwarder = createForwarder({ upstream: upstream ?? [], timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, log: (line) => note('upstream', line) });
  let inFlight = 0;
  let closed = false;
  const connections = new Set<TcpSocket>();

  /** The upstream's answer records for one question, for following a CNAME out of the cluster. */
  const resolveUpstream = async (name: string, type: string): Promise<Answer[]> => {
    if (!upstream || inFlight >= maxInFlight) return [];
    const query = encode({ type: 'query', id: 0, flags: RECURSION_DESIRED, questions: [{ name, type: type as RecordType }] });
    inFlight++;
    try {
      const answer = await forwarder.forward(query, MAX_TCP_MESSAGE);
      return answer ? (decode(answer).answers ?? []) : [];
    } catch {
      return [];
    } finally {
      inFlight--;
    }
  };

  /** The index's answer, with an ExternalName's CNAME followed to addresses as CoreDNS does. */
  const answerFromCluster = async (first: ClusterDnsResult, type: string): Promise<ClusterDnsResult> => {
    const answers = [...first.answers];
    for (let hop = 0; hop < MAX_CNAME_CHAIN && type !== 'CNAME'; hop++) {
      const last = answers.at(-1);
      if (last?.type !== 'CNAME' || answers.some((a) => a !== last && a.type === 'CNAME' && a.data === last.data)) break;
      const next = index.lookup(last.data, type)?.answers ?? (await resolveUpstream(last.data, type));
      if (next.length === 0) break;
      answers.push(...next);
    }
    return { ...first, answers };
  };

  /** The response to one message, or undefined to send nothing. Never throws. */
  const respond = async (message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> => {
    let query: DecodedPacket;
    try {
      query = decode(message);
    } catch (err) {
      note('malformed', `dns: dropped a malformed ${transport} message: ${(err as Error).message}`);
      return undefined;
    }
    if (query.type === 'response') return undefined;
    const maxSize = transport === 'udp' ? udpLimitOf(query) : MAX_TCP_MESSAGE;
    const reply = (rcode: Rcode, result?: ClusterDnsResult) =>
      encodeResponse(query, rcode, result ?? {}, { authoritative: result !== undefined, recursionAvailable: upstream !== null, maxSize });
    try {
      if ((query as { opcode?: string }).opcode !== 'QUERY') return reply('NOTIMP');
      const question = query.questions?.length === 1 ? query.questions[0] : undefined;
      if (!question) return reply('FORMERR');
      const cluster = index.lookup(question.name, question.type);
      if (cluster) {
        // Cluster names exist in class IN only; other classes must not leak them upstream either.
        if (question.class !== 'IN' && question.class !== 'ANY') return reply('REFUSED');
        const result = await answerFromCluster(cluster, question.type);
        return reply(result.rcode, result);
      }
      if (!upstream) return reply('REFUSED');
      if (inFlight >= maxInFlight) {
        note('busy', `dns: ${maxInFlight} forwarded queries in flight; refusing more`);
        return reply('REFUSED');
      }
      inFlight++;
      try {
        return (await forwarder.forward(message, maxSize)) ?? reply('SERVFAIL');
      } finally {
        inFlight--;
      }
    } catch (err) {
      note('internal', `dns: failed to answer ${query.questions?.[0]?.name ?? '?'}: ${(err as Error).message}`);
      try {
        return reply('SERVFAIL');
      } catch {
        return undefined;
      }
    }
  };

  const onTcpConnection = (socket: TcpSocket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const { messages, rest } = takeTcpMessages(buffered);
      buffered = Buffer.from(rest);
      // Answers may go back out of order (RFC 7766): the client matches them by id.
      for (const message of messages) {
        void respond(Buffer.from(message), 'tcp').then((answer) => {
          if (!answer || closed || !socket.writable) return;
          socket.write(frameForTcp(answer));
          // A client that sends but never reads would make its answers pile up here.
          if (socket.writableLength > MAX_TCP_BACKLOG_BYTES) socket.destroy();
        });
      }
    });
  };

  const bindBoth = async (): Promise<{ udp: UdpSocket; tcp: TcpServer }> => {
    // With port 0 the UDP port the kernel picks may be taken for TCP; try again with another.
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket(isIPv6(opts.host) ? 'udp6' : 'udp4');
      try {
        await bindUdp(udp, opts.port, opts.host);
      } catch (err) {
        udp.close();
        throw err;
      }
      const tcp = createServer(onTcpConnection);
      try {
        await listenTcp(tcp, udp.address().port, opts.host);
        return { udp, tcp };
      } catch (err) {
        udp.close();
        if (opts.port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
      }
    }
  };

  const { udp, tcp } = await bindBoth();
  tcp.maxConnections = MAX_TCP_CONNECTIONS;
  tcp.on('error', (err) => note('tcp', `dns: TCP listener: ${err.message}`));
  udp.on('error', (err) => note('udp', `dns: UDP socket: ${err.message}`));
  udp.on('message', (message, from) => {
    void respond(message, 'udp').then((answer) => {
      if (!answer || closed) return;
      udp.send(answer, from.port, from.address, (err) => err && note('udp-send', `dns: reply to ${from.address}:${from.port}: ${err.message}`));
    });
  });
  const port = udp.address().port;
  log(
    `dns: serving ${index.clusterDomain} on ${opts.host}:${port} (udp+tcp), upstream ${upstream ? upstream.map((u) => `${u.host}:${u.port}`).join(', ') || 'none' : 'refused'}`,
  );

  return {
    port,
    async close() {
      if (closed) return;
      closed = true;
      forwarder.close();
      for (const socket of connections) socket.destroy();
      await Promise.all([new Promise<void>((resolve) => tcp.close(() => resolve())), new Promise<void>((resolve) => udp.close(() => resolve()))]);
    },
  };
}
