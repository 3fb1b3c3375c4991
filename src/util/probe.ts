// One try of a Kubernetes httpGet or tcpSocket probe, answered in the kubelet's
// words: what the node agent runs against a pod, and what a sidecar's agent runs
// against its workload for the kubelet (Istio's probe rewrite).

import { type IncomingMessage, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface ProbeSpec {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: Array<{ name: string; value: string }> };
  tcpSocket?: { port: number | string; host?: string };
  exec?: unknown;
  guestAgentPing?: unknown;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface ProbeResult {
  ok: boolean;
  /** What failed, in the kubelet's words (shown in the Unhealthy event). */
  message: string;
}

/**
 * One try of a probe against `ip`. Named ports resolve through `namedPorts`. Never throws: a bad
 * probe is a failed probe. HTTPS probes skip certificate checks, as the kubelet's do.
 */
export async function probeOnce(spec: ProbeSpec, ip: string, namedPorts: Record<string, number> = {}, userAgent = 'kube-probe/1.32'): Promise<ProbeResult> {
  try {
    return await tryProbe(spec, ip, namedPorts, userAgent);
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

function tryProbe(spec: ProbeSpec, ip: string, namedPorts: Record<string, number>, userAgent: string): Promise<ProbeResult> {
  const timeoutMs = (spec.timeoutSeconds ?? 1) * 1000;
  const portOf = (p: number | string) => {
    const port = typeof p === 'number' ? p : (namedPorts[p] ?? Number(p));
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`port ${JSON.stringify(p)} is not a port number nor a named port of the container`);
    return port;
  };
  if (spec.httpGet) {
    const g = spec.httpGet;
    const host = g.host || ip;
    const port = portOf(g.port);
    const path = g.path || '/';
    const https = (g.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
    const url = `${https ? 'https' : 'http'}://${host}:${port}${path}`;
    return new Promise((resolve) => {
      const headers: Record<string, string> = { 'user-agent': userAgent, accept: '*/*' };
      for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
      const onResponse = (res: IncomingMessage) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? { ok: true, message: '' } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` });
      };
      // Lenient parsing: guests often answer with bare LF line ends, which the kubelet's Go client accepts too.
      const options = { host, port, path, method: 'GET', headers, timeout: timeoutMs, insecureHTTPParser: true, rejectUnauthorized: false };
      const req = https ? httpsRequest(options, onResponse) : request(options, onResponse);
      req.on('timeout', () => {
        req.destroy();
        resolve({ ok: false, message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
      });
      req.on('error', (e) => resolve({ ok: false, message: `Get "${url}": ${describe(e, host, port)}` }));
      req.end();
    });
  }
  if (spec.tcpSocket) {
    const host = spec.tcpSocket.host || ip;
    const port = portOf(spec.tcpSocket.port);
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
      sock.on('error', (e) => resolve({ ok: false, message: describe(e, host, port) }));
    });
  }
  return Promise.resolve({ ok: false, message: 'probe has no httpGet or tcpSocket handler; virtmesh runs only those' });
}

function describe(e: NodeJS.ErrnoException, host: string, port: number): string {
  if (e.code === 'ECONNREFUSED') return `dial tcp ${host}:${port}: connect: connection refused`;
  if (e.code === 'EHOSTUNREACH') return `dial tcp ${host}:${port}: connect: no route to host`;
  if (e.code === 'ECONNRESET') return 'read: connection reset by peer';
  return e.message;
}
