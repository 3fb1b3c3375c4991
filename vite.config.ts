// Builds the web console (src/console/web) into dist/web, where the console server looks for it
// (src/console/index.ts: webConsoleDir; dist/console holds that part's compiled code).
// base './' keeps every asset URL relative, so the console works under any path prefix.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: `${here}src/console/web`,
  base: './',
  plugins: [preact()],
  build: {
    outDir: `${here}dist/web`,
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
});
