// Small file helpers shared by the parts.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Writes a file so readers see the old content or the new, never half of it. */
export function writeAtomically(path: string, content: string): void {
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
}

/** The pid a pid file records; 0 when there is none (or a crash cut it short). */
export function readPidFile(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8')) || 0;
  } catch {
    return 0;
  }
}
