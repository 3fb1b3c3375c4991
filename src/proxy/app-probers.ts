// pilot-agent's application probes: an injected pod's HTTP and TCP probes are
// rewritten to /app-health/<container>/<readyz|livez|startupz> on port 15020, and
// the agent runs the original probe against the workload (ISTIO_KUBE_APP_PROBERS).
// For a VM that means the pod's loopback, where QEMU forwards the guest's ports.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface AppProbe {
  httpGet?: {
    path?: string;
    port: number | string;
    host?: string;
    scheme?: string;
    httpHeaders?: Array<{ name: string; value: string }>;
  };
  tcpSocket?: { port: number | string; host?: string };
  timeoutSeconds?: number;
}

/** Path (e.g. /app-health/compute/readyz) -> the probe it stands for. */
export type AppProbers = Record<string, AppProbe>;

export function parseAppProbers(json: string | undefined): AppProbers {
  if (!json) return {};
  const v = JSON.parse(json) as unknown;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('ISTIO_KUBE_APP_PROBERS is not a JSON object');
  return v as AppProbers;
}

export interface ProbeOutcome {
  ok: boolean;
  message: string;
}

const portOf = (p: number | string): number => {
  const n = typeof p === 'number' ? p : Number(p);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`probe port ${JSON.stringify(p)} is not a port number`);
  return n;
};

/** Runs one probe against the workload. Never throws: a broken probe is a failed probe. */
export function runAppProbe(probe: AppProbe, userAgent = 'kube-probe/1.32'): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds || 1) * 1000;
  try {
    if (probe.httpGet) {
      const g = probe.httpGet;
      const port = portOf(g.port);
      const host = g.host || '127.0.0.1';
      const https = (g.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
      const path = g.path || '/';
      const headers: Record<string, string> = { 'user-agent': userAgent, accept: '*/*' };
      for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
      return new Promise((resolve) => {
        const onResponse = (res: IncomingMessage) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400 ? { ok: true, message: '' } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` });
        };
        const options = { host, port, path, method: 'GET', headers, timeout: timeoutMs, insecureHTTPParser: true, rejectUnauthorized: false };
        // Guests often answer with bare LF line ends, which the kubelet's Go client accepts too.
        const req = https ? httpsRequest(options, onResponse) : httpRequest(options, onResponse);
        req.on('timeout', () => {
          req.destroy();
          resolve({ ok: false, message: `Get "${https ? 'https' : 'http'}://${host}:${port}${path}": context deadline exceeded` });
        });
        req.on('error', (e) => resolve({ ok: false, message: `Get "${https ? 'https' : 'http'}://${host}:${port}${path}": ${e.message}` }));
        req.end();
      });
    }
    if (probe.tcpSocket) {
      const port = portOf(probe.tcpSocket.port);
      const host = probe.tcpSocket.host || '127.0.0.1';
      return new Promise((resolve) => {
        const sock = connect({ host, port, timeout: timeoutMs });
        sock.on('connect', () => {
          sock.destroy();
          resolve({ ok: true, message: '' });
        });
        sock.on('timeout', () => {
          sock.destroy();
          resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
        });
        sock.on('error', (e) => resolve({ ok: false, message: `dial tcp ${host}:${port}: ${e.message}` }));
      });
    }
    return Promise.resolve({ ok: false, message: 'probe has neither httpGet nor tcpSocket' });
  } catch (e) {
    return Promise.resolve({ ok: false, message: (e as Error).message });
  }
}
