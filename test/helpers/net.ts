// Network stand-ins and probes for end-to-end tests: an upstream DNS server on
// loopback and small HTTP/TCP/DNS clients.

import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';

/** A stand-in for the world outside the cluster: answers every A query with `address()` (127.0.0.1 by default). */
export function startUpstreamDns(address: () => string = () => '127.0.0.1'): Promise<{ port: number; close(): void; queries: string[] }> {
  const sock = createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? '';
    queries.push(name);
    const answer = dnsPacket.encode({
      id: q.id,
      type: 'response',
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions,
      answers: q.questions?.[0]?.type === 'A' ? [{ name, type: 'A', ttl: 30, data: address() }] : [],
    });
    sock.send(answer, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ port: sock.address().port, close: () => sock.close(), queries })));
}

export function dnsQuery(server: string, name: string): Promise<{ rcode: string; answers: string[] }> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no DNS answer for ${name} from ${server}`));
    }, 5000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      const r = dnsPacket.decode(msg) as { rcode?: string; answers?: Array<{ data?: unknown }> };
      resolve({ rcode: r.rcode ?? 'NOERROR', answers: (r.answers ?? []).map((a) => String(a.data)) });
    });
    sock.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), 53, server);
  });
}

export function httpGet(host: string, port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, timeout: 5000, insecureHTTPParser: true }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** 'open' when a TCP connection to host:port is accepted, else the error code. */
export function tcpState(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 3000 });
    s.on('connect', () => {
      s.destroy();
      resolve('open');
    });
    s.on('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}
