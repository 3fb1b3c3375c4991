// The sidecar's HTTP endpoints, on the ports Istio uses:
//   15000 admin (loopback only): Envoy's admin API subset
//   15020 agent: merged Prometheus metrics, readiness, application probes, quit
//   15021 health: readiness, what the kubelet probes
//   15090 Envoy's Prometheus endpoint
// Not the data path: node:http is fine here.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { clustersView, configDump, listenersView, prometheusText, type ServerFacts, serverInfo, statsText } from './admin-views.js';
import { type AppProbers, runAppProbe } from './app-probers.js';
import { LOG_LEVELS, type LogLevel, type ProxyRuntime } from './runtime.js';

export interface AdminContext {
  rt: ProxyRuntime;
  facts: ServerFacts;
  ready(): boolean;
  /** Starts a graceful drain (does not wait for it). */
  drain(): void;
  /** /quitquitquit: answered first, then this runs. */
  quit(): void;
  probers: AppProbers;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=UTF-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache, max-age=0' });
  res.end(body);
}

const json = (res: ServerResponse, v: unknown) => send(res, 200, JSON.stringify(v, null, 2) + '\n', 'application/json');

function requirePost(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'POST') return true;
  send(res, 405, 'This endpoint requires POST\n');
  return false;
}

/** /healthz/ready as pilot-agent answers it, and logs a failure as it does (what `kubectl logs -c istio-proxy` shows for a 2/3 pod). */
function readiness(ctx: AdminContext, res: ServerResponse): void {
  if (ctx.ready()) {
    send(res, 200, '');
    return;
  }
  const reason = ctx.facts.state() === 'DRAINING' ? 'server is draining' : 'config not received from XDS server (is Istiod running?)';
  ctx.rt.log.warn(`Envoy proxy is NOT ready: ${reason}`);
  send(res, 503, `${reason}\n`);
}

/** Loopback only, as pilot-agent has it: the agent port is open to the pod network, and anyone there could stop the proxy. */
export const isLoopback = (address: string | undefined) =>
  address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));

function quit(ctx: AdminContext, req: IncomingMessage, res: ServerResponse): void {
  if (!isLoopback(req.socket.remoteAddress)) {
    send(res, 403, 'only requests from localhost are permitted\n');
    return;
  }
  if (!requirePost(req, res)) return;
  send(res, 200, 'OK\n');
  res.once('finish', () => setImmediate(ctx.quit));
}

function handleErrors(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>): RequestListener {
  return (req, res) => {
    Promise.resolve()
      .then(() => handler(req, res, new URL(req.url ?? '/', 'http://localhost')))
      .catch((e: Error) => {
        if (!res.headersSent) send(res, 500, `${e.message}\n`);
        else res.destroy();
      });
  };
}

const ADMIN_HELP = [
  'admin commands are:',
  '  /clusters: upstream cluster status (?format=json)',
  '  /config_dump: dump current configuration',
  '  /drain_listeners: drain listeners (POST, ?graceful)',
  '  /listeners: print listener info (?format=json)',
  '  /logging: query/change logging levels (POST, ?level=)',
  '  /quitquitquit: exit the server (POST)',
  '  /ready: print server state, return 200 if LIVE, otherwise return 503',
  '  /server_info: print server version/status information',
  '  /stats: print server stats (?filter=, ?format=json|prometheus)',
  '  /stats/prometheus: print server stats in prometheus format',
].join('\n');

