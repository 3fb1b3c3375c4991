// The HTTPS front of the API server: authentication, authorization, routing,
// content negotiation, and the one "rescue" that turns any error into a Status.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import type { KubeObject, Store } from '../store/index.js';
import type { Pki } from './certs.js';
import { customResourceDefinitions } from './crds.js';
import { coreVersions, group, groupList, resourceList, versionInfo } from './discovery.js';
import { toJsonValue } from './json-value.js';
import { openapiDocumentBytes, openapiRoot, openapiV2 } from './openapi.js';
import { paginate } from './paging.js';
import { patchTypeOf } from './patch/index.js';
import { type ContainerLogSource, servePodLog } from './pod-logs.js';
import { decodeKubeProtobuf, isKubeProtobuf, OPENAPI_V2_PROTOBUF_RESPONSE, ProtobufError } from './protobuf/index.js';
import { deleteOptions, type Registry, type RequestScope } from './registry.js';
import { apiVersionOf } from './resources.js';
import { parseResourcePath, type ResourceRoute } from './routes.js';
import { parseFieldSelector, parseLabelSelector, SelectorError, supportedFieldLabels } from './selectors.js';
import { StatusError, status, successStatus } from './status.js';
import { type IncludeObject, toTable } from './tables.js';
import { serveWatch, watchTimeoutSeconds } from './watch.js';

export interface User {
  name: string;
  /** Read-only users may get, list and watch; every write is Forbidden. */
  readOnly: boolean;
}

export interface ApiServerOptions {
  host: string;
  port: number;
  pki: Pki;
  /** Bearer token -> user. */
  tokens: Map<string, User>;
  store: Store;
  registry: Registry;
  bookmarkIntervalMs?: number;
  /** Where `pods/log` finds a container's output; without it, every container is still starting. */
  containerLogs?: ContainerLogSource;
  log?: (line: string) => void;
}

const MAX_BODY = 3 * 1024 * 1024;
const READ_VERBS = new Set(['get', 'list', 'watch']);

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw status.tooLarge('Request entity too large: limit is 3145728');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** JSON, YAML or Kubernetes protobuf bodies (kubectl's typed `create` commands send protobuf). */
function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (isKubeProtobuf(contentType)) {
    try {
      return toJsonValue(decodeKubeProtobuf(raw));
    } catch (e) {
      if (e instanceof ProtobufError) throw status.badRequest(`the body of the request could not be decoded: ${e.message}`);
      throw e;
    }
  }
  const text = raw.toString('utf8');
  if (text.trim() === '') throw status.badRequest('the body of the request was empty');
  const isYaml = /yaml/.test(contentType ?? '');
  let parsed: unknown;
  try {
    parsed = isYaml ? YAML.parse(text) : JSON.parse(text);
  } catch (e) {
    throw status.badRequest(`the body of the request could not be decoded: ${(e as Error).message.split('\n')[0]}`);
  }
  return toJsonValue(parsed);
}

/** A `<Kind>List` of the route's kind and version. */
function listOf(route: ResourceRoute, metadata: Record<string, unknown>, items: unknown[]) {
  return { kind: `${route.def.kind}List`, apiVersion: apiVersionOf(route.def.group, route.version), metadata, items };
}

function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '');
}

