// The DNS server over real sockets, all on 127.0.0.1: the upstreams are small DNS servers this
// file starts itself, so no query ever leaves the loopback interface.

import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Answer, type DecodedPacket, decode, encode, type Packet, RECURSION_AVAILABLE, RECURSION_DESIRED, type RecordType } from 'dns-packet';
import { createClusterDnsIndex } from './records.js';
import { type DnsServer, readHostResolvers, startDnsServer } from './server.js';
import { frameForTcp, takeTcpMessages } from './wire.js';

const HOST = '127.0.0.1';
const TRUNCATED = 1 << 9;
const rcodeOf = (p: DecodedPacket) => (p as DecodedPacket & { rcode: string }).rcode;

/** Closes everything registered, even when a test failed half-way. */
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function queryPacket(name: string, type: RecordType, id = Math.floor(Math.random() * 0xffff), extra: Partial<Packet> = {}): Buffer {
  return encode({ type: 'query', id, flags: RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra });
}

function sendUdp(port: number, message: Buffer, timeoutMs = 2000): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no UDP answer'));
    }, timeoutMs);
    socket.on('message', (answer) => {
      clearTimeout(timer);
      socket.close();
      resolve(decode(answer));
    });
    socket.send(message, port, HOST);
  });
}

/** Sends `messages` in one write on one connection; resolves with `expected` answers. */
function sendTcp(port: number, messages: Buffer[], expected = messages.length, timeoutMs = 2000): Promise<DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let buffered: Buffer = Buffer.alloc(0);
    const answers: DecodedPacket[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`got ${answers.length} of ${expected} TCP answers`));
    }, timeoutMs);
    socket.on('error', reject);
    socket.on('connect', () => socket.write(Buffer.concat(messages.map(frameForTcp))));
    socket.on('data', (chunk) => {
      const { messages: complete, rest } = takeTcpMessages(Buffer.concat([buffered, chunk]));
      buffered = Buffer.from(rest);
      answers.push(...complete.map((m) => decode(m)));
      if (answers.length < expected) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(answers);
    });
  });
}

const ask = async (port: number, name: string, type: RecordType = 'A') => sendUdp(port, queryPacket(name, type));
const dataOf = (answers: Answer[] | undefined) => (answers ?? []).map((a) => ('data' in a ? a.data : undefined));

interface FakeUpstream {
  port: number;
  seen: { udp: number; tcp: number };
}

/**
 * A stand-in for the host's resolver: answers A for *.example.test. `truncateUdp` makes UDP
 * answers come back empty with TC set and the full answer only over TCP; `silent` never answers.
 */
async function startFakeUpstream(mode: { truncateUdp?: boolean; silent?: boolean } = {}): Promise<FakeUpstream> {
  const seen = { udp: 0, tcp: 0 };
  const answer = (message: Buffer, full: boolean): Buffer => {
    const q = decode(message);
    const question = q.questions![0];
    const known = question.name.toLowerCase().endsWith('example.test');
    const answers: Answer[] =
      known && question.type === 'A' ? ['192.0.2.10', '192.0.2.11', '192.0.2.12'].map((data) => ({ name: question.name, type: 'A', ttl: 60, data })) : [];
    const flags = RECURSION_AVAILABLE | RECURSION_DESIRED | (known ? 0 : 3) | (full ? 0 : TRUNCATED);
    return encode({ type: 'response', id: q.id, flags, questions: q.questions, answers: full ? answers : [] });
  };
  for (let attempt = 0; ; attempt++) {
    const udp: UdpSocket = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, HOST, resolve));
    const port = udp.address().port;
    udp.on('message', (message, from) => {
      seen.udp++;
      if (!mode.silent) udp.send(answer(message, !mode.truncateUdp), from.port, from.address);
    });
    const tcp: TcpServer = createServer((socket) => {
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        for (const message of takeTcpMessages(chunk).messages) {
          seen.tcp++;
          if (!mode.silent) socket.write(frameForTcp(answer(message, true)));
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, HOST, () => resolve(true));
    });
    if (!listening) {
      udp.close();
      if (attempt < 20) continue;
      throw new Error('no free port pair for the fake upstream');
    }
    cleanups.push(() => new Promise<void>((resolve) => udp.close(() => resolve())));
    cleanups.push(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
    return { port, seen };
  }
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function clusterIndex() {
  const index = createClusterDnsIndex();
  index.upsertService({ metadata: { namespace: 'shop', name: 'web' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] } });
  index.upsertService({ metadata: { namespace: 'shop', name: 'ext' }, spec: { type: 'ExternalName', externalName: 'pay.example.test' } });
  index.upsertService({ metadata: { namespace: 'shop', name: 'many' }, spec: { clusterIP: 'None' } });
  const addresses = Array.from({ length: 60 }, (_, i) => ({ ip: `10.244.1.${i + 1}` }));
  index.upsertEndpoints({ metadata: { namespace: 'shop', name: 'many' }, subsets: [{ addresses }] });
  return index;
}