export function adminHandler(ctx: AdminContext): RequestListener {
  const { rt, facts } = ctx;
  return handleErrors((req, res, url) => {
    const q = url.searchParams;
    switch (url.pathname) {
      case '/':
      case '/help':
        return send(res, 200, ADMIN_HELP + '\n');
      case '/config_dump':
        return json(res, configDump(rt, facts));
      case '/clusters':
        return q.get('format') === 'json' ? send(res, 200, clustersView(rt, true), 'application/json') : send(res, 200, clustersView(rt, false));
      case '/listeners':
        return q.get('format') === 'json' ? send(res, 200, listenersView(rt, true), 'application/json') : send(res, 200, listenersView(rt, false));
      case '/stats': {
        if (q.get('format') === 'prometheus') return send(res, 200, prometheusText(rt, facts));
        const f = q.get('filter');
        let filter: RegExp | undefined;
        try {
          filter = f ? new RegExp(f) : undefined;
        } catch {
          return send(res, 400, `Invalid re2 regex: ${f}\n`);
        }
        const text = statsText(rt, facts, filter);
        if (q.get('format') === 'json')
          return json(res, {
            stats: text.trim()
              ? text
                  .trim()
                  .split('\n')
                  .map((l) => ({ name: l.split(': ')[0], value: Number(l.split(': ')[1]) }))
              : [],
          });
        return send(res, 200, text);
      }
      case '/stats/prometheus':
        return send(res, 200, prometheusText(rt, facts));
      case '/server_info':
        return json(res, serverInfo(rt, facts));
      case '/ready': {
        const state = facts.state();
        return send(res, state === 'LIVE' ? 200 : 503, `${state}\n`);
      }
      case '/logging': {
        if (!requirePost(req, res)) return;
        const level = q.get('level');
        if (level !== null) {
          if (!LOG_LEVELS.includes(level as LogLevel)) return send(res, 400, `error: unknown logger level "${level}"; use one of ${LOG_LEVELS.join(', ')}\n`);
          rt.log.level = level as LogLevel;
        }
        return send(res, 200, `active loggers:\n  virtmesh: ${rt.log.level}\n`);
      }
      case '/drain_listeners':
        if (!requirePost(req, res)) return;
        ctx.drain();
        return send(res, 200, 'OK\n');
      case '/quitquitquit':
        return quit(ctx, req, res);
      default:
        return send(res, 404, `invalid path. ${ADMIN_HELP}\n`);
    }
  });
}

/** pilot-agent's own metrics, added to the proxy's on the merged endpoint. */
function agentMetrics(facts: ServerFacts): string {
  const cpu = process.cpuUsage();
  return [
    '# TYPE istio_agent_process_cpu_seconds_total counter',
    `istio_agent_process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    '# TYPE istio_agent_process_resident_memory_bytes gauge',
    `istio_agent_process_resident_memory_bytes ${process.memoryUsage.rss()}`,
    '# TYPE istio_agent_process_start_time_seconds gauge',
    `istio_agent_process_start_time_seconds ${facts.startedAt / 1000}`,
    '',
  ].join('\n');
}

const APP_HEALTH = /^\/app-health\/[^/]+\/(readyz|livez|startupz)$/;

export function agentHandler(ctx: AdminContext): RequestListener {
  return handleErrors(async (req, res, url) => {
    const path = url.pathname;
    if (path === '/stats/prometheus')
      return send(res, 200, prometheusText(ctx.rt, ctx.facts) + agentMetrics(ctx.facts), 'text/plain; version=0.0.4; charset=utf-8');
    if (path === '/healthz/ready') return readiness(ctx, res);
    if (path === '/quitquitquit') return quit(ctx, req, res);
    if (APP_HEALTH.test(path)) {
      const probe = ctx.probers[path];
      if (!probe) return send(res, 404, `no probe configured for ${path}\n`);
      const outcome = await runAppProbe(probe, req.headers['user-agent']);
      return outcome.ok ? send(res, 200, '') : send(res, 503, `${outcome.message}\n`);
    }
    return send(res, 404, 'not found\n');
  });
}

export function healthHandler(ctx: AdminContext): RequestListener {
  return handleErrors((_req, res, url) => (url.pathname === '/healthz/ready' ? readiness(ctx, res) : send(res, 404, 'not found\n')));
}

export function prometheusHandler(ctx: AdminContext): RequestListener {
  return handleErrors((_req, res, url) =>
    url.pathname === '/stats/prometheus'
      ? send(res, 200, prometheusText(ctx.rt, ctx.facts), 'text/plain; version=0.0.4; charset=utf-8')
      : send(res, 404, 'not found\n'),
  );
}
