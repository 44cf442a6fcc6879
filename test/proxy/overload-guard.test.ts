// The overload guard (issue 18) triggered deterministically: fixed heap readings against its
// thresholds, a real event-loop stall against a low delay threshold, and the two hooks the data
// plane calls (test/runtime/overload.test.ts runs them in a real Umbra).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverloadGuard, type OverloadReading } from '../../src/proxy/overload-guard.js';
import { waitFor } from '../helpers/servers.js';

const MiB = 1024 * 1024;

/** A reader whose heap reading the test sets. */
function fixedHeap(limit = 1000 * MiB): { read: () => OverloadReading; set: (usedMiB: number) => void } {
  let used = 0;
  return {
    read: () => ({ heapUsedBytes: used, heapLimitBytes: limit, loopDelayMs: 0 }),
    set: (mib: number) => (used = mib * MiB),
  };
}

test('heap: copies are shed first, connections refused at the higher threshold, both released below', () => {
  const heap = fixedHeap();
  const g = new OverloadGuard({ heapShedCopies: 0.85, heapRefuseConnections: 0.95, reader: heap.read });
  heap.set(500);
  let s = g.sample();
  assert.equal(s.heapPressure, 0.5);
  assert.deepEqual([s.shedCopies, s.refuseConnections], [false, false]);

  heap.set(900);
  s = g.sample();
  assert.deepEqual([s.shedCopies, s.refuseConnections], [true, false]);
  assert.deepEqual(s.causes, { shed_copies: 'heap' });

  heap.set(960);
  s = g.sample();
  assert.deepEqual([s.shedCopies, s.refuseConnections], [true, true]);
  assert.deepEqual(s.causes, { shed_copies: 'heap', refuse_connections: 'heap' });

  heap.set(100);
  s = g.sample();
  assert.deepEqual([s.shedCopies, s.refuseConnections], [false, false]);
  assert.deepEqual(s.causes, {});
  // Each action turned on once.
  assert.deepEqual(s.activations, { shed_copies: 1, refuse_connections: 1 });
});

test('heap: --overload-max-heap sets what pressure is measured against; 0 disables an action', () => {
  const heap = fixedHeap(4096 * MiB);
  const g = new OverloadGuard({
    maxHeapBytes: 100 * MiB,
    heapShedCopies: 0.5,
    heapRefuseConnections: 0,
    reader: heap.read,
  });
  heap.set(60);
  const s = g.sample();
  assert.equal(s.heapPressure, 0.6);
  assert.deepEqual([s.shedCopies, s.refuseConnections], [true, false]);
});

test('a connection threshold alone also sheds copies: copies always go before primaries', () => {
  const heap = fixedHeap();
  const g = new OverloadGuard({ heapShedCopies: 0, heapRefuseConnections: 0.5, reader: heap.read });
  heap.set(600);
  const s = g.sample();
  assert.deepEqual([s.shedCopies, s.refuseConnections], [true, true]);
  assert.deepEqual(s.causes, { shed_copies: 'heap', refuse_connections: 'heap' });
});

test('event-loop delay: a real 300 ms stall trips a 50 ms threshold (process reader)', async () => {
  const g = new OverloadGuard({
    heapShedCopies: 0,
    heapRefuseConnections: 0,
    loopDelayShedCopiesMs: 50,
    intervalMs: 20,
  }).start();
  try {
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // a stalled event loop, as a long synchronous task makes it
    }
    // The histogram records the stall when its own timer next runs: within a sample or two.
    await waitFor(() => g.activations.shed_copies > 0, 5_000, 10);
    assert.equal(g.activations.refuse_connections, 0, 'no connection threshold was set');
    assert.ok(g.snapshot().loopDelayMs >= 0);
  } finally {
    g.stop();
  }
});

test('the hooks refuse only while their action is in effect, and count what they refused', () => {
  const heap = fixedHeap();
  const g = new OverloadGuard({ heapShedCopies: 0.85, heapRefuseConnections: 0.95, reader: heap.read });
  heap.set(100);
  g.sample();
  assert.deepEqual([g.refuseCopy(), g.refuseConnection()], [false, false]);
  heap.set(900);
  g.sample();
  assert.deepEqual([g.refuseCopy(), g.refuseCopy(), g.refuseConnection()], [true, true, false]);
  heap.set(990);
  g.sample();
  assert.deepEqual([g.refuseCopy(), g.refuseConnection()], [true, true]);
  assert.deepEqual([g.copiesShed, g.connectionsRefused], [3, 1]);
  assert.deepEqual([g.snapshot().copiesShed, g.snapshot().connectionsRefused], [3, 1]);
});
