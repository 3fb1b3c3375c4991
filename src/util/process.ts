// Processes identified by their command line, so that a reused pid is never signalled.

import { readFileSync } from 'node:fs';

/** True for a live process whose command line mentions `marker` (a state directory, a pod's uid). */
export function isProcessOf(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker); // empty for a zombie
  } catch {
    return false;
  }
}

/** SIGKILL for pid if it is still a process whose command line mentions `marker`; one already gone is fine. */
export function killProcessOf(pid: number | undefined, marker: string): void {
  try {
    if (pid && isProcessOf(pid, marker)) process.kill(pid, 'SIGKILL');
  } catch {}
}
