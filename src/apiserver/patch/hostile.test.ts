/** Patches written to hurt: prototype pollution, memory and CPU blow-ups, whole-object deletes. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { KubeObject } from '../admission/types.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError, recordUpdate, serverSideApply } from './index.js';

const CM = { group: '', kind: 'ConfigMap' };
const POD = { group: '', kind: 'Pod' };
const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T11:00:00Z';

const cm = (): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default', labels: { app: 'web' } }, data: { a: '1' } });

/** JSON as it arrives on the wire: JSON.parse makes `__proto__` an own key, as kube's decoder would keep it. */
const wire = (text: string): any => JSON.parse(text);

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

/** Object.prototype has exactly its standard properties, and plain objects inherit nothing new. */
function assertPristine(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_NAMES, 'Object.prototype was written to');
  const probe: any = {};
  for (const k of ['deletionTimestamp', 'polluted', 'x', 'finalizers', 'isAdmin']) assert.equal(probe[k], undefined, `({}).${k} is inherited`);
}

/** `o` holds `k` as an own, enumerable data key with value `v`, and still has Object.prototype as prototype. */
function assertOwn(o: unknown, k: string, v: unknown): void {
  assert.ok(o !== null && typeof o === 'object');
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  const d = Object.getOwnPropertyDescriptor(o, k);
  assert.ok(d && 'value' in d && d.enumerable, `missing own data key ${k}`);
  assert.deepEqual(d.value, v);
}

