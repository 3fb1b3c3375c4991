import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { clientConfigFromKubeconfig } from './kubeconfig.js';

describe('kubeconfig reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-kubeconfig-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const write = (name: string, users: unknown[], extra: Record<string, unknown> = {}) => {
    const path = join(dir, name);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'kind',
        clusters: [
          { name: 'kind', cluster: { server: 'https://127.0.0.1:40000', 'certificate-authority-data': b64('CA PEM') } },
          { name: 'lab', cluster: { server: 'https://lab.example:6443', 'certificate-authority': 'lab-ca.crt', 'insecure-skip-tls-verify': true } },
        ],
        contexts: [
          { name: 'kind', context: { cluster: 'kind', user: 'admin' } },
          { name: 'lab', context: { cluster: 'lab', user: 'robot' } },
        ],
        users,
        ...extra,
      }),
    );
    return path;
  };

  it('reads the current context: server, CA and a client certificate, inline or from files beside the kubeconfig', () => {
    writeFileSync(join(dir, 'lab-ca.crt'), 'LAB CA');
    writeFileSync(join(dir, 'robot.token'), 'tok-from-file\n');
    const path = write('a', [
      { name: 'admin', user: { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') } },
      { name: 'robot', user: { tokenFile: 'robot.token' } },
    ]);
    assert.deepEqual(clientConfigFromKubeconfig(path), {
      url: 'https://127.0.0.1:40000',
      ca: 'CA PEM',
      insecure: false,
      cert: 'CERT',
      key: 'KEY',
      token: undefined,
      serverName: undefined,
    });
    const lab = clientConfigFromKubeconfig(path, 'lab');
    assert.deepEqual([lab.url, lab.ca, lab.insecure, lab.token], ['https://lab.example:6443', 'LAB CA', true, 'tok-from-file']);
  });

  it("takes an exec plugin's token, and says what failed when the plugin does", () => {
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-token' } });
    const ok = write('b', [
      { name: 'admin', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', `echo '${credential}'`] } } },
    ]);
    assert.equal(clientConfigFromKubeconfig(ok).tokenSource?.(), 'exec-token');
    // An expiring token is asked for again a minute before it expires.
    const counter = join(dir, 'runs');
    writeFileSync(counter, '');
    const expiring = JSON.stringify({ status: { token: 'short-lived', expirationTimestamp: new Date(Date.now() + 30_000).toISOString() } });
    const refreshing = write('b2', [{ name: 'admin', user: { exec: { command: 'sh', args: ['-c', `echo run >> '${counter}'; echo '${expiring}'`] } } }]);
    const source = clientConfigFromKubeconfig(refreshing).tokenSource;
    assert.equal(source?.(), 'short-lived');
    source?.();
    assert.equal(readFileSync(counter, 'utf8').trim().split('\n').length, 3, 'run at load, then again for each request once near expiry');
    const notJson = write('b3', [{ name: 'admin', user: { exec: { command: 'sh', args: ['-c', 'echo hello'] } } }]);
    assert.throws(() => clientConfigFromKubeconfig(notJson), /printed no ExecCredential \(not JSON: hello\)/);
    const failing = write('c', [{ name: 'admin', user: { exec: { command: 'sh', args: ['-c', 'echo token expired >&2; exit 1'] } } }]);
    assert.throws(() => clientConfigFromKubeconfig(failing), /exec plugin sh failed: token expired/);
  });

  it('refuses what it cannot use, saying why', () => {
    const path = write('d', [{ name: 'admin', user: { 'auth-provider': { name: 'gcp' } } }]);
    assert.throws(() => clientConfigFromKubeconfig(path), /uses an auth-provider/);
    assert.throws(() => clientConfigFromKubeconfig(path, 'prod'), /context "prod" is not in /);
    writeFileSync(join(dir, 'e'), 'just: text\n');
    assert.throws(() => clientConfigFromKubeconfig(join(dir, 'e')), /is not a kubeconfig \(kind: Config\)/);
    assert.throws(() => clientConfigFromKubeconfig(join(dir, 'missing')), /ENOENT/);
  });
});
