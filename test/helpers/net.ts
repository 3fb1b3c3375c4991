// Network stand-ins and probes for end-to-end tests: an upstream DNS server on
// loopback, a network namespace standing in for a network beyond the machine, and
// small HTTP/TCP/DNS clients.

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import { ipToInt } from '../../src/util/ipv4.js';

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

export interface TestNetns {
  netns: string;
  /** The host's end of the veth (what VIRTMESH_NODE_UPLINK=nat:IFACE names) and its address. */
  hostVeth: string;
  hostAddress: string;
  /** The web server's address inside the namespace (port 80). */
  address: string;
  /** What the server has answered: the peer address it saw and the Host header. */
  requests: Array<{ from: string; host: string }>;
  /** A command inside the namespace; never rejects. */
  exec(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

/** A command in a network namespace (a test's own, or a pod's); never rejects. */
export function execInNetns(netns: string, cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, cmd, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Answers every request with who it came from, and reports each on stdout as a JSON line. */
const WEB_SERVER = `
const server = require('node:http').createServer((req, res) => {
  const from = req.socket.remoteAddress.replace(/^::ffff:/, '');
  process.stdout.write(JSON.stringify({ from, host: req.headers.host ?? '' }) + '\\n');
  res.end('hello from the test network, to ' + from + '\\n');
});
server.listen(80, process.env.TEST_NETNS_ADDRESS, () => process.stdout.write('listening\\n'));
`;

/**
 * Throws when `address/prefix` overlaps a network the machine already reaches by a route of
 * its own, or holds one of its resolvers: a test network there would take that traffic over
 * (this kind of machine keeps its own services in documentation ranges). Tests use the
 * benchmarking range 198.18.0.0/15, where no real host lives.
 */
function refuseRoutedRange(address: string, prefix: number): void {
  const mask = (bits: number) => (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);
  const within = (ip: number, net: number, bits: number) => (ip & mask(bits)) >>> 0 === (net & mask(bits)) >>> 0;
  const base = ipToInt(address);
  const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as Array<{ dst: string; dev?: string }>;
  for (const r of routes) {
    if (r.dst === 'default' || !/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(r.dst)) continue;
    const [net, bits = '32'] = r.dst.split('/');
    const shorter = Math.min(Number(bits), prefix);
    if (within(base, ipToInt(net), shorter))
      throw new Error(`the test network ${address}/${prefix} overlaps the machine's route ${r.dst} (dev ${r.dev}); pick another range`);
  }
  const resolvers = readFileSync('/etc/resolv.conf', 'utf8').matchAll(/^nameserver\s+(\d+\.\d+\.\d+\.\d+)/gm);
  for (const [, ip] of resolvers) {
    if (within(ipToInt(ip), base, prefix)) throw new Error(`the test network ${address}/${prefix} holds the machine's resolver ${ip}; pick another range`);
  }
}

/**
 * A stand-in for a network beyond the machine (the internet, another LAN): a network namespace of
 * the test's own behind a veth from the host, `address/prefix` inside with a web server on port 80,
 * `hostAddress/prefix` on the host's end. `name` (up to 8 characters) makes the names: netns
 * virtmesh-test-NAME, veth tnet-NAME. close() removes all of it; a leftover of a killed run with the
 * same name is removed first.
 */
export async function startTestNetns(name: string, address: string, hostAddress: string, prefix: number): Promise<TestNetns> {
  const netns = `virtmesh-test-${name}`;
  const hostVeth = `tnet-${name}`;
  const ip = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const quiet = (args: string[]) => {
    try {
      ip(args);
    } catch {}
  };
  let server: ChildProcess | undefined;
  const close = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGKILL');
      await exited;
    }
    quiet(['netns', 'delete', netns]); // takes the namespace's end of the veth, and with it the host's
    quiet(['link', 'delete', hostVeth]);
  };
  await close();
  refuseRoutedRange(address, prefix); // checked once a leftover of this name is gone
  const requests: TestNetns['requests'] = [];
  try {
    ip(['netns', 'add', netns]);
    ip(['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    ip(['addr', 'add', `${hostAddress}/${prefix}`, 'dev', hostVeth]);
    ip(['link', 'set', hostVeth, 'up']);
    for (const args of [
      ['link', 'set', 'lo', 'up'],
      ['addr', 'add', `${address}/${prefix}`, 'dev', 'eth0'],
      ['link', 'set', 'eth0', 'up'],
    ]) {
      ip(['-n', netns, ...args]);
    }
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', WEB_SERVER], {
      env: { PATH: process.env.PATH, TEST_NETNS_ADDRESS: address },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let err = '';
    child.stderr?.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the web server in ${netns} did not listen within 10 s: ${err}`)), 10_000);
      let buffered = '';
      child.stdout?.on('data', (d) => {
        buffered += d;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          if (line === 'listening') {
            clearTimeout(timer);
            resolve();
          } else if (line) requests.push(JSON.parse(line));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the web server in ${netns} exited (${code}): ${err}`));
      });
    });
  } catch (e) {
    await close();
    throw e;
  }
  return { netns, hostVeth, hostAddress, address, requests, exec: (cmd, args) => execInNetns(netns, cmd, args), close };
}
