// The API client for whatever cluster a kubeconfig names: the console's scale-out path,
// against a real Kubernetes cluster with KubeVirt and Istio. Read as kubectl reads it:
// the current context (or the one asked for), the cluster's server, CA and TLS server
// name, and the user's token, client certificate or exec plugin (the
// client.authentication.k8s.io ExecCredential protocol, as cloud clusters use; run again
// when its token expires). Written here rather than taken from client-node, whose
// loader needs a newer Node than virtmesh's.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import type { ClientConfig } from './index.js';

interface Named<T> {
  name: string;
  [key: string]: T | string;
}

interface ExecConfig {
  /** A path with a slash is relative to the kubeconfig's folder; a bare name is looked up in PATH. */
  apiVersion?: string;
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }>;
}

export function clientConfigFromKubeconfig(path: string, contextName?: string): ClientConfig {
  const doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object' || doc.kind !== 'Config') throw new Error(`${path} is not a kubeconfig (kind: Config)`);
  const find = <T>(list: string, name: string, field: string): T => {
    const entry = ((doc[list] as Array<Named<T>> | undefined) ?? []).find((e) => e?.name === name);
    if (!entry) throw new Error(`${list.replace(/s$/, '')} "${name}" is not in ${path}`);
    return (entry[field] ?? {}) as T;
  };
  const current = contextName ?? (doc['current-context'] as string | undefined);
  if (!current) throw new Error(`${path} has no current-context; name one with --context`);
  const context = find<{ cluster: string; user?: string }>('contexts', current, 'context');
  const cluster = find<Record<string, unknown>>('clusters', context.cluster, 'cluster');
  const user = context.user ? find<Record<string, unknown>>('users', context.user, 'user') : {};
  // Relative file names in a kubeconfig are relative to the kubeconfig itself.
  const file = (p: unknown) => readFileSync(resolve(dirname(path), String(p)), 'utf8');
  const data = (inline: unknown, fromFile: unknown) =>
    inline ? Buffer.from(String(inline), 'base64').toString('utf8') : fromFile ? file(fromFile) : undefined;

  if (typeof cluster.server !== 'string') throw new Error(`cluster "${context.cluster}" in ${path} has no server`);
  if (cluster['proxy-url'])
    throw new Error(
      `cluster "${context.cluster}" goes through proxy-url, which virtmesh does not support; reach the API server directly or through kubectl proxy`,
    );
  const config: ClientConfig = {
    url: cluster.server,
    ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    serverName: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
    cert: data(user['client-certificate-data'], user['client-certificate']),
    key: data(user['client-key-data'], user['client-key']),
    token: typeof user.token === 'string' ? user.token : user.tokenFile ? file(user.tokenFile).trim() : undefined,
  };
  if (user.exec) Object.assign(config, execCredentials(user.exec as ExecConfig, dirname(path)));
  else if (user['auth-provider'])
    throw new Error(
      `user "${context.user}" uses an auth-provider, which only kubectl's plugins understand; use a token, a client certificate or an exec plugin`,
    );
  return config;
}

/**
 * What an exec plugin gives: a client certificate and key (read once), or a token, kept until a
 * minute before its expirationTimestamp and then asked for again, as kubectl does.
 */
function execCredentials(exec: ExecConfig, kubeconfigDir: string): Partial<ClientConfig> {
  const command = exec.command.includes('/') ? resolve(kubeconfigDir, exec.command) : exec.command;
  const first = runExecPlugin(exec, command);
  if (!first.token) {
    if (first.clientCertificateData && first.clientKeyData) return { cert: first.clientCertificateData, key: first.clientKeyData };
    throw new Error(`exec plugin ${exec.command} printed no token and no client certificate`);
  }
  let current = first;
  return {
    tokenSource: () => {
      const expires = current.expirationTimestamp ? Date.parse(current.expirationTimestamp) : Number.POSITIVE_INFINITY;
      if (Date.now() > expires - 60_000) current = runExecPlugin(exec, command);
      return current.token as string;
    },
  };
}

function runExecPlugin(exec: ExecConfig, command: string): Record<string, string | undefined> {
  const env = { ...process.env, ...Object.fromEntries((exec.env ?? []).map((e) => [e.name, e.value])) };
  if (exec.apiVersion) env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
  let out: string;
  try {
    out = execFileSync(command, exec.args ?? [], { env, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`exec plugin ${exec.command} failed: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`);
  }
  try {
    return (JSON.parse(out) as { status?: Record<string, string> }).status ?? {};
  } catch {
    throw new Error(`exec plugin ${exec.command} printed no ExecCredential (not JSON: ${out.slice(0, 80).trim()})`);
  }
}
