// A small Kubernetes API client: what virtmesh's own controllers, node agent and
// CLI use to talk to the API server, the same way kubectl does (HTTPS + bearer token).

import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { ObjectMeta, KubeObject as StoredObject } from '../store/kube-object.js';

/** An object to create: it may carry generateName instead of a name. */
export type NewKubeObject = StoredObject;

/** An object as the API server returns it: always named. */
export interface KubeObject extends StoredObject {
  metadata: ObjectMeta & { name: string };
}

export interface ClientConfig {
  url: string;
  /** Bearer token; absent when the client authenticates with a certificate. */
  token?: string;
  /** A bearer token asked for on every request instead (a kubeconfig's exec plugin, whose tokens expire). */
  tokenSource?: () => string;
  ca?: string;
  /** The name the server's certificate must carry, when not the URL's host (a kubeconfig's tls-server-name). */
  serverName?: string;
  /** Client certificate and key (PEM), as kubeconfigs of kubeadm and kind clusters carry them. */
  cert?: string;
  key?: string;
  /** A kubeconfig's insecure-skip-tls-verify. */
  insecure?: boolean;
}

export interface ListResult<T = KubeObject> {
  items: T[];
  metadata: { resourceVersion: string };
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** An API error carrying the server's Status (reason, code, message). */
export interface ApiError extends Error {
  code: number;
  reason?: string;
  status?: Record<string, unknown>;
}

export type PatchType = 'merge' | 'strategic' | 'json';
const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

/** `/api/v1/namespaces/ns/pods/name` and friends, from the parts of a resource's address. */
export function resourcePath(r: { group?: string; version: string; plural: string; namespace?: string; name?: string; subresource?: string }): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : '';
  const name = r.name ? `/${encodeURIComponent(r.name)}` : '';
  const sub = r.subresource ? `/${r.subresource}` : '';
  return `${base}${ns}/${r.plural}${name}${sub}`;
}

export function isNotFound(e: unknown): boolean {
  return (e as ApiError | undefined)?.code === 404;
}

export function isConflict(e: unknown): boolean {
  return (e as ApiError | undefined)?.code === 409;
}

export class ApiClient {
  readonly #url: URL;
  readonly #token: () => string | undefined;
  readonly #agent: Agent;

  constructor(cfg: ClientConfig) {
    this.#url = new URL(cfg.url);
    this.#token = cfg.tokenSource ?? (() => cfg.token);
    this.#agent = new Agent({
      ca: cfg.ca,
      cert: cfg.cert,
      key: cfg.key,
      servername: cfg.serverName,
      rejectUnauthorized: !cfg.insecure,
      keepAlive: true,
      maxSockets: 16,
    });
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.#json<T>('GET', path);
  }

  /** A GET whose answer is text, such as pods/log. */
  text(path: string, query: Record<string, string | undefined> = {}): Promise<string> {
    return this.#send('GET', withQuery(path, query), undefined, undefined, (text) => text);
  }

  list<T = KubeObject>(path: string, query: Record<string, string | undefined> = {}): Promise<ListResult<T>> {
    return this.#json<ListResult<T>>('GET', withQuery(path, query));
  }

  create<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.#json<T>('POST', path, body);
  }

  update<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.#json<T>('PUT', path, body);
  }

  patch<T = KubeObject>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.#json<T>('PATCH', path, body, patchContentTypes[type]);
  }

  delete<T = KubeObject>(path: string, options?: Record<string, unknown>): Promise<T> {
    return this.#json<T>('DELETE', path, options ? { kind: 'DeleteOptions', apiVersion: 'v1', ...options } : undefined);
  }

  /**
   * Streams watch events to `onEvent` until the server ends the watch, the signal
   * aborts, or the connection fails; resolves then (rejects on HTTP errors such as 410).
   */
  watch<T = KubeObject>(path: string, query: Record<string, string | undefined>, onEvent: (e: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    const url = withQuery(path, { ...query, watch: 'true', allowWatchBookmarks: 'true' });
    return new Promise((resolve, reject) => {
      const req = this.#request('GET', url, undefined, undefined, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          collect(res).then((text) => reject(apiError(res.statusCode ?? 0, text)), reject);
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const event = JSON.parse(line) as WatchEvent<T>;
            if (event.type === 'ERROR') {
              const s = event.object as Record<string, unknown>;
              reject(apiError(Number(s.code ?? 500), JSON.stringify(s)));
              req.destroy();
              return;
            }
            onEvent(event);
          }
        });
        res.on('end', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
      signal?.addEventListener('abort', () => req.destroy(), { once: true });
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  #json<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return this.#send(method, path, payload, contentType, (text) => JSON.parse(text) as T);
  }

  #send<T>(method: string, path: string, payload: Buffer | undefined, contentType: string | undefined, parse: (text: string) => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = this.#request(method, path, payload, contentType, (res) => {
        collect(res).then((text) => {
          if ((res.statusCode ?? 0) >= 300) reject(apiError(res.statusCode ?? 0, text));
          else resolve(parse(text));
        }, reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  #request(method: string, path: string, payload: Buffer | undefined, contentType: string | undefined, onResponse: (res: IncomingMessage) => void) {
    const headers: Record<string, string | number> = { accept: 'application/json' };
    const token = this.#token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (payload) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = payload.length;
    }
    const prefix = this.#url.pathname.replace(/\/$/, ''); // a server URL behind a path (a proxy in front of the API server)
    return request({ host: this.#url.hostname, port: this.#url.port || 443, path: `${prefix}${path}`, method, headers, agent: this.#agent }, onResponse);
  }
}

function withQuery(path: string, query: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

function collect(res: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function apiError(code: number, text: string): ApiError {
  let status: Record<string, unknown> | undefined;
  try {
    status = JSON.parse(text);
  } catch {}
  const err = new Error(String(status?.message ?? (text || `HTTP ${code}`))) as ApiError;
  err.code = code;
  err.reason = status?.reason as string | undefined;
  err.status = status;
  return err;
}

export { Informer, type InformerHandlers } from './informer.js';
export { clientConfigFromKubeconfig } from './kubeconfig.js';
