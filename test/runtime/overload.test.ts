// The overload guard wired into a real Umbra (issue 18), triggered deterministically by thresholds
// set below what any process uses: the listener refuses new connections while the admin API keeps
// answering, the metrics say which action is in effect and count the refusals, and the command
// line's thresholds are validated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { overloadFlags, type RunFlags } from '../../src/cli/run-command.js';
import { DEFAULT_OVERLOAD } from '../../src/proxy/overload-guard.js';
import { routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { scrape, sumOf } from '../helpers/mirror-safety.js';
import { startEchoServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';

test('heap above the connection threshold: new connections refused, admin still answers, metrics say so', async () => {
  const v1 = await startEchoServer();
  const u = await startTestUmbra(
    { 'mesh.yaml': twoVersionService(v1.port, 9), 'vs.yaml': routeToV1() },
    // Thresholds of a few bytes of V8's heap limit: any heap in use is above them, from the first sample.
    { overload: { heapShedCopies: 1e-9, heapRefuseConnections: 1e-9, intervalMs: 20 } },
  );
  try {
    await waitFor(() => u.overload.refuseConnections, 5_000);
    assert.equal(u.overload.shedCopies, true, 'copies are shed whenever connections are refused');
    await assert.rejects(
      request(`${u.proxyUrl}/get`, { headers: { host: 'app:8000' } }),
      'a new connection is closed unanswered',
    );
    assert.equal(v1.requests.length, 0, 'nothing reached v1');
    const { samples } = await scrape(u.adminUrl);
    assert.equal(sumOf(samples, 'umbra_overload_action_active', { action: 'refuse_connections' }), 1);
    assert.equal(sumOf(samples, 'umbra_overload_action_active', { action: 'shed_copies' }), 1);
    assert.ok(sumOf(samples, 'umbra_overload_refused_connections_total', {}) >= 1);
    assert.ok(sumOf(samples, 'umbra_overload_activations_total', { action: 'refuse_connections' }) >= 1);
    assert.ok(sumOf(samples, 'umbra_overload_heap_pressure', {}) > 0);
  } finally {
    await u.close();
    await v1.close();
  }
});

test('default thresholds: a process far from its heap limit serves and sheds nothing', async () => {
  const v1 = await startEchoServer();
  const u = await startTestUmbra({ 'mesh.yaml': twoVersionService(v1.port, 9), 'vs.yaml': routeToV1() });
  try {
    assert.equal(u.overload.options.heapShedCopies, DEFAULT_OVERLOAD.heapShedCopies);
    u.overload.sample();
    const r = await request(`${u.proxyUrl}/get`, { headers: { host: 'app:8000' } });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    assert.deepEqual([u.overload.shedCopies, u.overload.refuseConnections], [false, false]);
    const { samples } = await scrape(u.adminUrl);
    assert.equal(sumOf(samples, 'umbra_overload_action_active', { action: 'refuse_connections' }), 0);
    assert.equal(sumOf(samples, 'umbra_overload_refused_connections_total', {}), 0);
  } finally {
    await u.close();
    await v1.close();
  }
});

test('command line: thresholds are fractions and milliseconds, refused otherwise with the flag named', () => {
  const flags = (o: Partial<RunFlags>) => ({ ...o }) as RunFlags;
  const o = overloadFlags(
    flags({
      overloadMaxHeap: '256',
      overloadHeapShedCopies: '0.7',
      overloadHeapRefuseConnections: '0.9',
      overloadLoopDelayShedCopies: '200',
      overloadLoopDelayRefuseConnections: '1000',
    }),
  );
  assert.equal(o.maxHeapBytes, 256 * 1024 * 1024);
  assert.deepEqual(
    [o.heapShedCopies, o.heapRefuseConnections, o.loopDelayShedCopiesMs, o.loopDelayRefuseConnectionsMs],
    [0.7, 0.9, 200, 1000],
  );
  assert.deepEqual(overloadFlags(flags({})), DEFAULT_OVERLOAD);
  assert.throws(
    () => overloadFlags(flags({ overloadHeapShedCopies: '85' })),
    /--overload-heap-shed-copies: "85"/,
  );
  assert.throws(
    () => overloadFlags(flags({ overloadLoopDelayRefuseConnections: '-1' })),
    /--overload-loop-delay-refuse-connections/,
  );
});
