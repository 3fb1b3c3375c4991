import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Cleanup, get } from './test-helpers.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

describe('the sidecar process', { timeout: 30_000 }, () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it('starts from the environment, reports itself not ready without config, and exits 0 after draining on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: {
        ...process.env,
        INSTANCE_IP: '127.0.0.1',
        POD_NAME: 'p',
        POD_NAMESPACE: 'default',
        PILOT_ADDRESS: '',
        TERMINATION_DRAIN_DURATION_SECONDS: '10',
        VIRTMESH_PROXY_PORTS: JSON.stringify({ outbound: 0, inbound: 0, admin: 0, agent: 0, health: 0, prometheus: 0 }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanup.add(() => child.kill('SIGKILL'));
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const listening = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /listening: .* admin (\d+), agent (\d+)/.exec(stderr);
        if (m) resolve(m[2]);
      });
      child.once('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const ready = await get(Number(listening), '/healthz/ready', { host: 'localhost' });
    assert.equal(ready.status, 503);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'no connection open: the drain ends at once and the process exits cleanly');
    assert.match(stderr, /SIGTERM: draining/);
  });
});
