// The console's server, the Kiali role: the web console's files and the JSON API it
// reads (shapes in ../telemetry/api.ts). Traffic comes from PromQL against any
// Prometheus (the cluster's own, or a real cluster's with `--prometheus`); objects come
// from the API server; sync state from the mesh control plane. It also serves
// Prometheus's HTTP service discovery of the pods to scrape.

import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { type ApiClient, type KubeObject, resourcePath } from '../client/index.js';
import type { ProxySyncStatus } from '../pilot/index.js';
import type { BackendState, NamespaceInfo, StatusResponse } from '../telemetry/api.js';
import { PrometheusClient, scrapeTargets } from '../telemetry/index.js';
import { HttpError } from './errors.js';
import { ApiRoutes, proxyStatusRow } from './routes.js';

export interface ConsoleServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  client: ApiClient;
  kubeUrl: string;
  prometheusUrl: string;
  /** The control plane's debug URL (istiod's 15014), read on each request: it is known only once it runs. */
  controlPlaneUrl: () => string | undefined;
  /** The built web console (dist/web). */
  staticDir: string;
  version: string;
  log: (line: string) => void;
}

export interface RunningConsole {
  url: string;
  port: number;
  close(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export async function startConsoleServer(opts: ConsoleServerOptions): Promise<RunningConsole> {
  const prom = new PrometheusClient(opts.prometheusUrl);
  const routes = new ApiRoutes({ client: opts.client, prom, controlPlane: () => controlPlaneStatuses(opts) });

  const status = async (): Promise<StatusResponse> => {
    const check = async (url: string, probe: () => Promise<unknown>): Promise<BackendState> => {
      try {
        await probe();
        return { url, ok: true };
      } catch (e) {
        return { url, ok: false, error: (e as Error).message };
      }
    };
    const cp = opts.controlPlaneUrl();
    const [prometheus, kubernetes, controlPlane] = await Promise.all([
      check(opts.prometheusUrl, () => prom.query('vector(1)')),
      check(opts.kubeUrl, () => opts.client.list('/api/v1/namespaces', { limit: '1' })),
      cp ? check(cp, () => controlPlaneStatuses(opts)) : Promise.resolve({ url: '', ok: false, error: 'the mesh control plane is not running' }),
    ]);
    return { version: opts.version, prometheus, kubernetes, controlPlane };
  };

  const api = async (path: string, q: URLSearchParams, res: ServerResponse): Promise<void> => {
    if (path === '/api/status') return sendJson(res, 200, await status());
    if (path === '/api/namespaces') return sendJson(res, 200, await namespaces(opts.client));
    if (path === '/api/proxy-status') return sendJson(res, 200, (await controlPlaneStatuses(opts)).map(proxyStatusRow));
    const logs = path.match(/^\/api\/namespaces\/([^/]+)\/pods\/([^/]+)\/logs$/);
    if (logs) {
      const text = await opts.client.text(resourcePath({ version: 'v1', plural: 'pods', namespace: logs[1], name: logs[2], subresource: 'log' }), {
        container: q.get('container') ?? undefined,
        tailLines: q.get('tailLines') ?? '500',
      });
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(text);
      return;
    }
    const answer = await routes.handle(path, q);
    if (answer === undefined) throw new HttpError(404, `no such API endpoint: ${path}`);
    sendJson(res, 200, answer);
  };

  const serveStatic = async (path: string, res: ServerResponse) => {
    // Hash routing: every page is index.html; only assets are other files (never outside staticDir).
    const file = normalize(join(opts.staticDir, path === '/' ? 'index.html' : path));
    const inside = file.startsWith(normalize(opts.staticDir) + sep);
    const isFile =
      inside &&
      (await stat(file).then(
        (st) => st.isFile(),
        () => false,
      ));
    const target = isFile ? file : join(opts.staticDir, 'index.html');
    let body: Buffer;
    try {
      body = await readFile(target);
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`the web console is not built (${target} is missing): run npm run build\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': contentTypes[extname(target)] ?? 'application/octet-stream',
      'content-length': body.length,
      // Vite's asset names carry a content hash; index.html must be fetched again.
      'cache-control': target.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(body);
  };

  const sendError = (res: ServerResponse, path: string, e: Error & { kind?: string; code?: unknown }) => {
    if (e instanceof HttpError) return sendJson(res, e.status, { error: e.message, detail: e.detail });
    if (e instanceof URIError) return sendJson(res, 400, { error: `the path ${path} is not valid URL encoding` });
    // Prometheus's errors say which: unreachable or failing is the backend's fault (503), a bad query is the caller's (400).
    if (e.kind === 'bad_query') return sendJson(res, 400, { error: e.message });
    if (e.kind) return sendJson(res, 503, { error: e.message });
    // The API server's own 4xx (a pod that is gone, say) pass through.
    if (typeof e.code === 'number' && e.code >= 400 && e.code < 500) return sendJson(res, e.code, { error: e.message });
    opts.log(`console: ${path}: ${e.stack ?? e.message}`);
    sendJson(res, 503, { error: e.message });
  };

  // On loopback, only loopback names may be asked for: a web page that rebinds its own name to 127.0.0.1 gets nothing.
  const loopback = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(opts.host);
  const allowedHost = (host: string | undefined) => !loopback || /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host ?? '');

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (!allowedHost(req.headers.host)) {
      return sendJson(res, 403, { error: `the console answers requests to 127.0.0.1 or localhost only, not to ${req.headers.host}` });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console');
    } catch {
      return sendJson(res, 400, { error: `the request target ${req.url} is not a valid URL` });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: `method ${req.method} is not allowed: the console API is read-only` });
    }
    try {
      if (url.pathname === '/sd/targets') {
        const pods = await opts.client.list('/api/v1/pods').catch((e) => {
          throw new HttpError(503, `cannot list pods from the API server: ${(e as Error).message}`);
        });
        return sendJson(res, 200, scrapeTargets(pods.items as KubeObject[]));
      }
      if (!url.pathname.startsWith('/api/')) return await serveStatic(url.pathname, res);
      await api(url.pathname, url.searchParams, res);
    } catch (e) {
      sendError(res, url.pathname, e as Error);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      // Only a failure to answer at all gets here (a socket gone mid-reply).
      opts.log(`console: ${req.url}: ${(e as Error).message}`);
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${opts.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function namespaces(client: ApiClient): Promise<NamespaceInfo[]> {
  const list = await client.list('/api/v1/namespaces');
  return (list.items as KubeObject[]).map((ns) => {
    const labels = ns.metadata.labels ?? {};
    return { name: ns.metadata.name, labels, injection: labels['istio-injection'] === 'enabled' || Boolean(labels['istio.io/rev']) };
  });
}

async function controlPlaneStatuses(opts: ConsoleServerOptions): Promise<ProxySyncStatus[]> {
  const url = opts.controlPlaneUrl();
  if (!url) throw new HttpError(503, 'the mesh control plane is not running');
  let res: Response;
  try {
    res = await fetch(`${url}/debug/syncz`, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new HttpError(503, `the mesh control plane at ${url} is unreachable: ${(e as Error).cause ?? (e as Error).message}`);
  }
  if (!res.ok) throw new HttpError(503, `the mesh control plane at ${url} answered HTTP ${res.status}`);
  return (await res.json()) as ProxySyncStatus[];
}
