// The overload guard wired into a real Umbra (issue 18), triggered deterministically — by thresholds
// set below what any process uses, or by heap readings the test controls: copies are shed before
// anything else, then new connections are refused while open ones and the admin API keep being
// served; the metrics say which action is in effect and count what was refused; the command line's
// thresholds are validated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, request } from 'undici';
import { overloadFlags, type RunFlags } from '../../src/cli/run-command.js';
import { DEFAULT_OVERLOAD, type OverloadReading } from '../../src/proxy/overload-guard.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
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

test('copies shed first, then new connections refused; open connections keep their primaries (controlled heap)', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const MiB = 1024 * 1024;
  let heapMiB = 100;
  const reader = (): OverloadReading => ({
    heapUsedBytes: heapMiB * MiB,
    heapLimitBytes: 1000 * MiB,
    loopDelayMs: 0,
  });
  const u = await startTestUmbra(
    { 'mesh.yaml': twoVersionService(v1.port, v2.port), 'vs.yaml': routeToV1(MIRROR_V2) },
    // The timer stays out of the way (1 h): the test takes each sample itself.
    { overload: { reader, intervalMs: 3_600_000 } },
  );
  const open = new Client(u.proxyUrl, { pipelining: 1, keepAliveTimeout: 60_000 });
  const get = async (c: Client | string) => {
    const r =
      typeof c === 'string'
        ? await request(`${c}/get`, { headers: { host: 'app:8000' }, reset: true })
        : await c.request({ method: 'GET', path: '/get', headers: { host: 'app:8000' } });
    await r.body.text();
    return r.statusCode;
  };
  const mirror = { mirror: 'app.default|v2' };
  try {
    u.overload.sample();
    assert.equal(await get(open), 200);
    await waitFor(() => v2.requests.length === 1, 5_000);

    heapMiB = 900; // ≥ 0.85: shed copies
    u.overload.sample();
    assert.equal(await get(open), 200, 'the primary is served');
    assert.equal(await get(u.proxyUrl), 200, 'new connections are still accepted');
    assert.equal(v1.requests.length, 3);
    let m = await scrape(u.adminUrl);
    assert.equal(sumOf(m.samples, 'umbra_overload_shed_copies_total'), 2);
    assert.equal(sumOf(m.samples, 'umbra_mirror_dropped_total', { ...mirror, reason: 'in_flight_cap' }), 2);
    assert.equal(v2.requests.length, 1, 'no copy was sent');

    heapMiB = 990; // ≥ 0.95: refuse new connections too
    u.overload.sample();
    await assert.rejects(get(u.proxyUrl), 'a new connection is closed unanswered');
    assert.equal(await get(open), 200, 'the connection opened before is still served');
    m = await scrape(u.adminUrl);
    assert.equal(sumOf(m.samples, 'umbra_overload_refused_connections_total'), 1);
    assert.equal(sumOf(m.samples, 'umbra_overload_action_active', { action: 'refuse_connections' }), 1);
    assert.equal(sumOf(m.samples, 'umbra_overload_heap_pressure'), 0.99);

    heapMiB = 100;
    u.overload.sample();
    assert.equal(await get(u.proxyUrl), 200);
    await waitFor(() => v2.requests.length === 2, 5_000);
    m = await scrape(u.adminUrl);
    assert.equal(sumOf(m.samples, 'umbra_overload_action_active', { action: 'shed_copies' }), 0);
    assert.equal(sumOf(m.samples, 'umbra_overload_activations_total', { action: 'shed_copies' }), 1);
    assert.equal(sumOf(m.samples, 'umbra_overload_activations_total', { action: 'refuse_connections' }), 1);
  } finally {
    await open.close();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
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
