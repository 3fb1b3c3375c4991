// The guest's small nc and curl, compiled as the image build compiles them but handing over
// to the host's real ncat and curl, run on this machine against servers on loopback: what
// they do must be what the real programs do, and what they do not handle must reach them.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from '../../util/ports.js';
import { compileGuestTools, curlUserAgent, type GuestToolName } from './guest-tools.js';

const work = mkdtempSync(join(tmpdir(), 'virtmesh-guest-tools-test-'));
let tools: Record<GuestToolName, string>;
const children: ChildProcess[] = [];

before(async () => {
  tools = await compileGuestTools(work, { realDir: '/usr/bin' });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(-c.pid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const env = { PATH: process.env.PATH, HOME: work };

/** Runs a command to completion with stdin at its end (a program may end before reading it). */
function runCommand(cmd: string, args: string[], environment: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
const run = (tool: GuestToolName | string, args: string[]) => runCommand(tool in tools ? tools[tool as GuestToolName] : tool, args, env);

/** A command in its own process group, killed (with its children) when the file ends. */
function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { env, detached: true, stdio: 'ignore' });
  children.push(c);
  return c;
}
const stop = (c: ChildProcess) => c.pid && c.exitCode === null && process.kill(-c.pid, 'SIGKILL');

/** Sends `request` on a plain socket (then its end, with `halfClose`); the whole answer, or the error code (ECONNREFUSED). */
function rawGet(port: number, request = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', halfClose = false): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect(port, '127.0.0.1', () => (halfClose ? s.end(request) : s.write(request)));
    s.setTimeout(5000, () => s.destroy());
    s.on('data', (d) => (data += d));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    s.on('close', () => resolve(data));
  });
}

describe('guest nc', () => {
  it("serves nc -lp PORT -c CMD: the connection is the command's stdin and stdout, with ncat's variables", async () => {
    const port = await freeLoopbackPort(0);
    const nc = start(tools.nc, ['-lp', String(port), '-c', 'read -r line; printf "HTTP/1.1 200 OK\\n\\n%s %s\\n" "$line" "$NCAT_REMOTE_ADDR"']);
    const exited = new Promise((r) => nc.once('exit', r));
    await sleep(200);
    assert.equal(await rawGet(port), 'HTTP/1.1 200 OK\n\nGET / HTTP/1.1\r 127.0.0.1\n');
    assert.equal(await exited, 0);
  });

  it("takes ncat's option spellings: -l -p PORT -e PROG, -l PORT, --sh-exec=CMD", async () => {
    for (const args of [
      ['-l', '-p', '{port}', '-e', '/bin/cat'],
      ['-l', '{port}', '-e', '/bin/cat'],
      ['--listen', '--source-port={port}', '--sh-exec=cat'],
    ]) {
      const port = await freeLoopbackPort(0);
      start(
        tools.nc,
        args.map((a) => a.replace('{port}', String(port))),
      );
      await sleep(200);
      assert.equal(await rawGet(port, 'echo me\n', true), 'echo me\n', args.join(' '));
    }
  });

  it('connects and relays, reports a refused connection as ncat does, and tries with -z', async () => {
    const port = await freeLoopbackPort(0);
    const srv = start('/usr/bin/ncat', ['-l', '-p', String(port), '-c', 'echo from-server']);
    await sleep(300);
    // ncat ends at the end of its stdin: this one stays open until the server has answered.
    const r = await runCommand('sh', ['-c', `sleep 1 | ${tools.nc} 127.0.0.1 ${port}`], env);
    assert.equal(r.stdout, 'from-server\n');
    stop(srv);
    const refused = await run('nc', ['127.0.0.1', String(port)]);
    assert.deepEqual([refused.code, refused.stderr], [1, 'Ncat: Connection refused.\n']);
    assert.equal((await run('nc', ['-z', '127.0.0.1', String(port)])).code, 1);
  });

  it('hands the listener from one run of a loop to the next: back to back, refused only before the second run listens', async () => {
    const port = await freeLoopbackPort(0);
    start('sh', ['-c', `while true; do ${tools.nc} -lp ${port} -c "printf 'HTTP/1.1 200 OK\\n\\nHello\\n'"; done`]);
    await sleep(300);
    const answers: string[] = [];
    for (let i = 0; i < 200; i++) answers.push(await rawGet(port));
    // The first run, with no run before it, behaves as ncat (closes its listener once it has a
    // connection): a client that tries again at once is refused until the second run listens.
    // From then on the listener passes from run to run.
    const pattern = answers.map((a) => (a.includes('Hello') ? '.' : a === 'ECONNREFUSED' ? 'x' : '?')).join('');
    assert.match(pattern, /^\.x*\.{150,}$/, `answers (x: refused): ${pattern} ${JSON.stringify([...new Set(answers)])}`);
  });

  it('alone (no loop), refuses a second client while it serves, as ncat does, and frees the port when it ends', async () => {
    const port = await freeLoopbackPort(0);
    const nc = start(tools.nc, ['-lp', String(port), '-c', 'sleep 1; echo served']);
    const exited = new Promise((r) => nc.once('exit', r));
    await sleep(200);
    const first = rawGet(port);
    await sleep(200);
    assert.equal(await rawGet(port), 'ECONNREFUSED');
    assert.equal(await first, 'served\n');
    await exited;
    assert.equal(await rawGet(port), 'ECONNREFUSED');
  });

  it('hands every option it does not know to the real ncat', async () => {
    assert.match((await run('nc', ['--version'])).stderr, /^Ncat: Version \d/);
    assert.match((await run('nc', ['-h'])).stdout, /^Ncat \d.*\nUsage: ncat/);
    // -v: ncat's own chatter shows it is the real one.
    const port = await freeLoopbackPort(0);
    assert.match((await run('nc', ['-v', '127.0.0.1', String(port)])).stderr, /^Ncat: Version/);
  });
});