function rejects(fn: () => unknown, status: number, reason: string, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PatchError, String(e));
    assert.equal(e.status, status);
    assert.equal(e.reason, reason);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('prototype pollution', () => {
  afterEach(() => {
    // Undo any damage, so one failure does not cascade through the process.
    for (const k of Object.getOwnPropertyNames(Object.prototype)) if (!PROTO_NAMES.includes(k)) delete (Object.prototype as any)[k];
  });

  it('merge patch: __proto__ keys are ordinary keys, Object.prototype is untouched', () => {
    const out = applyMergePatch(cm(), wire('{"__proto__":{"deletionTimestamp":"x"},"data":{"__proto__":"v"},"metadata":{"__proto__":{"polluted":"yes"}}}'));
    assertPristine();
    assertOwn(out, '__proto__', { deletionTimestamp: 'x' });
    assertOwn(out.data, '__proto__', 'v');
    assertOwn(out.data, 'a', '1');
    assertOwn(out.metadata, '__proto__', { polluted: 'yes' });
    assert.equal(out.metadata?.deletionTimestamp, undefined);
    assert.equal(JSON.stringify(out.data), '{"a":"1","__proto__":"v"}');
  });

  it('merge patch: constructor/prototype and null-deletion of an own __proto__ key', () => {
    const out = applyMergePatch(cm(), wire('{"constructor":{"prototype":{"polluted":"yes"}},"data":{"constructor":"c","toString":"t"}}'));
    assertPristine();
    assertOwn(out, 'constructor', { prototype: { polluted: 'yes' } });
    assertOwn(out.data, 'toString', 't');
    const stored = applyMergePatch(cm(), wire('{"data":{"__proto__":{"nested":{"x":1,"y":null}}}}'));
    assertOwn(stored.data, '__proto__', { nested: { x: 1 } });
    const removed = applyMergePatch(stored, wire('{"data":{"__proto__":null}}'));
    assert.equal(Object.hasOwn(removed.data as object, '__proto__'), false);
    assertPristine();
  });

  it('strategic merge patch: __proto__ keys are kept as own keys, Object.prototype is untouched', () => {
    const patch = wire('{"__proto__":{"polluted":"yes"},"data":{"__proto__":"v"},"metadata":{"labels":{"__proto__":"l"},"__proto__":{"finalizers":["x"]}}}');
    const out = applyStrategicMergePatch(cm(), patch, CM);
    assertPristine();
    assertOwn(out, '__proto__', { polluted: 'yes' });
    assertOwn(out.data, '__proto__', 'v');
    assertOwn(out.metadata?.labels, '__proto__', 'l');
    assertOwn(out.metadata?.labels, 'app', 'web');
    // Directives naming a `__proto__` list find no list (rather than Object.prototype) and do nothing.
    const directives = wire('{"data":{"$setElementOrder/__proto__":["x"],"$deleteFromPrimitiveList/__proto__":["x"]}}');
    assert.deepEqual(applyStrategicMergePatch(cm(), directives, CM), cm());
    const podOut = applyStrategicMergePatch(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'a' }] } },
      wire('{"spec":{"containers":[{"name":"a","env":[{"name":"E","__proto__":{"isAdmin":true}}]}],"__proto__":{"x":1}}}'),
      POD,
    );
    assertPristine();
    assertOwn((podOut.spec as any).containers[0].env[0], '__proto__', { isAdmin: true });
    const removed = applyStrategicMergePatch(out, wire('{"data":{"__proto__":null}}'), CM);
    assert.equal(Object.hasOwn(removed.data as object, '__proto__'), false);
  });

  it('json patch: add/replace/copy/move/test treat __proto__ as a key; a path through it is missing', () => {
    rejects(
      () => applyJsonPatch(cm(), [{ op: 'add', path: '/__proto__/polluted', value: 'yes' }]),
      422,
      'Invalid',
      'add operation does not apply: doc is missing path: "/__proto__/polluted": missing value',
    );
    rejects(
      () => applyJsonPatch(cm(), [{ op: 'replace', path: '/data/__proto__', value: 'v' }]),
      422,
      'Invalid',
      'replace operation does not apply: doc is missing key: /data/__proto__: missing value',
    );
    assertPristine();
    const out = applyJsonPatch(cm(), [
      { op: 'add', path: '/__proto__', value: { polluted: 'yes' } },
      { op: 'add', path: '/__proto__/x', value: 1 },
      { op: 'add', path: '/data/__proto__', value: 'v' },
      { op: 'replace', path: '/data/__proto__', value: 'w' },
      { op: 'test', path: '/data/__proto__', value: 'w' },
      { op: 'copy', from: '/data/__proto__', path: '/data/constructor' },
      { op: 'move', from: '/data/a', path: '/metadata/labels/__proto__' },
    ]);
    assertPristine();
    assertOwn(out, '__proto__', { polluted: 'yes', x: 1 });
    assertOwn(out.data, '__proto__', 'w');
    assertOwn(out.data, 'constructor', 'w');
    assertOwn(out.metadata?.labels, '__proto__', '1');
    rejects(
      () => applyJsonPatch(cm(), [{ op: 'test', path: '/data/__proto__', value: {} }]),
      422,
      'Invalid',
      'testing value /data/__proto__ failed: test failed',
    );
  });

  it('server-side apply: a ConfigMap data key __proto__ is applied, owned and pruned like any key', () => {
    const applied = (data: string): KubeObject =>
      wire(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"},"data":${data},"__proto__":{"polluted":"yes"}}`);
    const live = serverSideApply(undefined, applied('{"__proto__":"v","a":"1"}'), { manager: 'm', force: false, gk: CM, now: T0 });
    assertPristine();
    assertOwn(live, '__proto__', { polluted: 'yes' });
    assertOwn(live.data, '__proto__', 'v');
    const fields = (live as any).metadata.managedFields[0].fieldsV1;
    assertOwn(fields['f:data'], 'f:__proto__', {});
    // Applying again without the key prunes it (this manager owned it).
    const next = serverSideApply(live, applied('{"a":"1"}'), { manager: 'm', force: false, gk: CM, now: T1 });
    assertPristine();
    assert.equal(Object.hasOwn(next.data as object, '__proto__'), false);
    assert.deepEqual(next.data, { a: '1' });
  });

  it('managedFields sent by a client with a __proto__ path element stay own data', () => {
    const sent = [{ manager: 'x', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: wire('{"f:data":{"__proto__":{},"f:a":{}}}') }];
    const out = recordUpdate(cm(), { ...cm(), metadata: { ...cm().metadata, managedFields: sent } }, { manager: 'x', now: T0, apiVersion: 'v1' });
    assertPristine();
    assertOwn((out as any).metadata.managedFields[0].fieldsV1['f:data'], '__proto__', {});
  });
});

