/**
 * Against the real kubectl: the request bodies it sends as protobuf, and the
 * protobuf OpenAPI v2 document it downloads.
 *
 * fixtures/kubectl-v1.32.json holds bodies captured from kubectl v1.32 (hex), each
 * with the JSON kubectl prints for the same command with `--dry-run=client -o json`
 * (the same typed object, written by Go's encoding/json): decoding the body must give
 * exactly that JSON. Those tests need no kubectl. The live tests below re-capture
 * from the kubectl on PATH (skipped when there is none); run them with
 * UPDATE_FIXTURES=1 to rewrite the fixture file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeKubeProtobuf, isKubeProtobuf, OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_RESPONSE, openapiV2Document } from './index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/kubectl-v1.32.json', import.meta.url));

interface Fixture {
  /** kubectl arguments; `@blob` stands for a file holding the bytes ff 00 fe 01. */
  args: string[];
  method: string;
  path: string;
  contentType: string;
  /** The request body, hex. */
  body: string;
  /** `kubectl <args> --dry-run=client -o json` */
  expected: Record<string, unknown>;
}

/** The commands captured: kubectl's typed clients that send protobuf. */
const COMMANDS: string[][] = [
  ['create', 'namespace', 'demo-ns'],
  ['create', 'configmap', 'cm1', '--from-literal=a=b', '-n', 'default'],
  ['create', 'configmap', 'bin1', '--from-file=blob=@blob', '--from-literal=x=y'],
  ['create', 'service', 'clusterip', 'web', '--tcp=80:8080'],
  ['create', 'service', 'nodeport', 'np', '--tcp=5678:8080', '--node-port=30080'],
  ['create', 'service', 'externalname', 'ext', '--external-name=example.com'],
  ['create', 'service', 'clusterip', 'headless', '--clusterip=None'],
  ['create', 'secret', 'generic', 's1', '--from-literal=k=v'],
  ['create', 'secret', 'docker-registry', 'reg', '--docker-server=r.example', '--docker-username=u', '--docker-password=p'],
  ['create', 'serviceaccount', 'sa1'],
];

// ------------------------------------------------------------------ a stand-in apiserver

interface Captured {
  method: string;
  url: string;
  contentType: string;
  accept: string;
  body: Buffer;
}

const apiResource = (name: string, kind: string, namespaced: boolean) => ({
  name,
  singularName: kind.toLowerCase(),
  namespaced,
  kind,
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
});

/**
 * A plain HTTP server that answers discovery (/api, /api/v1, /apis, /version), serves
 * `openapi` at /openapi/v2 if given (404 otherwise, and always for /openapi/v3), records
 * every request and answers anything else with a 500 Status.
 */
async function withFakeApiserver<T>(
  openapi: Buffer | undefined,
  fn: (run: (args: string[]) => Promise<KubectlRun>, seen: Captured[]) => Promise<T>,
): Promise<T> {
  const seen: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        accept: req.headers.accept ?? '',
        body: Buffer.concat(chunks),
      });
      const json = (code: number, o: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(o));
      };
      const status = (code: number, reason: string) => json(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'captured', reason, code });
      if (req.method === 'GET') {
        if (path === '/version') return json(200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
        if (path === '/api')
          return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
        if (path === '/apis') return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
        if (path === '/api/v1') {
          return json(200, {
            kind: 'APIResourceList',
            groupVersion: 'v1',
            resources: [
              apiResource('namespaces', 'Namespace', false),
              apiResource('configmaps', 'ConfigMap', true),
              apiResource('services', 'Service', true),
              apiResource('secrets', 'Secret', true),
              apiResource('serviceaccounts', 'ServiceAccount', true),
            ],
          });
        }
        if (path === '/openapi/v2' && openapi) {
          res.writeHead(200, { 'content-type': OPENAPI_V2_PROTOBUF_RESPONSE });
          return res.end(openapi);
        }
        return status(404, 'NotFound');
      }
      return status(500, 'InternalError');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const home = mkdtempSync(join(tmpdir(), 'virtmesh-kubectl-'));
  try {
    const { port } = server.address() as AddressInfo;
    const kubeconfig = join(home, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: http://127.0.0.1:${port}`,
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: fake}',
        'current-context: fake',
        'users:',
        '- name: fake',
        '  user: {}',
        '',
      ].join('\n'),
    );
    const blob = join(home, 'blob');
    writeFileSync(blob, Buffer.from([0xff, 0x00, 0xfe, 0x01]));
    const run = (args: string[]) =>
      kubectl(['--kubeconfig', kubeconfig, ...args.map((a) => a.replace('@blob', blob))], {
        ...process.env,
        HOME: home,
        KUBECACHEDIR: join(home, 'cache'),
        KUBECONFIG: '',
      });
    return await fn(run, seen);
  } finally {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    rmSync(home, { recursive: true, force: true });
  }
}

