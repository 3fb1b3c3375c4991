// `virtmesh proxy-status` and `virtmesh proxy-config`: istioctl's two debugging
// commands. proxy-status asks the control plane (its /debug/syncz, found through
// <stateDir>/pilot.json) what each proxy has acknowledged; proxy-config asks the proxy
// itself (its admin /config_dump, read inside the pod's network namespace).

import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type ApiClient, isNotFound, type KubeObject, resourcePath } from '../client/index.js';
import { createError } from '../errors/index.js';
import { nodeNetwork, sandboxNames } from '../node/index.js';
import {
  type ConfigRefs,
  clusterTable,
  compareConfigDumps,
  endpointTable,
  listenerTable,
  type ParsedConfigDump,
  type ProxySyncStatus,
  parseConfigDump,
  proxyStatusDetail,
  proxyStatusTable,
  resolveHost,
  routeTable,
} from '../pilot/index.js';
import { run } from '../util/exec.js';
import { writeAtomically } from '../util/fs.js';
import type { CliConfig } from './config.js';
import { adminClient } from './console.js';

/** Where the daemon says the control plane's debug endpoints are. */
export interface PilotInfo {
  debugUrl: string;
  name: string;
}

export const pilotInfoPath = (stateDir: string) => join(stateDir, 'pilot.json');

/** For the daemon: says where the control plane's debug endpoints are (written whole, so readers never see half). */
export function writePilotInfo(stateDir: string, info: PilotInfo): void {
  writeAtomically(pilotInfoPath(stateDir), `${JSON.stringify(info, null, 2)}\n`);
}

export function removePilotInfo(stateDir: string): void {
  rmSync(pilotInfoPath(stateDir), { force: true });
}

export function readPilotInfo(stateDir: string): PilotInfo {
  let info: Partial<PilotInfo>;
  try {
    info = JSON.parse(readFileSync(pilotInfoPath(stateDir), 'utf8'));
  } catch {
    throw createError('VM_ERR_MESH_NOT_RUNNING', [pilotInfoPath(stateDir)]);
  }
  if (!info.debugUrl) throw new Error(`${pilotInfoPath(stateDir)} has no debugUrl`);
  return { debugUrl: info.debugUrl, name: info.name ?? 'istiod' };
}

/** GET a JSON document from the control plane's debug port. */
export function fetchJson<T>(url: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${url}: HTTP ${res.statusCode}: ${text.trim()}`));
        else {
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new Error(`${url}: not JSON`));
          }
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new Error(`cannot reach the mesh control plane at ${url}: ${e.message}`)));
    req.end();
  });
}

/** pod[.namespace] as istioctl reads it: the last dot separates the namespace; -n applies otherwise. */
export function podTarget(target: string, namespace: string | undefined): { name: string; namespace: string } {
  const dot = target.lastIndexOf('.');
  if (dot > 0) return { name: target.slice(0, dot), namespace: target.slice(dot + 1) };
  return { name: target, namespace: namespace ?? 'default' };
}

/** How proxy-config reaches a sidecar's admin endpoint; tests put their own in. */
export interface MeshCliDeps {
  client?: ApiClient;
  /** The sidecar's /config_dump, given its pod. */
  fetchProxyDump?: (pod: KubeObject) => Promise<unknown>;
}

/** Reads a sidecar's admin /config_dump from inside its pod's network namespace. */
export async function fetchSidecarDump(cfg: CliConfig, pod: KubeObject): Promise<unknown> {
  const netns = sandboxNames(nodeNetwork(cfg.stateDir, cfg.podCIDR, cfg.serviceCIDR), String(pod.metadata.uid)).netns;
  const r = await run('ip', ['netns', 'exec', netns, 'curl', '-s', '--max-time', '5', 'http://127.0.0.1:15000/config_dump'], {
    allowFailure: true,
    timeoutMs: 10_000,
  });
  if (r.code !== 0) {
    throw new Error(
      `failed to execute command on sidecar: cannot read http://127.0.0.1:15000/config_dump in ${netns} (exit ${r.code}): ${r.stderr.trim() || 'no answer'}`,
    );
  }
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`the sidecar's /config_dump is not JSON: ${r.stdout.slice(0, 200)}`);
  }
}

function withClient<T>(cfg: CliConfig, deps: MeshCliDeps, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  if (deps.client) return fn(deps.client);
  const client = adminClient(cfg);
  return fn(client).finally(() => client.close());
}