async function startServer(upstream: Array<{ host: string; port: number }> | null, timeoutMs?: number): Promise<DnsServer> {
  const server = await startDnsServer({ host: HOST, port: 0, index: clusterIndex(), upstream, timeoutMs });
  cleanups.push(() => server.close());
  return server;
}

describe('DNS server: cluster names', () => {
  let server: DnsServer;
  before(async () => {
    server = await startServer(null);
  });

  it('answers a service over UDP, authoritatively, with the query id', async () => {
    const query = queryPacket('web.shop.svc.cluster.local', 'A', 4242);
    const answer = await sendUdp(server.port, query);
    assert.equal(answer.id, 4242);
    assert.equal(rcodeOf(answer), 'NOERROR');
    assert.ok(answer.flag_aa);
    assert.deepEqual(dataOf(answer.answers), ['10.96.0.20']);
    assert.deepEqual(
      answer.answers?.map((a) => (a as { ttl?: number }).ttl),
      [5],
    );
  });

  it('answers several queries sent at once over one TCP connection', async () => {
    const answers = await sendTcp(server.port, [queryPacket('web.shop.svc.cluster.local', 'A', 1), queryPacket('nope.shop.svc.cluster.local', 'A', 2)]);
    const byId = new Map(answers.map((a) => [a.id, a]));
    assert.deepEqual(dataOf(byId.get(1)?.answers), ['10.96.0.20']);
    assert.equal(rcodeOf(byId.get(2)!), 'NXDOMAIN');
    assert.equal(byId.get(2)?.authorities?.[0].type, 'SOA');
  });

  it('truncates a UDP answer too big for the client, and gives it whole over TCP', async () => {
    const overUdp = await ask(server.port, 'many.shop.svc.cluster.local');
    assert.ok(overUdp.flag_tc);
    assert.equal(overUdp.answers?.length, 0);
    const [overTcp] = await sendTcp(server.port, [queryPacket('many.shop.svc.cluster.local', 'A')]);
    assert.equal(overTcp.answers?.length, 60);
    assert.ok(!overTcp.flag_tc);
  });

  it('answers PTR for a ClusterIP', async () => {
    const answer = await ask(server.port, '20.0.96.10.in-addr.arpa', 'PTR');
    assert.deepEqual(dataOf(answer.answers), ['web.shop.svc.cluster.local']);
  });

  it('refuses other names when it has no upstream', async () => {
    const answer = await ask(server.port, 'www.example.test');
    assert.equal(rcodeOf(answer), 'REFUSED');
  });

  it('drops malformed packets and keeps answering', async () => {
    const garbage = createSocket('udp4');
    cleanups.push(() => new Promise<void>((resolve) => garbage.close(() => resolve())));
    const bad = [Buffer.from([1, 2, 3]), Buffer.alloc(12, 0xff), queryPacket('web.shop.svc.cluster.local', 'A').subarray(0, 20)];
    for (const message of bad) garbage.send(message, server.port, HOST);
    const response = encode({ type: 'response', id: 7, questions: [{ name: 'web.shop.svc.cluster.local', type: 'A' }] });
    garbage.send(response, server.port, HOST);
    // A bad TCP message is dropped without closing the connection: the next one is answered.
    const [afterBadTcp] = await sendTcp(server.port, [Buffer.from([1, 2, 3]), queryPacket('web.shop.svc.cluster.local', 'A', 9)], 1);
    assert.equal(afterBadTcp.id, 9);
    const answer = await ask(server.port, 'web.shop.svc.cluster.local');
    assert.deepEqual(dataOf(answer.answers), ['10.96.0.20']);
  });

  it('answers NOTIMP to opcodes other than QUERY', async () => {
    const notify = queryPacket('web.shop.svc.cluster.local', 'SOA', 5, { flags: 4 << 11 });
    const answer = await sendUdp(server.port, notify);
    assert.equal(rcodeOf(answer), 'NOTIMP');
  });
});

