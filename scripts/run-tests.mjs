#!/usr/bin/env node
// Runs every test file (unit tests beside the code in src/, end-to-end tests in test/)
// with node's test runner through tsx. Extra arguments narrow the set: a path or a substring.

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : find(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = [...find('src'), ...find('test')]
  .map((f) => relative('.', f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// The whole suite also holds the code to the linter and the type checker.
if (filters.length === 0) {
  for (const [what, cmd, args] of [
    ['lint (biome)', 'npx', ['biome', 'check', 'src', 'test', 'scripts', 'bin', 'bench', 'vite.config.ts']],
    ['type check (tsc, src and test)', 'npx', ['tsc', '-p', 'tsconfig.test.json']],
    ['type check (tsc, the web console)', 'npx', ['tsc', '-p', 'src/console/web/tsconfig.json']],
  ]) {
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`${what} failed`);
      process.exit(r.status ?? 1);
    }
    console.log(`${what}: clean`);
  }
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
