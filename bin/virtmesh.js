#!/usr/bin/env node
// Runs the built CLI (npm run build makes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('virtmesh is not built yet: run `npm run build` (or `npm test`, which builds) in the project folder\n');
  process.exit(1);
}
await import(main);
