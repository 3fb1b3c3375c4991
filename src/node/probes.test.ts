import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Prober, probeOnce } from './probes.js';

/** A raw TCP server answering every connection with `answer` (bare LF line ends allowed, as guests write them). */
function rawServer(answer: string): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => c.once('data', () => c.end(answer)));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

describe('probes', () => {
  let ok: { server: Server; port: number };
  let failing: { server: Server; port: number };
  let closedPort: number;
  before(async () => {
    ok = await rawServer('HTTP/1.1 200 OK\n\nHello\n');
    failing = await rawServer('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
    const gone = await rawServer('');
    closedPort = gone.port;
    await new Promise((r) => gone.server.close(r));
  });
  after(() => {
    ok.server.close();
    failing.server.close();
  });

  it('httpGet: 2xx/3xx pass, others fail with the kubelet message, bare LF answers are read', async () => {
    assert.deepEqual(await probeOnce({ httpGet: { port: ok.port } }, '127.0.0.1'), { ok: true, message: '' });
    assert.deepEqual(await probeOnce({ httpGet: { port: failing.port } }, '127.0.0.1'), { ok: false, message: 'HTTP probe failed with statuscode: 503' });
    const refused = await probeOnce({ httpGet: { port: closedPort, path: '/healthz' } }, '127.0.0.1');
    assert.equal(refused.message, `Get "http://127.0.0.1:${closedPort}/healthz": dial tcp 127.0.0.1:${closedPort}: connect: connection refused`);
  });

  it('tcpSocket: passes when the port accepts', async () => {
    assert.equal((await probeOnce({ tcpSocket: { port: ok.port } }, '127.0.0.1')).ok, true);
    assert.equal((await probeOnce({ tcpSocket: { port: closedPort } }, '127.0.0.1')).ok, false);
  });

  it('resolves named ports through the container, and a bad port is a failed probe, not a crash', async () => {
    assert.equal((await probeOnce({ tcpSocket: { port: 'http' } }, '127.0.0.1', { http: ok.port })).ok, true);
    const unknown = await probeOnce({ tcpSocket: { port: 'nope' } }, '127.0.0.1', { http: ok.port });
    assert.deepEqual(unknown, { ok: false, message: 'port "nope" is not a port number nor a named port of the container' });
    assert.equal((await probeOnce({ httpGet: { port: ok.port, httpHeaders: [{ name: 'bad header', value: 'x' }] } }, '127.0.0.1')).ok, false);
  });

  it('turns ready only after successThreshold passes in a row, and unready after failureThreshold misses', async () => {
    let port = ok.port;
    const changes: boolean[] = [];
    // The port is read at each try, so the test can switch the target from healthy to failing.
    const spec = {
      httpGet: {
        get port() {
          return port;
        },
      },
      periodSeconds: 0.05,
      successThreshold: 2,
      failureThreshold: 2,
    };
    const prober = new Prober(
      'readiness',
      spec as never,
      () => '127.0.0.1',
      (h) => changes.push(h),
    );
    prober.start();
    while (changes.length < 1) await new Promise((r) => setTimeout(r, 20));
    port = failing.port;
    while (changes.length < 2) await new Promise((r) => setTimeout(r, 20));
    prober.stop();
    assert.deepEqual(changes, [true, false]);
  });

  it('counts initialDelaySeconds from the container start (a VM taken over after a node agent restart probes at once)', async () => {
    const spec = { tcpSocket: { port: ok.port }, initialDelaySeconds: 3600, periodSeconds: 10 };
    let adoptedReady = false;
    let freshReady = false;
    const adopted = new Prober(
      'readiness',
      spec,
      () => '127.0.0.1',
      (h) => (adoptedReady = h),
    );
    const fresh = new Prober(
      'readiness',
      spec,
      () => '127.0.0.1',
      (h) => (freshReady = h),
    );
    adopted.start(Date.now() - 3601_000);
    fresh.start();
    for (let i = 0; i < 100 && !adoptedReady; i++) await new Promise((r) => setTimeout(r, 20));
    adopted.stop();
    fresh.stop();
    assert.equal(adoptedReady, true, 'the delay had already passed: probed at once');
    assert.equal(freshReady, false, 'a container that just started waits the whole delay');
  });

  it('resumes from the health the container had, so failures take a ready container out of service', async () => {
    const changes: boolean[] = [];
    const p = new Prober(
      'readiness',
      { tcpSocket: { port: closedPort }, failureThreshold: 1, periodSeconds: 10 },
      () => '127.0.0.1',
      (h) => changes.push(h),
    );
    p.start(Date.now(), true);
    for (let i = 0; i < 100 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    p.stop();
    assert.deepEqual(changes, [false]);
  });
});
