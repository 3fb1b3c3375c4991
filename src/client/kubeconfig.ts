// The API client for whatever cluster a kubeconfig names: the console's scale-out path,
// against a real Kubernetes cluster with KubeVirt and Istio. Read as kubectl reads it:
// the current context (or the one asked for), the cluster's server and CA, and the user's
// token, client certificate or exec plugin (the client.authentication.k8s.io
// ExecCredential protocol, as cloud clusters use).

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
  const config: ClientConfig = {
    url: cluster.server,
    ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    cert: data(user['client-certificate-data'], user['client-certificate']),
    key: data(user['client-key-data'], user['client-key']),
    token: typeof user.token === 'string' ? user.token : user.tokenFile ? file(user.tokenFile).trim() : undefined,
  };
  if (user.exec) Object.assign(config, runExecPlugin(user.exec as ExecConfig));
  else if (user['auth-provider'])
    throw new Error(
      `user "${context.user}" uses an auth-provider, which only kubectl's plugins understand; use a token, a client certificate or an exec plugin`,
    );
  return config;
}

/** The ExecCredential a plugin prints: a token, or a client certificate and key. */
function runExecPlugin(exec: ExecConfig): Partial<ClientConfig> {
  const env = { ...process.env, ...Object.fromEntries((exec.env ?? []).map((e) => [e.name, e.value])) };
  if (exec.apiVersion) env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
  let out: string;
  try {
    out = execFileSync(exec.command, exec.args ?? [], { env, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`exec plugin ${exec.command} failed: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`);
  }
  const status = (JSON.parse(out) as { status?: Record<string, string> }).status ?? {};
  if (status.token) return { token: status.token };
  if (status.clientCertificateData && status.clientKeyData) return { cert: status.clientCertificateData, key: status.clientKeyData };
  throw new Error(`exec plugin ${exec.command} printed no token and no client certificate`);
}