describe('DNS server: forwarding', () => {
  it('forwards other names to the upstream and returns its answer with the client id', async () => {
    const upstream = await startFakeUpstream();
    const server = await startServer([{ host: HOST, port: upstream.port }]);
    const answer = await sendUdp(server.port, queryPacket('www.Example.test', 'A', 777));
    assert.equal(answer.id, 777);
    assert.equal(rcodeOf(answer), 'NOERROR');
    assert.ok(!answer.flag_aa);
    assert.deepEqual(dataOf(answer.answers), ['192.0.2.10', '192.0.2.11', '192.0.2.12']);
    const [overTcp] = await sendTcp(server.port, [queryPacket('nowhere.invalid', 'A', 778)]);
    assert.equal(overTcp.id, 778);
    assert.equal(rcodeOf(overTcp), 'NXDOMAIN');
  });

  it('forwards through another virtmesh DNS server', async () => {
    const remoteIndex = createClusterDnsIndex({ clusterDomain: 'remote.test' });
    remoteIndex.upsertService({ metadata: { namespace: 'default', name: 'api' }, spec: { clusterIP: '10.50.0.1' } });
    const remote = await startDnsServer({ host: HOST, port: 0, index: remoteIndex, upstream: null });
    cleanups.push(() => remote.close());
    const server = await startServer([{ host: HOST, port: remote.port }]);
    const answer = await ask(server.port, 'api.default.svc.remote.test');
    assert.deepEqual(dataOf(answer.answers), ['10.50.0.1']);
  });

  it('follows an ExternalName CNAME to the upstream addresses', async () => {
    const upstream = await startFakeUpstream();
    const server = await startServer([{ host: HOST, port: upstream.port }]);
    const answer = await ask(server.port, 'ext.shop.svc.cluster.local');
    assert.ok(answer.flag_aa);
    assert.deepEqual(dataOf(answer.answers), ['pay.example.test', '192.0.2.10', '192.0.2.11', '192.0.2.12']);
  });

  it('retries over TCP when the upstream truncates its UDP answer', async () => {
    const upstream = await startFakeUpstream({ truncateUdp: true });
    const server = await startServer([{ host: HOST, port: upstream.port }]);
    const answer = await ask(server.port, 'big.example.test');
    assert.ok(!answer.flag_tc);
    assert.equal(answer.answers?.length, 3);
    assert.deepEqual(upstream.seen, { udp: 1, tcp: 1 });
  });

  it('answers SERVFAIL within the timeout when the upstream stays silent', async () => {
    const upstream = await startFakeUpstream({ silent: true });
    const server = await startServer([{ host: HOST, port: upstream.port }], 300);
    const started = Date.now();
    const answer = await ask(server.port, 'www.example.test');
    assert.equal(rcodeOf(answer), 'SERVFAIL');
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    assert.equal(upstream.seen.udp, 1);
  });

  it('refuses forwards beyond maxInFlight instead of queueing them', async () => {
    const upstream = await startFakeUpstream({ silent: true });
    const server = await startDnsServer({
      host: HOST,
      port: 0,
      index: clusterIndex(),
      upstream: [{ host: HOST, port: upstream.port }],
      timeoutMs: 500,
      maxInFlight: 1,
    });
    cleanups.push(() => server.close());
    const first = ask(server.port, 'one.example.test');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(rcodeOf(await ask(server.port, 'two.example.test')), 'REFUSED');
    assert.deepEqual(dataOf((await ask(server.port, 'web.shop.svc.cluster.local')).answers), ['10.96.0.20']);
    assert.equal(rcodeOf(await first), 'SERVFAIL');
  });

  it('moves on to the next upstream when one is down, and fails only when all are', async () => {
    const working = await startFakeUpstream();
    const down = await closedPort();
    const server = await startServer(
      [
        { host: HOST, port: down },
        { host: HOST, port: working.port },
      ],
      1000,
    );
    assert.deepEqual(dataOf((await ask(server.port, 'www.example.test')).answers)[0], '192.0.2.10');
    const allDown = await startServer([{ host: HOST, port: down }], 1000);
    assert.equal(rcodeOf(await ask(allDown.port, 'www.example.test')), 'SERVFAIL');
  });
});

describe('readHostResolvers', () => {
  it('reads nameservers in order, skipping comments, bad entries and this server itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtmesh-dns-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'resolv.conf');
    const text = [
      '# generated',
      'search example.test',
      'nameserver 192.0.2.53 # primary',
      '; nameserver 192.0.2.99',
      'nameserver 10.0.0.1',
      'nameserver not-an-ip',
      'nameserver 2001:db8::53',
      'nameserver 192.0.2.53',
    ].join('\n');
    writeFileSync(file, text);
    assert.deepEqual(readHostResolvers(file), [
      { host: '192.0.2.53', port: 53 },
      { host: '10.0.0.1', port: 53 },
      { host: '2001:db8::53', port: 53 },
    ]);
    assert.deepEqual(
      readHostResolvers(file, [{ host: '10.0.0.1', port: 53 }]).map((u) => u.host),
      ['192.0.2.53', '2001:db8::53'],
    );
    writeFileSync(file, 'nameserver 127.0.0.1\n');
    assert.deepEqual(readHostResolvers(file, [{ host: '0.0.0.0', port: 53 }]), []);
    assert.deepEqual(readHostResolvers(file, [{ host: '0.0.0.0', port: 5353 }]), [{ host: '127.0.0.1', port: 53 }]);
    assert.deepEqual(readHostResolvers(join(dir, 'missing')), []);
  });
});
