// The console: the web UI (built from ./web into dist/web) and the server of its JSON API.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { HttpError } from './errors.js';
export { type ConsoleServerOptions, type RunningConsole, startConsoleServer } from './server.js';

/** Where `npm run build` puts the built web console (dist/web, beside this part's compiled code). */
export const webConsoleDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');
