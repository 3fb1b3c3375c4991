import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useCluster } from '../../test/helpers/cluster.js';
import { eventually } from '../../test/helpers/eventually.js';
import { type KubeObject, resourcePath } from '../client/index.js';
import { createEventRecorder, type RecordEvent } from './events.js';

describe('event recorder', () => {
  let record: RecordEvent;
  const logs: string[] = [];
  const cluster = useCluster();
  const c = () => cluster.client;

  before(() => {
    record = createEventRecorder(c(), { component: 'virt-controller', host: 'node-a' }, (l) => logs.push(l));
  });

  const configMap = (name: string) =>
    c().create(resourcePath({ version: 'v1', plural: 'configmaps', namespace: 'default' }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });
  const eventsAbout = async (name: string) =>
    (await c().list(resourcePath({ version: 'v1', plural: 'events', namespace: 'default' }))).items.filter(
      (e) => (e.involvedObject as { name?: string }).name === name,
    );

  it('writes an Event like client-go and aggregates a repeat into count 2', async () => {
    const cm = await configMap('subject');
    record(cm, 'Normal', 'Created', 'created the thing');
    record(cm, 'Normal', 'Created', 'created the thing');
    const [event] = await eventually('one event with count 2', async () => {
      const evs = await eventsAbout('subject');
      return evs.length === 1 && evs[0].count === 2 && evs;
    });
    assert.match(event.metadata?.name ?? '', /^subject\.[0-9a-f]{16}$/);
    assert.equal(event.metadata?.namespace, 'default');
    assert.deepEqual(event.involvedObject, {
      kind: 'ConfigMap',
      namespace: 'default',
      name: 'subject',
      uid: cm.metadata?.uid,
      apiVersion: 'v1',
      resourceVersion: cm.metadata?.resourceVersion,
    });
    assert.equal(event.type, 'Normal');
    assert.equal(event.reason, 'Created');
    assert.equal(event.message, 'created the thing');
    assert.deepEqual(event.source, { component: 'virt-controller', host: 'node-a' });
    assert.equal(event.reportingComponent, 'virt-controller');
    assert.match(String(event.firstTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(String(event.lastTimestamp) >= String(event.firstTimestamp));

    record(cm, 'Normal', 'Created', 'created the thing');
    await eventually('count 3 on the same event', async () => {
      const evs = await eventsAbout('subject');
      return evs.length === 1 && evs[0].count === 3;
    });
  });

  it('keeps different messages and types apart', async () => {
    const cm = await configMap('other');
    record(cm, 'Normal', 'Synced', 'one');
    record(cm, 'Normal', 'Synced', 'two');
    record(cm, 'Warning', 'Synced', 'one');
    const evs = await eventually('three events', async () => {
      const e = await eventsAbout('other');
      return e.length === 3 && e;
    });
    assert.deepEqual(evs.map((e) => [e.type, e.message, e.count]).sort(), [
      ['Normal', 'one', 1],
      ['Normal', 'two', 1],
      ['Warning', 'one', 1],
    ]);
  });

  it('writes again after the aggregated Event was deleted', async () => {
    const cm = await configMap('removed');
    record(cm, 'Normal', 'Started', 'go');
    const [first] = await eventually('the event', async () => {
      const e = await eventsAbout('removed');
      return e.length === 1 && e;
    });
    await c().delete(resourcePath({ version: 'v1', plural: 'events', namespace: 'default', name: first.metadata?.name }));
    record(cm, 'Normal', 'Started', 'go');
    const [again] = await eventually('the event back with count 2', async () => {
      const e = await eventsAbout('removed');
      return e.length === 1 && e[0].count === 2 && e;
    });
    assert.equal(again.metadata?.name, first.metadata?.name);
  });

  it('never throws, and logs what it could not write', async () => {
    const nowhere: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'no-such-namespace', uid: 'u' } };
    assert.doesNotThrow(() => record(nowhere, 'Warning', 'Failed', 'no namespace'));
    assert.doesNotThrow(() => record({ kind: 'ConfigMap' } as KubeObject, 'Normal', 'Nameless', 'no name'));
    await eventually('both failures logged', async () => logs.some((l) => l.includes('no-such-namespace')) && logs.some((l) => l.includes('Nameless')));
  });
});
