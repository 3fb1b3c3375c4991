import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killLeftoverProcess, supervise } from './supervisor.js';

/** A process that waits 30 s, with the test's directory on its command line. */
const WAIT = ['-e', 'setTimeout(() => {}, 30000)'];
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

describe('supervised processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-supervise-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const files = (name: string) => ({ logFile: join(dir, `${name}.log`), pidFile: join(dir, `${name}.pid`) });

  it('restarts a process that dies, records its pid, and stops it for good', async () => {
    const lines: string[] = [];
    const p = supervise({ name: 'sleeper', command: process.execPath, args: [...WAIT, dir], ...files('a'), log: (l) => lines.push(l) });
    after(() => p.stop());
    const first = p.pid()!;
    assert.equal(Number(readFileSync(join(dir, 'a.pid'), 'utf8')), first);
    process.kill(first, 'SIGKILL');
    for (let i = 0; i < 100 && p.pid() === first; i++) await new Promise((r) => setTimeout(r, 100));
    assert.notEqual(p.pid(), first, 'a new process after the back-off');
    // A process that dies young waits longer each time; the first wait is 2 s.
    assert.match(lines[0], /^sleeper exited \(SIGKILL\); restarting in 2s$/);
    const second = p.pid()!;
    await p.stop();
    assert.ok(!alive(second));
    assert.ok(!existsSync(join(dir, 'a.pid')), 'pid file removed');
  });

  it('stops cleanly while a restart is pending', async () => {
    const p = supervise({ name: 'quick', command: 'true', args: [], ...files('b'), log: () => {} });
    after(() => p.stop());
    await new Promise((r) => setTimeout(r, 300)); // exited; a restart waits for its back-off
    await p.stop();
    const pid = p.pid();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(p.pid(), pid, 'no restart after stop');
  });

  it('kills a leftover named by a pid file only if its command line names the marker', async () => {
    const leftover = spawn(process.execPath, [...WAIT, dir], { stdio: 'ignore' });
    after(() => leftover.kill('SIGKILL'));
    writeFileSync(join(dir, 'c.pid'), String(leftover.pid));
    await killLeftoverProcess(join(dir, 'c.pid'), '/no/such/marker');
    assert.ok(alive(leftover.pid!), 'a process not of this marker is never signalled');
    writeFileSync(join(dir, 'c.pid'), String(leftover.pid));
    const gone = new Promise((r) => leftover.once('exit', r));
    await killLeftoverProcess(join(dir, 'c.pid'), dir);
    await gone;
    assert.ok(!existsSync(join(dir, 'c.pid')), 'pid file removed');
  });
});
