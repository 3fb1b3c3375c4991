// SO_ORIGINAL_DST through the addon, with a real REDIRECT rule in a network namespace
// this test makes (and removes).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../util/exec.js';
import { originalDst } from './original-dst.js';

const netns = `vmtest-odst-${randomBytes(3).toString('hex')}`;
const here = fileURLToPath(new URL('./original-dst.ts', import.meta.url));

before(async () => {
  await run('ip', ['netns', 'add', netns]);
  await run('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
  await run('ip', [
    'netns',
    'exec',
    netns,
    'iptables',
    '-t',
    'nat',
    '-A',
    'OUTPUT',
    '-p',
    'tcp',
    '-d',
    '127.0.0.99',
    '--dport',
    '7777',
    '-j',
    'REDIRECT',
    '--to-ports',
    '15001',
  ]);
});
after(async () => {
  await run('ip', ['netns', 'del', netns], { allowFailure: true });
});

test('a redirected connection reports where it was headed; a direct one reports its own address', async () => {
  // The listener and the client must live in the namespace, so the check runs as a child there.
  const script = `
    import { createServer, connect } from 'node:net';
    const { originalDst } = await import(${JSON.stringify(here)});
    const seen = [];
    const server = createServer((s) => { seen.push(originalDst(s) ?? null); s.end(); });
    await new Promise((r) => server.listen(15001, '0.0.0.0', r));
    for (const [host, port] of [['127.0.0.99', 7777], ['127.0.0.1', 15001]]) {
      await new Promise((r) => connect(port, host).on('close', r).resume());
    }
    server.close();
    console.log(JSON.stringify(seen));
  `;
  const r = await run('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script]);
  assert.deepEqual(JSON.parse(r.stdout.trim()), [
    { address: '127.0.0.99', port: 7777 },
    { address: '127.0.0.1', port: 15001 },
  ]);
});

test('a socket without a descriptor has no original destination', async () => {
  const server = createServer((s) => s.end());
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { Socket: NetSocket } = await import('node:net');
    assert.equal(originalDst(new NetSocket() as Socket), undefined);
  } finally {
    server.close();
  }
});