describe('JSON patch limits', () => {
  it('rejects more than 10,000 operations with 413, as kube does', () => {
    const op = { op: 'test', path: '/data/a', value: '1' };
    assert.deepEqual(applyJsonPatch(cm(), Array(10000).fill(op)), cm());
    rejects(
      () => applyJsonPatch(cm(), Array(10001).fill(op)),
      413,
      'RequestEntityTooLarge',
      'Request entity too large: The allowed operations in the patch (10001) exceeds the maximum (10000)',
    );
  });

  it('stops a chain of self-doubling copies at 3 MiB copied (422)', () => {
    const ops = Array.from({ length: 20 }, (_, i) => ({ op: 'copy', from: '/data', path: `/data/k${i}` }));
    const obj = { ...cm(), data: { a: 'x'.repeat(1000) } };
    rejects(
      () => applyJsonPatch(obj, ops),
      422,
      'Invalid',
      /^Unable to complete the copy, the accumulated size increase of copy is \d+, exceeding the limit 3145728$/,
    );
  });

  it('counts the JSON bytes of each copied value: exactly 3 MiB passes, one more copy fails', () => {
    const mib = 'a'.repeat(1024 * 1024 - 2); // "…" encodes to exactly 1 MiB
    const obj = { ...cm(), data: { a: mib } };
    const copy = (i: number) => ({ op: 'copy', from: '/data/a', path: `/data/c${i}` });
    const out = applyJsonPatch(obj, [copy(1), copy(2), copy(3)]);
    assert.equal(Object.keys(out.data as object).length, 4);
    rejects(
      () => applyJsonPatch(obj, [copy(1), copy(2), copy(3), copy(4)]),
      422,
      'Invalid',
      'Unable to complete the copy, the accumulated size increase of copy is 4194304, exceeding the limit 3145728',
    );
  });
});

describe('strategic merge patch on long lists', () => {
  const N = 5000;
  const names = Array.from({ length: N }, (_, i) => `example.com/f${i}`);

  it('reorders 5,000 finalizers (reversed) fast', () => {
    const obj: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', finalizers: names }, spec: { containers: [] } };
    const started = performance.now();
    const out = applyStrategicMergePatch(obj, { metadata: { finalizers: [...names].reverse() } }, POD);
    const ms = performance.now() - started;
    assert.deepEqual(out.metadata?.finalizers, [...names].reverse());
    assert.ok(ms < 2000, `took ${Math.round(ms)} ms`);
  });

  it('merges 5,000 keyed items (ownerReferences by uid, containers by name), reversed, fast', () => {
    const refs = names.map((n, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: n, uid: `uid-${i}` }));
    const containers = names.map((n, i) => ({ name: `c${i}`, image: n }));
    const obj: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ownerReferences: refs }, spec: { containers } };
    const patch = {
      metadata: { ownerReferences: [...refs].reverse().map((r) => ({ uid: r.uid, controller: false })) },
      spec: {
        '$setElementOrder/containers': [...containers].reverse().map((c) => ({ name: c.name })),
        containers: containers
          .filter((_, i) => i % 2 === 0)
          .reverse()
          .map((c) => ({ name: c.name, image: 'new' })),
      },
    };
    const started = performance.now();
    const out = applyStrategicMergePatch(obj, patch, POD);
    const ms = performance.now() - started;
    assert.deepEqual(
      out.metadata?.ownerReferences,
      [...refs].reverse().map((r) => ({ ...r, controller: false })),
    );
    assert.deepEqual(
      (out.spec as any).containers,
      [...containers].reverse().map((c, i) => ((N - 1 - i) % 2 === 0 ? { ...c, image: 'new' } : c)),
    );
    assert.ok(ms < 2000, `took ${Math.round(ms)} ms`);
  });
});

describe('strategic merge patch: top-level directives', () => {
  it('rejects $patch: delete of the whole object (400) instead of emptying it', () => {
    const message =
      'a strategic merge patch cannot delete the whole object: "$patch": "delete" is not allowed at the top level of the patch (send a DELETE request instead)';
    rejects(() => applyStrategicMergePatch(cm(), { $patch: 'delete' }, CM), 400, 'BadRequest', message);
    rejects(() => applyStrategicMergePatch(cm(), { $patch: 'delete', data: { b: '2' } }, CM), 400, 'BadRequest', message);
  });

  it('still replaces the whole object on a top-level $patch: replace', () => {
    const replacement = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data: { b: '2' } };
    assert.deepEqual(applyStrategicMergePatch(cm(), { $patch: 'replace', ...replacement }, CM), replacement);
  });
});
