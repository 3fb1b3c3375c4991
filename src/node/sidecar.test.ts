import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { KubeObject } from '../client/index.js';
import { capLogFile, containerEnv } from './sidecar.js';

describe('the istio-proxy container on the node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'virtmesh-sidecar-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("resolves the container's environment as the kubelet does: values, fieldRefs, $(VAR) references", () => {
    const pod = {
      metadata: { name: 'virt-launcher-a-xyz12', namespace: 'default', uid: 'u1', labels: { app: 'a' } },
      spec: { nodeName: 'node01' },
    } as unknown as KubeObject;
    const env = containerEnv(
      pod,
      {
        name: 'istio-proxy',
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'INSTANCE_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'DOMAIN', value: '$(POD_NAME).svc' },
          { name: 'LATER', value: '$(NOT_YET)' },
        ],
      },
      '10.244.0.5',
      '10.244.0.1',
    );
    assert.equal(env.POD_NAME, 'virt-launcher-a-xyz12');
    assert.equal(env.INSTANCE_IP, '10.244.0.5');
    assert.equal(env.SERVICE_ACCOUNT, 'default');
    assert.equal(env.APP, 'a');
    assert.equal(env.DOMAIN, 'virt-launcher-a-xyz12.svc');
    assert.equal(env.LATER, '$(NOT_YET)', 'an unknown reference stays as written, as in Kubernetes');
    assert.deepEqual(JSON.parse(env.ISTIO_METAJSON_LABELS), { app: 'a' });
  });

  it('cuts a log past its limit down to its last whole lines, and leaves a small one alone', () => {
    const path = join(dir, 'istio-proxy.log');
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`).join('');
    writeFileSync(path, lines);
    capLogFile(path, 100_000, 1000);
    assert.equal(readFileSync(path, 'utf8'), lines, 'under the limit');
    capLogFile(path, 10_000, 1000);
    const kept = readFileSync(path, 'utf8');
    assert.ok(kept.length <= 1000 && kept.length > 900, `${kept.length} bytes kept`);
    assert.match(kept, /^line \d{4}\n/);
    assert.ok(kept.endsWith('line 1999\n'));
    appendFileSync(path, 'after\n');
    assert.ok(readFileSync(path, 'utf8').endsWith('line 1999\nafter\n'));
    capLogFile(join(dir, 'gone.log'));
  });
});
