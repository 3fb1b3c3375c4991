import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { KubeObject } from '../store/index.js';
import { LogFile, type LogReadOptions, parseLogOptions, selectContainer, tailOffset } from './pod-logs.js';
import { StatusError } from './status.js';

const dir = mkdtempSync(join(tmpdir(), 'virtmesh-pod-logs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (content: string | Buffer) => {
  const p = join(dir, `log-${++n}`);
  writeFileSync(p, content);
  return p;
};

async function read(path: string, opts: LogReadOptions = {}): Promise<string> {
  const log = await LogFile.open(path);
  assert.ok(log);
  let out = '';
  for await (const c of log.chunks(opts)) out += c.toString();
  return out;
}

/** Follows `path`, collecting output until the stream ends. */
function follow(path: string, opts: LogReadOptions = {}) {
  let out = '';
  const client = new AbortController();
  const done = new AbortController();
  const finished = (async () => {
    const log = await LogFile.open(path);
    assert.ok(log);
    for await (const c of log.chunks({ follow: true, pollMs: 20, signal: client.signal, done: done.signal, ...opts })) out += c.toString();
  })();
  return { text: () => out, client, done, finished };
}

async function until(check: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const statusOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError);
    return { code: e.code, message: e.message };
  }
  assert.fail('expected a StatusError');
};

