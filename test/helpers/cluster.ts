// Test harness: a real virtmesh API server (in this process, on a free port, in a
// temporary state directory), the real kubectl and virtmesh's API client pointed at it.
// Everything the harness makes is removed in `after`, also when a test fails.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import YAML from 'yaml';
import { type ContainerLogSource, type RunningApiServer, startApiServer } from '../../src/apiserver/index.js';
import { ApiClient } from '../../src/client/index.js';
import { eventually } from './eventually.js';

/** The walkthrough's manifests, verbatim, as the example ships them. */
export const walkthrough = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'istio-vmi', name), 'utf8');

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestCluster {
  api: RunningApiServer;
  dir: string;
  /** virtmesh's API client, as admin. */
  client: ApiClient;
  kubectl(args: string[], input?: string, opts?: { kubeconfig?: string }): Promise<KubectlResult>;
  /** kubectl that must succeed; returns stdout. */
  k(args: string[], input?: string): Promise<string>;
  /** A raw request to the API server as admin (or with the given token). */
  http(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; json(): any }>;
}

/** Runs a command to completion, feeding `input` on stdin; never rejects. */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

export function kubectlIn(dir: string, kubeconfig: string) {
  // A private HOME keeps kubectl's discovery cache inside the test's directory.
  return (args: string[], input?: string, opts: { kubeconfig?: string } = {}) =>
    runCommand('kubectl', args, { PATH: process.env.PATH, HOME: dir, KUBECONFIG: opts.kubeconfig ?? kubeconfig, KUBECACHEDIR: join(dir, 'kube-cache') }, input);
}

export function httpTo(url: string, ca: string, token: string) {
  return (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; json(): any }>((resolve, reject) => {
      const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = request(
        `${url}${path}`,
        {
          method,
          ca,
          headers: {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/json',
            ...(data === undefined ? {} : { 'Content-Length': Buffer.byteLength(data) }),
            ...headers,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

/**
 * One API server for the calling test file. `beforeClose` runs first at the end: what the
 * test started against the server (a controller) stops before the server does.
 */
export function useCluster(
  opts: { bookmarkIntervalMs?: number; changeLogSize?: number; containerLogs?: ContainerLogSource; beforeClose?: () => void } = {},
): TestCluster {
  const cluster = {} as TestCluster;
  before(async () => {
    cluster.dir = mkdtempSync(join(tmpdir(), 'virtmesh-test-'));
    cluster.api = await startApiServer({
      stateDir: join(cluster.dir, 'state'),
      port: 0,
      bookmarkIntervalMs: opts.bookmarkIntervalMs,
      changeLogSize: opts.changeLogSize,
      containerLogs: opts.containerLogs,
    });
    cluster.kubectl = kubectlIn(cluster.dir, cluster.api.kubeconfigPath);
    cluster.k = async (args, input) => {
      const r = await cluster.kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    };
    cluster.http = httpTo(cluster.api.url, cluster.api.caCert, cluster.api.adminToken);
    cluster.client = new ApiClient({ url: cluster.api.url, token: cluster.api.adminToken, ca: cluster.api.caCert });
  });
  after(async () => {
    try {
      opts.beforeClose?.();
      cluster.client?.close();
      await cluster.api?.close();
    } finally {
      if (cluster.dir) rmSync(cluster.dir, { recursive: true, force: true });
    }
  });
  return cluster;
}

/** A ConfigMap manifest: the smallest object for exercising the API. */
export const configMap = (name: string, metadata: Record<string, unknown> = {}, data: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...metadata },
  data,
});

/** Polls `check` every 100 ms; fails naming what it waited for. */
export async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  await eventually(what, check, ms, 100);
}

/** The user-data of a walkthrough manifest's cloudInitNoCloud volume, as the VM gets it. */
export function walkthroughUserData(name: string): string {
  const vmi = YAML.parse(walkthrough(name)) as { spec: { volumes: Array<{ cloudInitNoCloud?: { userData?: string } }> } };
  const userData = vmi.spec.volumes.find((v) => v.cloudInitNoCloud)?.cloudInitNoCloud?.userData;
  if (!userData) throw new Error(`${name} has no cloud-init user-data`);
  return userData;
}
