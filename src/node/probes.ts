// Readiness and liveness probes as the kubelet runs them: httpGet and tcpSocket
// against the pod IP, after initialDelaySeconds, every periodSeconds, each try
// bounded by timeoutSeconds; successThreshold/failureThreshold consecutive results
// flip the state.

import { request } from 'node:http';
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

/** One try of a probe against `ip`. Named ports resolve through `namedPorts`. Never throws: a bad probe is a failed probe. */
export async function probeOnce(spec: ProbeSpec, ip: string, namedPorts: Record<string, number> = {}): Promise<ProbeResult> {
  try {
    return await tryProbe(spec, ip, namedPorts);
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

function tryProbe(spec: ProbeSpec, ip: string, namedPorts: Record<string, number>): Promise<ProbeResult> {
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
    return new Promise((resolve) => {
      const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.32', accept: '*/*' };
      for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
      // Lenient parsing: guests often answer with bare LF line ends, which the kubelet's Go client accepts too.
      const req = request({ host, port, path, method: 'GET', headers, timeout: timeoutMs, insecureHTTPParser: true }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? { ok: true, message: '' } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` });
      });
      req.on('timeout', () => {
        req.destroy();
        resolve({ ok: false, message: `Get "http://${host}:${port}${path}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
      });
      req.on('error', (e) => resolve({ ok: false, message: `Get "http://${host}:${port}${path}": ${describe(e, host, port)}` }));
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

/**
 * Runs a probe on its schedule and reports each change of state. Readiness starts
 * false and liveness true, as the kubelet does.
 */
export class Prober {
  readonly #spec: ProbeSpec;
  readonly #target: () => string | undefined;
  readonly #namedPorts: Record<string, number>;
  readonly #onChange: (healthy: boolean, result: ProbeResult) => void;
  readonly #onFailure: (result: ProbeResult) => void;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #healthy: boolean;
  #successes = 0;
  #failures = 0;

  constructor(
    kind: 'readiness' | 'liveness',
    spec: ProbeSpec,
    target: () => string | undefined,
    onChange: (healthy: boolean, result: ProbeResult) => void,
    onFailure: (result: ProbeResult) => void = () => {},
    namedPorts: Record<string, number> = {},
  ) {
    this.#namedPorts = namedPorts;
    this.#spec = spec;
    this.#target = target;
    this.#onChange = onChange;
    this.#onFailure = onFailure;
    this.#healthy = kind === 'liveness';
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /**
   * Probes from initialDelaySeconds after the container started. A node agent taking over a
   * running VM starts late, and from the health the container last had, so that failures can
   * still take a ready container out of service.
   */
  start(containerStartedAt = Date.now(), healthy?: boolean): void {
    if (healthy !== undefined) this.#healthy = healthy;
    this.#schedule(Math.max(0, (this.#spec.initialDelaySeconds ?? 0) * 1000 - (Date.now() - containerStartedAt)));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    const ip = this.#target();
    const result = ip ? await probeOnce(this.#spec, ip, this.#namedPorts) : { ok: false, message: 'pod has no IP yet' };
    if (this.#stopped) return;
    if (result.ok) {
      this.#failures = 0;
      this.#successes++;
      if (!this.#healthy && this.#successes >= (this.#spec.successThreshold ?? 1)) {
        this.#healthy = true;
        this.#onChange(true, result);
      }
    } else {
      this.#successes = 0;
      this.#failures++;
      this.#onFailure(result);
      if (this.#healthy && this.#failures >= (this.#spec.failureThreshold ?? 3)) {
        this.#healthy = false;
        this.#onChange(false, result);
      }
    }
    this.#schedule((this.#spec.periodSeconds ?? 10) * 1000);
  }
}