describe('reading a container log', () => {
  it('reads a missing file as undefined', async () => {
    assert.equal(await LogFile.open(join(dir, 'nope')), undefined);
  });

  it('reads the whole file', async () => {
    assert.equal(await read(file('a\nb\nc\n')), 'a\nb\nc\n');
  });

  it('tails lines, with and without a final newline', async () => {
    const p = file('a\nb\nc\n');
    assert.equal(await read(p, { tailLines: 2 }), 'b\nc\n');
    assert.equal(await read(p, { tailLines: 0 }), '');
    assert.equal(await read(p, { tailLines: 10 }), 'a\nb\nc\n');
    assert.equal(await read(file('a\nb\nc'), { tailLines: 2 }), 'b\nc');
    assert.equal(await read(file(''), { tailLines: 2 }), '');
  });

  it('tails a big file reading only its end, across chunk boundaries', async () => {
    const lines = Array.from({ length: 20000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    const p = file(`${lines.join('\n')}\n`);
    assert.equal(await read(p, { tailLines: 3, chunkSize: 7 }), `${lines.slice(-3).join('\n')}\n`);
    assert.equal(await read(p, { tailLines: 1500 }), `${lines.slice(-1500).join('\n')}\n`);
    const fh = await open(p, 'r');
    let bytesAsked = 0;
    const counting = {
      read: (buf: Buffer, offset: number, length: number, position: number) => {
        bytesAsked += length;
        return fh.read(buf, offset, length, position);
      },
    };
    const size = (await fh.stat()).size;
    const start = await tailOffset(counting, size, 2, 4096);
    await fh.close();
    assert.equal(start, size - `${lines.slice(-2).join('\n')}\n`.length);
    assert.equal(bytesAsked, 4096, 'one chunk from the end');
  });

  it('stops at limitBytes, also combined with a tail', async () => {
    const p = file('hello\nworld\n');
    assert.equal(await read(p, { limitBytes: 3 }), 'hel');
    assert.equal(await read(p, { limitBytes: 3, chunkSize: 2 }), 'hel');
    assert.equal(await read(p, { tailLines: 1, limitBytes: 3 }), 'wor');
  });

  it('skips output last written before `since`', async () => {
    const p = file('old\n');
    const past = new Date(Date.now() - 3600_000);
    utimesSync(p, past, past);
    assert.equal(await read(p, { since: new Date(Date.now() - 60_000) }), '');
    assert.equal(await read(p, { since: new Date(Date.now() - 7200_000) }), 'old\n');
  });

  it('follows appends until the client goes away, leaving no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const p = file('one\n');
    const f = follow(p);
    await until(() => f.text() === 'one\n');
    appendFileSync(p, 'two\n');
    await until(() => f.text() === 'one\ntwo\n');
    appendFileSync(p, 'three\n');
    await until(() => f.text() === 'one\ntwo\nthree\n');
    assert.equal(timers(), before + 1, 'the follower polls');
    f.client.abort();
    await f.finished;
    assert.equal(timers(), before);
  });

  it('follows a tail', async () => {
    const p = file('a\nb\nc\n');
    const f = follow(p, { tailLines: 1 });
    await until(() => f.text() === 'c\n');
    appendFileSync(p, 'd\n');
    await until(() => f.text() === 'c\nd\n');
    f.client.abort();
    await f.finished;
  });

  it('starts again from the beginning of a truncated file', async () => {
    const p = file('first line\nsecond line\n');
    const f = follow(p);
    await until(() => f.text() === 'first line\nsecond line\n');
    truncateSync(p, 0);
    // Give the follower a look at the empty file before it grows again.
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(p, 'new\n');
    await until(() => f.text() === 'first line\nsecond line\nnew\n');
    f.client.abort();
    await f.finished;
  });

  it('ends when the file is removed, after what it still held', async () => {
    const p = file('x\n');
    const f = follow(p);
    await until(() => f.text() === 'x\n');
    appendFileSync(p, 'last\n');
    rmSync(p);
    await f.finished;
    assert.equal(f.text(), 'x\nlast\n');
  });

  it('moves on to a file that replaces the one it follows', async () => {
    const p = file('old\n');
    const f = follow(p);
    await until(() => f.text() === 'old\n');
    const next = join(dir, 'replacement');
    writeFileSync(next, 'new\n');
    renameSync(next, p);
    await until(() => f.text() === 'old\nnew\n');
    appendFileSync(p, 'more\n');
    await until(() => f.text() === 'old\nnew\nmore\n');
    f.client.abort();
    await f.finished;
  });

  it('ends a follow on `done` once the rest is sent, and at limitBytes', async () => {
    const p = file('a\n');
    const f = follow(p);
    await until(() => f.text() === 'a\n');
    appendFileSync(p, 'b\n');
    f.done.abort();
    await f.finished;
    assert.equal(f.text(), 'a\nb\n');

    const g = follow(p, { limitBytes: 5 });
    await until(() => g.text() === 'a\nb\n');
    appendFileSync(p, 'cdef\n');
    await g.finished;
    assert.equal(g.text(), 'a\nb\nc');
  });
});

describe('pods/log options and containers', () => {
  const pod = (containers: string[], annotations?: Record<string, string>, initContainers: string[] = []): KubeObject => ({
    metadata: { name: 'p', namespace: 'default', annotations },
    spec: { containers: containers.map((name) => ({ name })), initContainers: initContainers.map((name) => ({ name })) },
  });

  it('reads kube query parameters', () => {
    const o = parseLogOptions(new URLSearchParams('container=c&follow=true&tailLines=2&limitBytes=10&sinceSeconds=5&timestamps=1&previous=false'), 'p');
    assert.deepEqual(o, {
      container: 'c',
      follow: true,
      previous: false,
      tailLines: 2,
      limitBytes: 10,
      sinceSeconds: 5,
      sinceTime: undefined,
      timestamps: true,
    });
  });

  it('refuses bad values as kube-apiserver does', () => {
    assert.deepEqual(
      statusOf(() => parseLogOptions(new URLSearchParams('tailLines=-1'), 'p')),
      {
        code: 422,
        message: 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
      },
    );
    assert.equal(statusOf(() => parseLogOptions(new URLSearchParams('limitBytes=0'), 'p')).code, 422);
    assert.deepEqual(
      statusOf(() => parseLogOptions(new URLSearchParams('tailLines=x'), 'p')),
      {
        code: 400,
        message: 'strconv.ParseInt: parsing "x": invalid syntax',
      },
    );
  });

  it('picks the only container, the annotated default, or asks for one', () => {
    assert.equal(selectContainer(pod(['compute']), undefined), 'compute');
    assert.equal(selectContainer(pod(['compute', 'volumecontainerdisk'], { 'kubectl.kubernetes.io/default-container': 'compute' }), undefined), 'compute');
    assert.equal(selectContainer(pod(['compute', 'volumecontainerdisk']), 'volumecontainerdisk'), 'volumecontainerdisk');
    assert.equal(selectContainer(pod(['compute'], {}, ['init']), 'init'), 'init');
    assert.deepEqual(
      statusOf(() => selectContainer(pod(['compute', 'volumecontainerdisk'], {}, ['init']), undefined)),
      {
        code: 400,
        message: 'a container name must be specified for pod p, choose one of: [init compute volumecontainerdisk]',
      },
    );
    assert.deepEqual(
      statusOf(() => selectContainer(pod(['compute']), 'nope')),
      { code: 400, message: 'container nope is not valid for pod p' },
    );
  });
});
