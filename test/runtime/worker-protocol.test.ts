// The plain data that crosses the primary–worker channel: counters summed field by field (new
// counters included), breakers reduced to the worst state, resources that survive structured clone
// and compile to the same table in a worker.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { buildRouteTable, DEFAULT_BUILD } from '../../src/translate/build-table.js';
import { newMirrorCounters } from '../../src/model/mirror-stats.js';
import {
  addCounters,
  fromPlain,
  plainResource,
  primaryRequests,
  worstBreaker,
} from '../../src/runtime/worker-protocol.js';
import { twoVersionService, routeToV1, MIRROR_V2 } from '../helpers/mesh-yaml.js';

test('addCounters sums numbers, nested records and histogram buckets of two workers', () => {
  const a = newMirrorCounters();
  const b = newMirrorCounters();
  a.sent = 3;
  a.dropped.in_flight_cap = 2;
  a.completed['2xx'] = 3;
  a.latencyBuckets[1] = 3;
  b.sent = 4;
  b.dropped.breaker = 1;
  b.completed['5xx'] = 1;
  b.pairs['2xx'] = { '5xx': 1 };
  b.latencyBuckets[1] = 1;
  b.latencyBuckets[4] = 2;
  const sum: Record<string, unknown> = {};
  addCounters(sum, a);
  addCounters(sum, b);
  const s = sum as unknown as ReturnType<typeof newMirrorCounters>;
  assert.equal(s.sent, 7);
  assert.deepEqual(s.dropped, { ...newMirrorCounters().dropped, in_flight_cap: 2, breaker: 1 });
  assert.deepEqual(s.completed, { '2xx': 3, '5xx': 1 });
  assert.deepEqual(s.pairs, { '2xx': { '5xx': 1 } });
  assert.equal(s.latencyBuckets[1], 4);
  assert.equal(s.latencyBuckets[4], 2);
  assert.equal(s.latencyBuckets.length, a.latencyBuckets.length);
});

test('the breaker shown for several workers is the worst of theirs', () => {
  assert.equal(worstBreaker(undefined, 'closed'), 'closed');
  assert.equal(worstBreaker('closed', 'half-open'), 'half-open');
  assert.equal(worstBreaker('open', 'half-open'), 'open');
  assert.equal(worstBreaker('half-open', 'open'), 'open');
});

test('primaryRequests counts answered primaries, not copies', () => {
  const metrics = [
    {
      name: 'istio_requests_total',
      help: '',
      type: 'counter',
      aggregator: 'sum',
      values: [
        { value: 5, labels: { mirror: 'false' } },
        { value: 3, labels: { mirror: 'true' } },
        { value: 2, labels: { mirror: 'false', response_code: '503' } },
      ],
    },
    {
      name: 'umbra_mirror_sent_total',
      help: '',
      type: 'counter',
      aggregator: 'sum',
      values: [{ value: 9, labels: {} }],
    },
  ] as unknown as Parameters<typeof primaryRequests>[0];
  assert.equal(primaryRequests(metrics), 7);
  assert.equal(primaryRequests(undefined), 0);
});

test('resources survive structured clone and compile to the same routes in a worker', () => {
  const { resources, issues } = loadText(
    `${twoVersionService(18081, 18082)}---\n${routeToV1(MIRROR_V2)}`,
    'mesh.yaml',
  );
  assert.deepEqual(issues, []);
  const wire = structuredClone(resources.map(plainResource));
  const options = { ...DEFAULT_BUILD, version: 7 };
  const here = buildRouteTable(resources, options).table;
  const there = buildRouteTable(wire.map(fromPlain), structuredClone(options)).table;
  assert.equal(there.version, 7);
  assert.deepEqual([...there.hostIndex.keys()], [...here.hostIndex.keys()]);
  assert.deepEqual([...there.clusters.keys()], [...here.clusters.keys()]);
  const routes = (t: typeof here) =>
    [...t.hostIndex.values()].flatMap((v) => v.routes.map((r) => JSON.stringify(r.action)));
  assert.deepEqual(routes(there), routes(here));
  assert.equal(fromPlain(wire[0]).source.lineOf('spec'), undefined);
});