describe('guest curl', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['rawHeaders']; body: string }> = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.rawHeaders, body });
        if (req.url === '/missing') {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('no\n');
        } else if (req.url === '/chunked') {
          res.write('abc');
          res.end('de');
        } else {
          res.setHeader('Content-Type', 'text/plain');
          res.end('Hello\n');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it("sends the real curl's request: its User-Agent, -H, -d, -X", async () => {
    const r = await run('curl', ['-s', '-H', 'X-Test: 1', '-d', 'a=1', '-d', 'b=2', `${base}/form?q`]);
    assert.equal(r.stdout, 'Hello\n');
    const req = seen.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/form?q');
    assert.deepEqual(req.headers, [
      'Host',
      base,
      'User-Agent',
      await curlUserAgent(),
      'Accept',
      '*/*',
      'X-Test',
      '1',
      'Content-Length',
      '7',
      'Content-Type',
      'application/x-www-form-urlencoded',
    ]);
    assert.equal(req.body, 'a=1&b=2');
    await run('curl', ['-s', '-X', 'DELETE', `http://${base}/x`]);
    assert.equal(seen.at(-1)!.method, 'DELETE');
  });

  it('gives the same output and exit status as the real curl', async () => {
    const port = await freeLoopbackPort(0);
    const cases = [
      ['-s', base],
      ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{content_type}\\n', `http://${base}/`],
      ['-si', `${base}/chunked`],
      ['-sI', base],
      ['-f', '-s', `${base}/missing`],
      ['-sSf', `${base}/missing`],
      ['-s', `${base}/missing`],
      ['-sS', `127.0.0.1:${port}/`],
      ['-s', '-w', '%{http_code}', `127.0.0.1:${port}`],
    ];
    for (const args of cases) {
      const [fast, real] = [await run('curl', args), await run('/usr/bin/curl', args)];
      const norm = (s: string) => s.replace(/Date: .*\r\n/, '').replace(/after \d+ ms/, 'after N ms');
      assert.deepEqual([fast.code, norm(fast.stdout), norm(fast.stderr)], [real.code, norm(real.stdout), norm(real.stderr)], args.join(' '));
    }
  });

  it('hands other schemes, options and settings to the real curl', async () => {
    assert.match((await run('curl', ['--version'])).stdout, /^curl \d+\.\d+\.\d+ \(.*libcurl/);
    assert.match((await run('curl', ['-v', '-s', base])).stderr, /^\* +Trying 127\.0\.0\.1:\d+/m, '-v is the real curl');
    const https = await run('curl', ['-sS', `https://${base}/`]);
    assert.match(https.stderr, /^curl: \(35\)/, 'https:// is the real curl (a TLS error from a plain server)');
    const proxied = await runCommand(tools.curl, ['-sS', `${base}/`], { ...env, http_proxy: 'http://127.0.0.1:1' });
    assert.match(proxied.stderr, /Failed to connect to 127\.0\.0\.1 port 1/, 'http_proxy: the real curl, which uses it');
  });

  it('writes -o files and reports a server that closes without answering', async () => {
    const file = join(work, 'out.txt');
    assert.equal((await run('curl', ['-s', '-o', file, base])).code, 0);
    assert.equal(readFileSync(file, 'utf8'), 'Hello\n');
    const port = await freeLoopbackPort(0);
    start('/usr/bin/ncat', ['-l', '-p', String(port), '-c', 'true']);
    await sleep(300);
    const r = await run('curl', ['-sS', `127.0.0.1:${port}`]);
    assert.deepEqual([r.code, r.stderr], [52, 'curl: (52) Empty reply from server\n']);
  });
});
