import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../admission/types.js';
import { applyJsonPatch, applyMergePatch, PatchError, patchTypeOf } from './index.js';

const cm = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'default', labels: { app: 'web', tier: 'fe' } },
  data: { a: '1', b: '2' },
});

function rejects(fn: () => unknown, status: number, reason: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PatchError, `expected PatchError, got ${String(e)}`);
    assert.equal(e.message, message);
    assert.equal(e.status, status);
    assert.equal(e.reason, reason);
    return true;
  });
}

describe('patchTypeOf', () => {
  it('maps the four patch media types', () => {
    assert.equal(patchTypeOf('application/json-patch+json'), 'json');
    assert.equal(patchTypeOf('application/merge-patch+json'), 'merge');
    assert.equal(patchTypeOf('application/strategic-merge-patch+json'), 'strategic');
    assert.equal(patchTypeOf('application/apply-patch+yaml'), 'apply');
  });
  it('ignores parameters and case', () => {
    assert.equal(patchTypeOf('application/merge-patch+json; charset=utf-8'), 'merge');
    assert.equal(patchTypeOf('Application/Apply-Patch+YAML'), 'apply');
  });
  it('is undefined for anything else, apply-patch+cbor included', () => {
    assert.equal(patchTypeOf(undefined), undefined);
    assert.equal(patchTypeOf('application/json'), undefined);
    assert.equal(patchTypeOf('application/apply-patch+cbor'), undefined);
  });
});

describe('applyMergePatch', () => {
  it('null deletes a key, objects merge, scalars replace', () => {
    const out = applyMergePatch(cm(), { metadata: { labels: { tier: null, env: 'prod' } }, data: { a: 'x' } });
    assert.deepEqual(out.metadata?.labels, { app: 'web', env: 'prod' });
    assert.deepEqual(out.data, { a: 'x', b: '2' });
  });
  it('is the patch kubectl label sends: {"metadata":{"labels":{"istio-injection":"enabled"}}}', () => {
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } } };
    const out = applyMergePatch(ns, JSON.parse('{"metadata":{"labels":{"istio-injection":"enabled"}}}'));
    assert.deepEqual(out.metadata?.labels, { 'kubernetes.io/metadata.name': 'default', 'istio-injection': 'enabled' });
  });
  it('replaces lists whole and drops nulls inside new objects', () => {
    const out = applyMergePatch({ spec: { ports: [{ port: 80 }, { port: 81 }] } }, { spec: { ports: [{ port: 90, name: null }], extra: { a: null, b: 1 } } });
    assert.deepEqual(out.spec, { ports: [{ port: 90 }], extra: { b: 1 } });
  });
  it('does not mutate its input', () => {
    const input = cm();
    applyMergePatch(input, { metadata: { labels: null } });
    assert.deepEqual(input, cm());
  });
  it('rejects a patch that is not an object', () => {
    rejects(() => applyMergePatch(cm(), null), 400, 'BadRequest', 'Invalid JSON Patch');
    rejects(() => applyMergePatch(cm(), [1]), 400, 'BadRequest', 'Invalid JSON Patch');
  });
});

describe('applyJsonPatch', () => {
  it('adds, replaces, removes, moves and copies', () => {
    const out = applyJsonPatch(cm(), [
      { op: 'add', path: '/metadata/annotations', value: { note: 'x' } },
      { op: 'add', path: '/metadata/labels/a~1b', value: 'slash' },
      { op: 'replace', path: '/data/a', value: 'one' },
      { op: 'remove', path: '/metadata/labels/tier' },
      { op: 'move', from: '/data/b', path: '/data/c' },
      { op: 'copy', from: '/data/a', path: '/data/d' },
      { op: 'test', path: '/data/d', value: 'one' },
    ]);
    assert.deepEqual(out.metadata?.labels, { app: 'web', 'a/b': 'slash' });
    assert.deepEqual(out.metadata?.annotations, { note: 'x' });
    assert.deepEqual(out.data, { a: 'one', c: '2', d: 'one' });
  });
  it('adds into arrays by index, "-" and negative index', () => {
    const obj: KubeObject = { metadata: { finalizers: ['a', 'c'] } };
    const out = applyJsonPatch(obj, [
      { op: 'add', path: '/metadata/finalizers/1', value: 'b' },
      { op: 'add', path: '/metadata/finalizers/-', value: 'd' },
      { op: 'remove', path: '/metadata/finalizers/0' },
    ]);
    assert.deepEqual(out.metadata?.finalizers, ['b', 'c', 'd']);
  });
  it('does not mutate its input', () => {
    const input = cm();
    applyJsonPatch(input, [{ op: 'remove', path: '/data' }]);
    assert.deepEqual(input, cm());
  });
  it('fails a test op on a differing value with evanphx phrasing (422 Invalid)', () => {
    rejects(() => applyJsonPatch(cm(), [{ op: 'test', path: '/data/a', value: '2' }]), 422, 'Invalid', 'testing value /data/a failed: test failed');
  });
  it('fails a test op on an absent field', () => {
    rejects(
      () => applyJsonPatch(cm(), [{ op: 'test', path: '/spec/x', value: 1 }]),
      422,
      'Invalid',
      'test operation does not apply: is missing path: /spec/x: missing value',
    );
    rejects(() => applyJsonPatch(cm(), [{ op: 'test', path: '/data/zz', value: 1 }]), 422, 'Invalid', 'testing value /data/zz failed: test failed');
  });
  it('passes a test for null against an absent key', () => {
    assert.deepEqual(applyJsonPatch(cm(), [{ op: 'test', path: '/data/zz', value: null }]), cm());
  });
  it('fails add under a missing parent', () => {
    rejects(
      () => applyJsonPatch(cm(), [{ op: 'add', path: '/metadata/annotations/x', value: 'y' }]),
      422,
      'Invalid',
      'add operation does not apply: doc is missing path: "/metadata/annotations/x": missing value',
    );
  });
  it('fails remove of an absent key', () => {
    rejects(
      () => applyJsonPatch(cm(), [{ op: 'remove', path: '/metadata/labels/nope' }]),
      422,
      'Invalid',
      "error in remove for path: '/metadata/labels/nope': unable to remove nonexistent key: nope: missing value",
    );
  });
  it('fails replace of an absent key and out-of-range indexes', () => {
    rejects(
      () => applyJsonPatch(cm(), [{ op: 'replace', path: '/data/zz', value: 1 }]),
      422,
      'Invalid',
      'replace operation does not apply: doc is missing key: /data/zz: missing value',
    );
    rejects(
      () => applyJsonPatch({ metadata: { finalizers: ['a'] } }, [{ op: 'add', path: '/metadata/finalizers/5', value: 'x' }]),
      422,
      'Invalid',
      "error in add for path: '/metadata/finalizers/5': Unable to access invalid index: 5: invalid index referenced",
    );
  });
  it('rejects unknown ops and undecodable patches', () => {
    rejects(() => applyJsonPatch(cm(), [{ op: 'frob', path: '/a' }]), 422, 'Invalid', 'Unexpected kind: frob');
    rejects(() => applyJsonPatch(cm(), { op: 'add' }), 400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    rejects(() => applyJsonPatch(cm(), ['x']), 400, 'BadRequest', 'json: cannot unmarshal string into Go value of type jsonpatch.Operation');
  });
});
