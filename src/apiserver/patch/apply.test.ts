import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../admission/types.js';
import { PatchError, recordUpdate, serverSideApply } from './index.js';

const SVC = { group: '', kind: 'Service' };
const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T11:00:00Z';
const T2 = '2024-05-01T12:00:00Z';

const service = (extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...extra },
});

const apply = (live: KubeObject | undefined, cfg: KubeObject, manager = 'kubectl', force = false, now = T1, gk = SVC) =>
  serverSideApply(live, cfg, { manager, force, gk, now });

/** What the store would hold after creating with apply at T0. */
const created = () => apply(undefined, service(), 'kubectl', false, T0);

function conflict(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PatchError);
    assert.equal(e.status, 409);
    assert.equal(e.reason, 'Conflict');
    assert.equal(e.message, message);
    return true;
  });
}

describe('serverSideApply', () => {
  it('creates: the result is the applied object with an Apply entry (managedFields of a Service with ports)', () => {
    const out = created();
    const { managedFields, ...meta } = out.metadata ?? {};
    assert.deepEqual({ ...out, metadata: meta }, service());
    assert.deepEqual(managedFields, [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:ports': { 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {}, 'f:targetPort': {} } },
            'f:selector': {},
          },
        },
      },
    ]);
  });

  it('ignores server-owned metadata in the applied configuration', () => {
    const cfg = service();
    Object.assign(cfg.metadata ?? {}, { resourceVersion: '9', uid: 'forged', generation: 7, creationTimestamp: T0, managedFields: [{ manager: 'x' }] });
    const out = apply(undefined, cfg);
    for (const k of ['resourceVersion', 'uid', 'generation', 'creationTimestamp']) assert.equal(out.metadata?.[k], undefined);
    assert.equal(out.metadata?.managedFields?.length, 1);
  });

  it('re-applying the same configuration changes nothing, not even the time', () => {
    const live = { ...created(), metadata: { ...created().metadata, uid: 'u1', resourceVersion: '5' } };
    assert.deepEqual(apply(live, service(), 'kubectl', false, T2), live);
  });

  it('removes a field the manager no longer applies', () => {
    const live = apply(created(), service({ type: 'ClusterIP', sessionAffinity: 'None' }));
    const cfg = service();
    delete cfg.metadata?.labels;
    const out = apply(live, cfg, 'kubectl', false, T2);
    assert.equal((out.spec as Record<string, unknown>).sessionAffinity, undefined);
    assert.equal((out.spec as Record<string, unknown>).type, undefined);
    assert.equal(out.metadata?.labels, undefined);
    assert.equal(out.metadata?.managedFields?.[0]?.time, T2);
  });

  it('removes a list item the manager no longer applies, keeping the others', () => {
    const two = service();
    (two.spec as { ports: unknown[] }).ports.push({ name: 'https', port: 443, targetPort: 8443 });
    const live = apply(created(), two);
    const out = apply(live, service(), 'kubectl', false, T2);
    assert.deepEqual((out.spec as { ports: unknown }).ports, [{ name: 'http', port: 80, targetPort: 8080 }]);
  });

  it('keeps a dropped field another manager also owns', () => {
    const withType = apply(created(), service({ type: 'ClusterIP' }));
    const shared = apply(withType, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'ClusterIP' } }, 'other');
    const out = apply(shared, service(), 'kubectl', false, T2);
    assert.equal((out.spec as Record<string, unknown>).type, 'ClusterIP');
  });

  it('keeps list items of other managers (granular keyed list)', () => {
    const live = apply(created(), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ name: 'metrics', port: 9090 }] } }, 'prom');
    assert.deepEqual(
      (live.spec as { ports: Array<{ port: number }> }).ports.map((p) => p.port),
      [80, 9090],
    );
    const out = apply(live, service({ type: 'ClusterIP' }), 'kubectl', false, T2);
    assert.deepEqual(
      (out.spec as { ports: Array<{ port: number }> }).ports.map((p) => p.port),
      [80, 9090],
    );
  });

  it('conflicts (409) with an Update manager that owns a changed field', () => {
    const edited = recordUpdate(
      created(),
      { ...created(), spec: { ...(created().spec as object), ports: [{ name: 'http', port: 80, targetPort: 9090 }] } },
      {
        manager: 'kubectl-client-side-apply',
        now: T1,
        apiVersion: 'v1',
      },
    );
    conflict(
      () => apply(edited, service(), 'kubectl', false, T2),
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.ports[port=80,protocol="TCP"].targetPort',
    );
  });

  it('lists several conflicts per manager, in kube phrasing, with causes', () => {
    const edited = recordUpdate(
      created(),
      { ...created(), spec: { selector: { app: 'x' }, ports: [{ name: 'web', port: 80, targetPort: 8080 }] } },
      {
        manager: 'kubectl-edit',
        now: T1,
        apiVersion: 'v1',
      },
    );
    assert.throws(
      () => apply(edited, service(), 'kubectl', false, T2),
      (e: unknown) => {
        assert.ok(e instanceof PatchError);
        assert.equal(
          e.message,
          'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using v1:\n- .spec.selector\n- .spec.ports[port=80,protocol="TCP"].name',
        );
        assert.deepEqual(
          e.causes?.map((c) => c.field),
          ['.spec.selector', '.spec.ports[port=80,protocol="TCP"].name'],
        );
        assert.equal(e.causes?.[0]?.type, 'FieldManagerConflict');
        return true;
      },
    );
  });

  it('conflicts with another applier without "using"', () => {
    const other = apply(created(), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort' } }, 'ci');
    conflict(() => apply(other, service({ type: 'ClusterIP' }), 'kubectl', false, T2), 'Apply failed with 1 conflict: conflict with "ci": .spec.type');
  });

  it('applying the value another manager set shares ownership without conflict', () => {
    const other = apply(created(), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort' } }, 'ci');
    const out = apply(other, service({ type: 'NodePort' }), 'kubectl', false, T2);
    const owners = out.metadata?.managedFields?.filter((m) => JSON.stringify(m.fieldsV1).includes('f:type')).map((m) => m.manager);
    assert.deepEqual(owners, ['kubectl', 'ci']);
  });

  it('force takes ownership from the other manager', () => {
    const edited = recordUpdate(
      created(),
      { ...created(), spec: { ...(created().spec as object), ports: [{ name: 'http', port: 80, targetPort: 9090 }] } },
      {
        manager: 'kubectl-edit',
        now: T1,
        apiVersion: 'v1',
      },
    );
    const out = apply(edited, service(), 'kubectl', true, T2);
    assert.deepEqual((out.spec as { ports: unknown }).ports, [{ name: 'http', port: 80, targetPort: 8080 }]);
    assert.deepEqual(
      out.metadata?.managedFields?.map((m) => m.manager),
      ['kubectl'],
      'the editor owned only targetPort and lost it',
    );
    assert.equal(out.metadata?.managedFields?.[0]?.time, T2);
  });

  it('gives an unmanaged live object to before-first-apply', () => {
    const live = service({ type: 'ClusterIP' });
    const out = apply(live, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'ClusterIP' } });
    assert.deepEqual(
      out.metadata?.managedFields?.map((m) => [m.manager, m.operation]),
      [
        ['kubectl', 'Apply'],
        ['before-first-apply', 'Update'],
      ],
    );
    conflict(
      () => apply(out, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort' } }),
      'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .spec.type',
    );
  });

  it('treats custom resource lists as atomic, finalizers as a set', () => {
    const gk = { group: 'kubevirt.io', kind: 'VirtualMachine' };
    const vm = (disks: unknown[]): KubeObject => ({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'vm', finalizers: ['kubevirt.io/x'] },
      spec: { running: true, template: { spec: { domain: { devices: { disks } } } } },
    });
    const first = apply(undefined, vm([{ name: 'a' }, { name: 'b' }]), 'kubectl', false, T0, gk);
    assert.deepEqual(first.metadata?.managedFields?.[0]?.fieldsV1, {
      'f:metadata': { 'f:finalizers': { 'v:"kubevirt.io/x"': {} } },
      'f:spec': { 'f:running': {}, 'f:template': { 'f:spec': { 'f:domain': { 'f:devices': { 'f:disks': {} } } } } },
    });
    const out = apply(first, vm([{ name: 'c' }]), 'kubectl', false, T1, gk);
    assert.deepEqual((out.spec as any).template.spec.domain.devices.disks, [{ name: 'c' }]);
  });

  it('keeps a separate Apply entry per subresource: applying /status neither takes nor prunes the spec', () => {
    const main = created();
    const statusCfg = (ingress: unknown[]): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      status: { loadBalancer: { ingress } },
    });
    const applyStatus = (live: KubeObject, cfg: KubeObject, now: string) =>
      serverSideApply(live, cfg, { manager: 'kubectl', force: false, gk: SVC, now, subresource: 'status' });
    const withStatus = applyStatus(main, statusCfg([{ ip: '10.0.0.1' }]), T1);
    assert.deepEqual(withStatus.spec, service().spec);
    assert.deepEqual(withStatus.metadata?.labels, { app: 'web' });
    assert.deepEqual(withStatus.status, { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } });
    const statusEntry = {
      manager: 'kubectl',
      operation: 'Apply',
      apiVersion: 'v1',
      time: T1,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } },
      subresource: 'status',
    };
    assert.deepEqual(withStatus.metadata?.managedFields, [...(main.metadata?.managedFields ?? []), statusEntry]);

    // Re-applying the main resource without status leaves the status and its entry alone.
    const cfg = service();
    delete cfg.metadata?.labels;
    const reapplied = apply(withStatus, cfg, 'kubectl', false, T2);
    assert.deepEqual(reapplied.status, withStatus.status);
    assert.equal(reapplied.metadata?.labels, undefined);
    // (entries sort by time: the status entry, from T1, now comes first)
    assert.deepEqual(reapplied.metadata?.managedFields?.[0], statusEntry);
    const mainFields = main.metadata?.managedFields?.[0]?.fieldsV1 as Record<string, unknown>;
    assert.deepEqual(reapplied.metadata?.managedFields?.[1]?.fieldsV1, { 'f:spec': mainFields['f:spec'] });
    assert.equal(reapplied.metadata?.managedFields?.length, 2);

    // Re-applying /status only prunes what was applied to /status.
    const cleared = applyStatus(withStatus, statusCfg([{ ip: '10.0.0.2' }]), T2);
    assert.deepEqual(cleared.spec, service().spec);
    assert.deepEqual(cleared.status, { loadBalancer: { ingress: [{ ip: '10.0.0.2' }] } });
    assert.deepEqual(cleared.metadata?.managedFields?.[0], main.metadata?.managedFields?.[0]);
  });

  it('does not mutate its inputs', () => {
    const live = created();
    const cfg = service({ type: 'ClusterIP' });
    const liveCopy = structuredClone(live);
    const cfgCopy = structuredClone(cfg);
    apply(live, cfg);
    assert.deepEqual(live, liveCopy);
    assert.deepEqual(cfg, cfgCopy);
  });

  it('rejects an associative list item without its key', () => {
    assert.throws(
      () => apply(undefined, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ name: 'http' }] } }),
      (e: unknown) =>
        e instanceof PatchError &&
        e.message === '.spec.ports: element 0: associative list with keys has an element that omits key field "port" (and doesn\'t have default value)',
    );
  });
});
