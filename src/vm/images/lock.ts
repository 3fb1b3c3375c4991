// A lock file created with O_EXCL that names its holder (pid and process start time),
// so a lock left by a process that died, or whose pid was reused, is taken over.

import { readFileSync } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

interface Holder {
  pid: number;
  start: string;
}

/** The process start time in clock ticks since boot (field 22 of /proc/PID/stat), '' if unknown. */
function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function isAlive(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(holder.pid);
  return start === '' || holder.start === '' || start === holder.start;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** Called once when another live process holds the lock. */
  onWait?: (holderPid: number) => void;
  pollMs?: number;
}

/** Waits for and takes the lock at path; the returned function releases it. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const me: Holder = { pid: process.pid, start: processStart(process.pid) };
  let told = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(JSON.stringify(me));
      await fh.close();
      return async () => {
        const current = await readFile(path, 'utf8').catch(() => '');
        if (current === JSON.stringify(me)) await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readHolder(path);
    if (holder === 'gone') continue;
    if (holder === 'stale' || (holder !== 'writing' && !isAlive(holder))) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (holder !== 'writing' && !told) {
      opts.onWait?.(holder.pid);
      told = true;
    }
    await sleep(opts.pollMs ?? 250, undefined, { signal: opts.signal });
  }
}

/** The holder; 'gone' if the file vanished; 'writing' or 'stale' if unreadable and younger or older than a few seconds. */
async function readHolder(path: string): Promise<Holder | 'gone' | 'stale' | 'writing'> {
  let text: string;
  let age: number;
  try {
    text = await readFile(path, 'utf8');
    age = Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return 'gone';
  }
  try {
    const h = JSON.parse(text) as Holder;
    if (Number.isInteger(h.pid) && h.pid > 0) return { pid: h.pid, start: String(h.start ?? '') };
  } catch {}
  // A holder may be between creating and writing the file.
  return age > 5000 ? 'stale' : 'writing';
}