interface KubectlRun {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(args: string[], env: NodeJS.ProcessEnv): Promise<KubectlRun> {
  return new Promise((resolve) => {
    execFile('kubectl', args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const haveKubectl = await kubectl(['version', '--client'], process.env).then((r) => r.code === 0);

/** Runs one kubectl command against the fake apiserver and returns what it POSTed, plus its dry-run JSON. */
async function capture(args: string[]): Promise<Fixture> {
  return withFakeApiserver(undefined, async (run, seen) => {
    const dry = await run([...args, '--dry-run=client', '-o', 'json']);
    assert.equal(dry.code, 0, dry.stderr);
    const real = await run(args);
    assert.notEqual(real.code, 0, 'the fake apiserver answers 500, so kubectl must fail');
    const posts = seen.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 1, `expected one POST, saw ${seen.map((r) => `${r.method} ${r.url}`).join(', ')}`);
    const post = posts[0];
    return {
      args,
      method: post.method,
      path: post.url,
      contentType: post.contentType,
      body: post.body.toString('hex'),
      expected: JSON.parse(dry.stdout),
    };
  });
}

// ------------------------------------------------------------------ tests

describe('request bodies captured from kubectl v1.32', () => {
  const fixtures = JSON.parse(readFileSync(FIXTURES, 'utf8')) as Fixture[];

  it('cover every command', () =>
    assert.deepEqual(
      fixtures.map((f) => f.args),
      COMMANDS,
    ));

  for (const f of fixtures) {
    it(`kubectl ${f.args.join(' ')}`, () => {
      assert.ok(isKubeProtobuf(f.contentType), f.contentType);
      assert.deepEqual(decodeKubeProtobuf(Buffer.from(f.body, 'hex')), f.expected);
    });
  }

  it('the Namespace is exactly what Go writes for an empty spec and status', () => {
    const ns = fixtures.find((f) => f.args[1] === 'namespace');
    assert.deepEqual(decodeKubeProtobuf(Buffer.from(ns!.body, 'hex')), {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: { name: 'demo-ns', creationTimestamp: null },
      spec: {},
      status: {},
    });
  });

  it('the ConfigMap from a file of non-UTF-8 bytes carries them base64 in binaryData', () => {
    const cm = decodeKubeProtobuf(Buffer.from(fixtures.find((f) => f.args[2] === 'bin1')!.body, 'hex'));
    assert.deepEqual(cm.binaryData, { blob: Buffer.from([0xff, 0x00, 0xfe, 0x01]).toString('base64') });
    assert.deepEqual(cm.data, { x: 'y' });
  });
});

describe('live against the kubectl on PATH', { skip: haveKubectl ? false : 'kubectl is not installed' }, () => {
  it('each create command POSTs protobuf that decodes to its --dry-run=client JSON', { timeout: 300_000 }, async () => {
    const captured: Fixture[] = [];
    for (const args of COMMANDS) {
      const f = await capture(args);
      assert.equal(f.contentType, 'application/vnd.kubernetes.protobuf', `kubectl ${args.join(' ')}`);
      assert.deepEqual(decodeKubeProtobuf(Buffer.from(f.body, 'hex')), f.expected, `kubectl ${args.join(' ')}`);
      captured.push(f);
    }
    if (process.env.UPDATE_FIXTURES) writeFileSync(FIXTURES, `${JSON.stringify(captured, null, 2)}\n`);
  });

  const kinds = [
    { group: '', version: 'v1', kind: 'Namespace', path: '/api/v1/namespaces/{name}' },
    { group: 'kubevirt.io', version: 'v1', kind: 'VirtualMachineInstance', path: '/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachineinstances/{name}' },
  ];

  it('with no /openapi/v2, kubectl create -f of an unknown kind fails on the download', { timeout: 120_000 }, async () => {
    await withFakeApiserver(undefined, async (run) => {
      const dir = mkdtempSync(join(tmpdir(), 'virtmesh-manifest-'));
      try {
        const file = join(dir, 'vmi.yaml');
        writeFileSync(file, 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: vmi\n');
        const r = await run(['create', '-f', file]);
        assert.match(r.stderr, /failed to download openapi/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('with openapiV2Document served, kubectl reaches the real "no matches for kind" error', { timeout: 120_000 }, async () => {
    await withFakeApiserver(openapiV2Document(kinds), async (run, seen) => {
      const dir = mkdtempSync(join(tmpdir(), 'virtmesh-manifest-'));
      try {
        const file = join(dir, 'vmi.yaml');
        writeFileSync(file, 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: vmi\n');
        const r = await run(['create', '-f', file]);
        assert.doesNotMatch(r.stderr, /openapi/);
        assert.match(r.stderr, /no matches for kind "VirtualMachineInstance" in version "kubevirt.io\/v1"/);
        const get = seen.find((s) => s.url.startsWith('/openapi/v2'));
        assert.equal(get?.accept, OPENAPI_V2_PROTOBUF);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('and for a kind it lists, kubectl sends fieldValidation=Strict', { timeout: 120_000 }, async () => {
    await withFakeApiserver(openapiV2Document(kinds), async (run, seen) => {
      const dir = mkdtempSync(join(tmpdir(), 'virtmesh-manifest-'));
      try {
        const file = join(dir, 'ns.yaml');
        writeFileSync(file, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-file\n');
        await run(['create', '-f', file]);
        const post = seen.find((s) => s.method === 'POST');
        assert.ok(post, 'kubectl POSTed the namespace');
        assert.match(post.url, /^\/api\/v1\/namespaces\?.*fieldValidation=Strict/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