/** The verb RBAC would see for this request. */
function verbOf(method: string, route: ResourceRoute, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : route.name ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function forbidden(user: User, verb: string, route: ResourceRoute): StatusError {
  const what = route.subresource ? `${route.def.plural}/${route.subresource}` : route.def.plural;
  const subject = route.name ? `${route.def.plural} "${route.name}"` : route.def.plural;
  const scope = route.namespace ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
  return status.forbidden(`${subject} is forbidden: User "${user.name}" cannot ${verb} resource "${what}" in API group "${route.def.group}" ${scope}`, {
    group: route.def.group,
    resource: route.def.plural,
    kind: route.def.kind,
    name: route.name,
  });
}

export function createApiServer(opts: ApiServerOptions): { server: Server; listen(): Promise<number>; close(): Promise<void> } {
  const { store, registry } = opts;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const segments = url.pathname.split('/').filter(Boolean);
    const path = `/${segments.join('/')}`;
    // Health and version are public, as kube-apiserver's default RBAC makes them.
    if (['/healthz', '/livez', '/readyz'].includes(path)) return send(res, 200, 'ok', { 'Content-Type': 'text/plain' });
    if (path === '/version') return send(res, 200, versionInfo());

    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const user = token ? opts.tokens.get(token.trim()) : undefined;
    if (!user) throw status.unauthorized();

    if (path === '/api') return send(res, 200, coreVersions(`127.0.0.1:${(req.socket.localPort ?? 0).toString()}`));
    if (path === '/apis') return send(res, 200, groupList());
    if (segments[0] === 'openapi') return serveOpenapi(res, segments);
    if (segments[0] === 'apis' && segments.length === 2) {
      const g = group(segments[1]);
      return g ? send(res, 200, g) : send(res, 404, status.pageNotFound().toStatus());
    }
    if ((segments[0] === 'api' && segments.length === 2) || (segments[0] === 'apis' && segments.length === 3)) {
      const list = segments[0] === 'api' ? resourceList('', segments[1]) : resourceList(segments[1], segments[2]);
      return list ? send(res, 200, list) : send(res, 404, status.pageNotFound().toStatus());
    }
    const route = parseResourcePath(segments);
    if (!route) throw status.pageNotFound();
    const method = req.method ?? 'GET';
    const query = url.searchParams;
    const watch = route.watchPrefix || query.get('watch') === 'true' || query.get('watch') === '1';
    const verb = verbOf(method, route, watch);
    if (user.readOnly && !READ_VERBS.has(verb)) throw forbidden(user, verb, route);
    if (route.def.namespaced && route.name !== undefined && route.namespace === undefined) throw status.pageNotFound();

    if (route.def.namespaced && route.namespace === undefined && method !== 'GET') {
      throw status.methodNotAllowed('the server does not allow this method on the requested resource');
    }
    if (route.def.readOnly) return serveReadOnly(res, route, method, watch, wantsTable(req.headers.accept), query);
    const scope: RequestScope = {
      def: route.def,
      version: route.version,
      namespace: route.namespace,
      name: route.name,
      subresource: route.subresource,
      query,
      defaultManager: (req.headers['user-agent'] ?? 'unknown').split('/')[0] || 'unknown',
      warnings: [],
    };
    if (route.subresource === 'binding') {
      if (method !== 'POST') throw status.methodNotAllowed('the server does not allow this method on the requested resource');
      const binding = parseBody(await readBody(req), req.headers['content-type']) as KubeObject;
      return send(res, 201, registry.bind(scope, binding));
    }
    if (route.subresource === 'log') {
      if (method !== 'GET') throw status.methodNotAllowed('the server does not allow this method on the requested resource');
      return servePodLog(res, { pod: registry.get(scope), query, store, source: opts.containerLogs });
    }
    const respond = (code: number, obj: unknown) =>
      send(res, code, obj, scope.warnings.length ? { Warning: scope.warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {});
    const selectors = () => {
      try {
        return {
          labels: parseLabelSelector(query.get('labelSelector')),
          fields: parseFieldSelector(query.get('fieldSelector'), supportedFieldLabels(route.def.kind)),
        };
      } catch (e) {
        if (e instanceof SelectorError) throw status.badRequest(e.message);
        throw e;
      }
    };
    const table = wantsTable(req.headers.accept);
    const includeObject = (query.get('includeObject') as IncludeObject | null) ?? 'Metadata';

    if (method === 'GET') {
      if (watch) {
        const { labels, fields } = selectors();
        // A watch on one name (legacy path or kubectl's fieldSelector) narrows by name.
        const byName = route.name ? parseFieldSelector(`metadata.name=${route.name}`, ['metadata.name']) : undefined;
        return serveWatch(res, store, registry, scope, {
          labels,
          fields: byName ? (f) => byName(f) && fields(f) : fields,
          resourceVersion: query.get('resourceVersion'),
          sendInitialEvents: query.get('sendInitialEvents') === 'true',
          bookmarks: query.get('allowWatchBookmarks') === 'true',
          timeoutSeconds: watchTimeoutSeconds(query),
          bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 30_000,
          table: table ? { includeObject } : undefined,
        });
      }
      if (route.name !== undefined) {
        const obj = registry.get(scope);
        return respond(200, table ? toTable(route.def, [obj], { includeObject, resourceVersion: obj.metadata?.resourceVersion }) : obj);
      }
      const { labels, fields } = selectors();
      const listed = registry.list(scope, labels, fields);
      const { resourceVersion } = listed;
      const { items, ...more } = paginate(listed.items, query.get('limit'), query.get('continue'), resourceVersion);
      if (table) return respond(200, { ...toTable(route.def, items, { includeObject, resourceVersion }), metadata: { resourceVersion, ...more } });
      return respond(
        200,
        listOf(
          route,
          { resourceVersion, ...more },
          items.map((o) => {
            const { apiVersion: _a, kind: _k, ...rest } = o;
            return route.def.custom ? o : rest;
          }),
        ),
      );
    }

    if (method === 'POST' && route.name === undefined) {
      const body = parseBody(await readBody(req), req.headers['content-type']) as KubeObject;
      return respond(201, registry.create(scope, body));
    }
    if (method === 'PUT' && route.name !== undefined) {
      const body = parseBody(await readBody(req), req.headers['content-type']) as KubeObject;
      return respond(200, registry.update(scope, body));
    }
    if (method === 'PATCH' && route.name !== undefined) {
      const type = patchTypeOf(req.headers['content-type']);
      if (!type) {
        throw status.unsupportedMediaType(
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml${route.def.custom ? '' : ', application/strategic-merge-patch+json'}`,
        );
      }
      const raw = await readBody(req);
      const body = type === 'apply' ? parseBody(raw, 'application/yaml') : parseBody(raw, 'application/json');
      const existed = type === 'apply' && store.get({ group: route.def.group, resource: route.def.plural }, route.namespace ?? '', route.name) !== undefined;
      const out = registry.patch(scope, type, body);
      return respond(type === 'apply' && !existed ? 201 : 200, out);
    }
    if (method === 'DELETE') {
      if (route.subresource) throw status.methodNotAllowed('the server does not allow this method on the requested resource');
      if (route.name === undefined && route.def.kind === 'Namespace') {
        throw status.methodNotAllowed('the server does not allow this method on the requested resource');
      }
      const raw = await readBody(req);
      const options = deleteOptions(raw.length ? parseBody(raw, req.headers['content-type']) : null, query);
      if (route.name !== undefined) {
        const def = route.def;
        const out = registry.delete(scope, options);
        // Like kube-apiserver: a pending deletion, a custom resource or a Service comes back as the object;
        // other kinds deleted at once come back as a Success status naming what went.
        const returnsObject = out.metadata?.deletionTimestamp || def.custom || def.kind === 'Service';
        return respond(
          200,
          returnsObject ? out : successStatus({ group: def.group, resource: def.plural, kind: def.kind, name: route.name }, out.metadata?.uid),
        );
      }
      const { labels, fields } = selectors();
      const { items } = registry.list(scope, labels, fields);
      const deleted = items.map((o) => registry.delete({ ...scope, namespace: o.metadata?.namespace, name: o.metadata?.name }, options));
      return respond(200, listOf(route, {}, deleted));
    }
    throw status.methodNotAllowed(`the server does not allow this method on the requested resource`);
  };

  /** The CustomResourceDefinitions: get, list and watch of the server's own definitions. */
  const serveReadOnly = (res: ServerResponse, route: ResourceRoute, method: string, watch: boolean, table: boolean, query: URLSearchParams) => {
    if (method !== 'GET') {
      throw status.methodNotAllowed(`${route.def.plural} are read-only in virtmesh: it serves a fixed set of kinds`);
    }
    const rv = String(store.resourceVersion);
    const all = customResourceDefinitions(rv);
    const items = route.name === undefined ? all : all.filter((o) => o.metadata?.name === route.name);
    if (route.name !== undefined && items.length === 0) {
      throw status.notFound({ group: route.def.group, resource: route.def.plural, kind: route.def.kind, name: route.name });
    }
    const includeObject = (query.get('includeObject') as IncludeObject | null) ?? 'Metadata';
    if (watch) {
      // The set never changes: the current definitions, then silence until the watch times out.
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.flushHeaders();
      if (!query.get('resourceVersion') || query.get('resourceVersion') === '0') {
        for (const [i, o] of items.entries()) {
          res.write(`${JSON.stringify({ type: 'ADDED', object: table ? toTable(route.def, [o], { includeObject, withHeaders: i === 0 }) : o })}\n`);
        }
      }
      const timer = setTimeout(() => res.end(), watchTimeoutSeconds(query) * 1000);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (table) return send(res, 200, toTable(route.def, items, { includeObject, resourceVersion: rv }));
    if (route.name !== undefined) return send(res, 200, items[0]);
    return send(res, 200, { kind: 'CustomResourceDefinitionList', apiVersion: 'apiextensions.k8s.io/v1', metadata: { resourceVersion: rv }, items });
  };

  const serveOpenapi = (res: ServerResponse, segments: string[]) => {
    // v2 only as protobuf, which is how kubectl asks for it (to learn that every kind takes fieldValidation).
    if (segments[1] === 'v2' && segments.length === 2) return send(res, 200, openapiV2(), { 'Content-Type': OPENAPI_V2_PROTOBUF_RESPONSE });
    if (segments[1] !== 'v3') return send(res, 404, status.pageNotFound().toStatus());
    if (segments.length === 2) return send(res, 200, openapiRoot());
    const [kind, ...gv] = segments.slice(2);
    const doc = kind === 'api' ? openapiDocumentBytes('', gv[0]) : openapiDocumentBytes(gv[0], gv[1]);
    if (!doc) return send(res, 404, status.pageNotFound().toStatus());
    return send(res, 200, doc.body, { 'Cache-Control': 'public, immutable', Etag: `"${doc.hash}"` });
  };

  const server = createServer({ cert: opts.pki.serverCert, key: opts.pki.serverKey }, (req, res) => {
    const started = Date.now();
    handle(req, res)
      .catch((err: unknown) => {
        const e = err instanceof StatusError ? err : status.internal((err as Error)?.message ?? String(err));
        if (!(err instanceof StatusError)) opts.log?.(`internal error: ${(err as Error)?.stack ?? String(err)}`);
        if (res.headersSent) return res.end();
        send(res, e.code, e.toStatus());
      })
      .finally(() => opts.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
  });
  server.keepAliveTimeout = 65_000;

  return {
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, opts.host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