/** The pod, which must run a sidecar: istioctl's error otherwise. */
async function sidecarPod(client: ApiClient, name: string, namespace: string): Promise<KubeObject> {
  let pod: KubeObject;
  try {
    pod = await client.get(resourcePath({ version: 'v1', plural: 'pods', namespace, name }));
  } catch (e) {
    if (isNotFound(e)) throw new Error(`pods "${name}" not found`);
    throw e;
  }
  const containers = ((pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []).map((c) => c.name);
  if (!containers.includes('istio-proxy')) {
    throw createError('VM_ERR_MESH_NO_SIDECAR', [name, namespace, name]);
  }
  return pod;
}

/** The VirtualServices and DestinationRules the tables name, with hosts fully qualified. */
async function configRefs(client: ApiClient): Promise<ConfigRefs> {
  const list = (plural: string) =>
    client
      .list(`/apis/networking.istio.io/v1/${plural}`)
      .then((l) => l.items)
      .catch(() => [] as KubeObject[]);
  const [vss, drs] = await Promise.all([list('virtualservices'), list('destinationrules')]);
  const ns = (o: KubeObject) => o.metadata.namespace ?? 'default';
  return {
    virtualServices: vss.map((v) => ({
      name: v.metadata.name,
      namespace: ns(v),
      hosts: ((v.spec as { hosts?: string[] })?.hosts ?? []).map((h) => resolveHost(h, ns(v))),
    })),
    destinationRules: drs.map((d) => ({ name: d.metadata.name, namespace: ns(d), host: resolveHost((d.spec as { host?: string })?.host ?? '', ns(d)) })),
  };
}

export async function proxyStatus(
  cfg: CliConfig,
  target: string | undefined,
  opts: { namespace?: string },
  out: NodeJS.WritableStream = process.stdout,
  deps: MeshCliDeps = {},
): Promise<void> {
  const pilot = readPilotInfo(cfg.stateDir);
  const statuses = await fetchJson<ProxySyncStatus[]>(`${pilot.debugUrl}/debug/syncz`);
  if (!target) {
    out.write(proxyStatusTable(statuses));
    return;
  }
  const { name, namespace } = podTarget(target, opts.namespace);
  const status = statuses.find((s) => s.proxy === `${name}.${namespace}`);
  if (!status) throw createError('VM_ERR_MESH_PROXY_NOT_CONNECTED', [`${name}.${namespace}`, pilot.name]);
  out.write(proxyStatusDetail(status));
  // As istioctl does for one pod: compare what the control plane sent with what the proxy runs.
  try {
    const sent = parseConfigDump(await fetchJson(`${pilot.debugUrl}/debug/config_dump?proxyID=${encodeURIComponent(status.proxy)}`));
    const proxyDump = await withClient(cfg, deps, async (client) => {
      const pod = await sidecarPod(client, name, namespace);
      return (deps.fetchProxyDump ?? ((p) => fetchSidecarDump(cfg, p)))(pod);
    });
    out.write(`\n${compareConfigDumps(sent, parseConfigDump(proxyDump, { includeStatic: false })).join('\n')}\n`);
  } catch (e) {
    out.write(`\n(not compared with the proxy's own config: ${(e as Error).message})\n`);
  }
}

export type ProxyConfigKind = 'cluster' | 'listener' | 'route' | 'endpoint' | 'all';

function printConfig(kind: ProxyConfigKind, dump: unknown, parsed: ParsedConfigDump, output: string, refs: ConfigRefs): string {
  if (output === 'json') {
    const items =
      kind === 'cluster'
        ? parsed.clusters.map((c) => c.cluster)
        : kind === 'listener'
          ? parsed.listeners.map((l) => l.listener)
          : kind === 'route'
            ? parsed.routes.map((r) => r.route)
            : kind === 'endpoint'
              ? parsed.endpoints.map((e) => e.endpoints)
              : dump;
    return `${JSON.stringify(items, null, 4)}\n`;
  }
  const tables: Record<Exclude<ProxyConfigKind, 'all'>, () => string> = {
    cluster: () => clusterTable(parsed, refs),
    listener: () => listenerTable(parsed),
    route: () => routeTable(parsed, refs),
    endpoint: () => endpointTable(parsed),
  };
  if (kind !== 'all') return tables[kind]();
  return (['cluster', 'listener', 'route', 'endpoint'] as const).map((k) => tables[k]()).join('\n');
}

export async function proxyConfig(
  cfg: CliConfig,
  kind: ProxyConfigKind,
  target: string,
  opts: { namespace?: string; output?: string },
  out: NodeJS.WritableStream = process.stdout,
  deps: MeshCliDeps = {},
): Promise<void> {
  const output = opts.output ?? 'short';
  if (output !== 'short' && output !== 'json') throw new Error(`output format "${output}" not supported; use json or short`);
  const { name, namespace } = podTarget(target, opts.namespace);
  await withClient(cfg, deps, async (client) => {
    const pod = await sidecarPod(client, name, namespace);
    const dump = await (deps.fetchProxyDump ?? ((p) => fetchSidecarDump(cfg, p)))(pod);
    const refs = output === 'short' ? await configRefs(client) : {};
    out.write(printConfig(kind, dump, parseConfigDump(dump), output, refs));
  });
}

/** Adds `proxy-status` (ps) and `proxy-config` (pc) to the virtmesh command. */
export function registerMeshCommands(program: Command, cfg: CliConfig): void {
  program
    .command('proxy-status')
    .alias('ps')
    .description("Each sidecar's sync state with the mesh control plane (like `istioctl proxy-status`); with a pod, the detail and a comparison.")
    .argument('[pod]', 'pod[.namespace] of one proxy')
    .option('-n, --namespace <namespace>', 'namespace of the pod', 'default')
    .action(async (pod: string | undefined, o: { namespace: string }) => proxyStatus(cfg, pod, o));

  const pc = program
    .command('proxy-config')
    .alias('pc')
    .description('What a sidecar is configured with, read from the sidecar itself (like `istioctl proxy-config`).');
  const kinds: Array<[ProxyConfigKind, string[], string]> = [
    ['cluster', ['clusters', 'c'], 'clusters (CDS)'],
    ['listener', ['listeners', 'l'], 'listeners (LDS)'],
    ['route', ['routes', 'r'], 'route configurations (RDS)'],
    ['endpoint', ['endpoints', 'ep'], 'endpoints (EDS)'],
    ['all', ['a'], 'clusters, listeners, routes and endpoints'],
  ];
  for (const [kind, aliases, what] of kinds) {
    pc.command(kind)
      .aliases(aliases)
      .description(`The sidecar's ${what}.`)
      .argument('<pod>', 'pod[.namespace]')
      .option('-n, --namespace <namespace>', 'namespace of the pod', 'default')
      .option('-o, --output <format>', 'json or short', 'short')
      .action(async (pod: string, o: { namespace: string; output: string }) => proxyConfig(cfg, kind, pod, o));
  }
}
