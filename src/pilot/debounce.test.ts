import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Debouncer } from './debounce.js';

describe('push debounce', () => {
  // Every debouncer made here is stopped after its test, passed or failed: no timer outlives it.
  const made: Debouncer[] = [];
  const debouncer = (opts: ConstructorParameters<typeof Debouncer>[0]) => {
    const d = new Debouncer(opts);
    made.push(d);
    return d;
  };
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => {
    for (const d of made.splice(0)) d.stop();
    mock.timers.reset();
  });

  const recorder = () => {
    const flushes: string[][] = [];
    return { flushes, flush: (r: Set<string>) => void flushes.push([...r].sort()) };
  };

  it('coalesces a burst into one flush after the quiet period', () => {
    const r = recorder();
    const d = debouncer({ quietMs: 100, maxMs: 10_000, flush: r.flush });
    for (let i = 0; i < 50; i++) {
      d.add(i % 2 ? 'EndpointSlice' : 'Pod');
      mock.timers.tick(10);
    }
    assert.deepEqual(r.flushes, []);
    mock.timers.tick(100);
    assert.deepEqual(r.flushes, [['EndpointSlice', 'Pod']]);
    mock.timers.tick(1000);
    assert.equal(r.flushes.length, 1);
  });

  it('flushes at the latest after maxMs while changes keep coming', async () => {
    const r = recorder();
    const d = debouncer({ quietMs: 100, maxMs: 1000, flush: r.flush });
    for (let t = 0; t < 2500; t += 50) {
      d.add('Service');
      mock.timers.tick(50);
      await new Promise((resolve) => setImmediate(resolve)); // a flush ends on a later turn, as in the running server
    }
    assert.equal(r.flushes.length, 2);
  });

  it('does not overlap a flush still running; what came meanwhile is the next flush', async () => {
    let release: () => void = () => {};
    const flushes: string[][] = [];
    const d = debouncer({
      quietMs: 100,
      maxMs: 10_000,
      flush: (reasons) => {
        flushes.push([...reasons]);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    d.add('Service');
    mock.timers.tick(100);
    assert.equal(flushes.length, 1);
    d.add('Pod');
    mock.timers.tick(500);
    assert.equal(flushes.length, 1);
    release();
    await new Promise((r) => setImmediate(r));
    mock.timers.tick(100);
    assert.deepEqual(flushes, [['Service'], ['Pod']]);
  });

  it('does nothing after stop', () => {
    const r = recorder();
    const d = debouncer({ quietMs: 100, maxMs: 1000, flush: r.flush });
    d.add('Service');
    d.stop();
    d.add('Pod');
    mock.timers.tick(5000);
    assert.deepEqual(r.flushes, []);
  });
});
