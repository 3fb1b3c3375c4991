// The control plane's debug endpoints, as istiod's monitoring port has them:
//   GET /debug/syncz                        every connected proxy's per-type sync state
//   GET /debug/config_dump?proxyID=pod.ns   what was last sent to that proxy (Envoy's dump shape)
//   GET /debug/push_status                  the last push and the mesh it was made from
//   GET /ready                              200 once the first push context exists

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DiscoveryServer } from './server.js';

export interface DebugServerOptions {
  host: string;
  port: number;
  xds: DiscoveryServer;
  /** Extra fields for /debug/push_status (pending changes, counts). */
  pushStatus: () => Record<string, unknown>;
  ready: () => boolean;
  log: (line: string) => void;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

type Reply = [status: number, body: unknown];

function route(opts: DebugServerOptions, req: IncomingMessage): Reply {
  const url = new URL(req.url ?? '/', 'http://pilot');
  if (req.method !== 'GET' && req.method !== 'HEAD') return [405, 'only GET\n'];
  switch (url.pathname) {
    case '/ready':
      return opts.ready() ? [200, 'ready\n'] : [503, 'not ready\n'];
    case '/debug/syncz':
      return [200, opts.xds.syncStatus()];
    case '/debug/config_dump': {
      const id = url.searchParams.get('proxyID');
      if (!id) return [400, 'proxyID is required (pod.namespace)\n'];
      const dump = opts.xds.configDump(id);
      return dump ? [200, dump] : [404, `proxy ${id} is not connected\n`];
    }
    case '/debug/push_status':
      return [
        200,
        {
          version: opts.xds.context?.version ?? '',
          pushes: opts.xds.pushes,
          connectedProxies: opts.xds.connectionCount,
          lastPush: opts.xds.lastPush ?? null,
          ...opts.pushStatus(),
        },
      ];
    default:
      return [404, 'not found; try /debug/syncz, /debug/config_dump?proxyID=<pod>.<namespace>, /debug/push_status, /ready\n'];
  }
}

export async function startDebugServer(opts: DebugServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    try {
      send(res, ...route(opts, req));
    } catch (e) {
      opts.log(`debug: ${req.url}: ${(e as Error).stack}`);
      if (!res.headersSent) send(res, 500, `${(e as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
