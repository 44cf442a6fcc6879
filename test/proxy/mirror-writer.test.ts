// The shadow writer on its own, against real sockets: how a copy's headers are built, a half-open
// breaker whose probe ends without a verdict (so it must not stay wedged open), and counters that
// only ever grow (a copy abandoned mid-body is a drop, never a `sent` taken back).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { loadText } from '../../src/config/load.js';
import type { MirrorPolicy, RouteTable } from '../../src/model/route-table.js';
import { MirrorOverflowError } from '../../src/proxy/body-tee.js';
import {
  copyHeaders,
  MIRROR_MARKER,
  MirrorWriter,
  type MirrorPairing,
  type MirrorRequest,
} from '../../src/proxy/mirror.js';
import { Upstreams } from '../../src/proxy/upstreams.js';
import { buildRouteTable, DEFAULT_BUILD } from '../../src/translate/build-table.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { mirrorPolicy } from '../helpers/mirror-safety.js';
import { startHungServer, waitFor } from '../helpers/servers.js';

/** The table and the route's mirror policy, translated from YAML like a real load. */
function compile(v2Port: number, policy: string): { table: RouteTable; mirror: MirrorPolicy } {
  const files = [twoVersionService(9, v2Port), routeToV1(MIRROR_V2), mirrorPolicy(policy)].map((y, i) =>
    loadText(y, `f${i}.yaml`),
  );
  assert.deepEqual(
    files.flatMap((f) => f.issues),
    [],
  );
  const { table, issues } = buildRouteTable(
    files.flatMap((f) => f.resources),
    DEFAULT_BUILD,
  );
  assert.deepEqual(
    issues.filter((i) => i.severity === 'error'),
    [],
  );
  const route = table.hostIndex.get('app:8000')!.routes[0];
  assert.equal(route.action.kind, 'forward');
  return { table, mirror: route.action.kind === 'forward' ? route.action.mirrors[0] : (undefined as never) };
}

const REQ: MirrorRequest = {
  method: 'POST',
  path: '/p',
  headers: ['host', 'app:8000', 'content-type', 'text/plain'],
  authority: 'app:8000',
  requestId: 'r-1',
  headersIn: {},
};

test('copy headers: the policy changes apply, the marker comes last and cannot be removed or forged', () => {
  const { mirror } = compile(
    9,
    `headers:
  remove: [authorization, x-umbra-mirror]
  set: [{name: x-env, value: shadow}, {name: host, value: evil}]
  add: [{name: x-tag, value: a}]`,
  );
  const primary = [
    'host',
    'app:8000',
    'authorization',
    'Bearer t',
    'x-umbra-mirror',
    'forged',
    'x-env',
    'prod',
    'accept',
    '*/*',
  ];
  const before = [...primary];
  const out = copyHeaders(primary, 'app-shadow:8000', mirror);
  assert.deepEqual(primary, before, "the primary's list is not modified");
  assert.deepEqual(out, [
    'accept',
    '*/*',
    'host',
    'app-shadow:8000',
    'x-env',
    'shadow',
    'x-tag',
    'a',
    MIRROR_MARKER,
    'app.default|v2',
  ]);
});

test('a half-open probe abandoned mid-body does not leave the breaker open for good', async () => {
  const hung = await startHungServer();
  const upstreams = new Upstreams();
  const writer = new MirrorWriter(upstreams);
  try {
    const { table, mirror } = compile(
      hung.port,
      'timeout: 50ms\nbreaker:\n  consecutiveFailures: 1\n  cooldown: 50ms',
    );
    const c = writer.countersFor(mirror.name);
    const pairing = (): MirrorPairing => ({ counters: c });

    // One timeout opens the breaker.
    assert.equal(writer.admit(mirror, 'GET', false, {}), true);
    writer.send(table, mirror, { ...REQ, method: 'GET' }, null, pairing());
    await waitFor(() => c.failed.timeout === 1, 2000);
    assert.equal(writer.breakerState(mirror.name), 'open');
    assert.equal(writer.admit(mirror, 'GET', false, {}), false);
    assert.equal(c.dropped.breaker, 1);

    // After the cool-down one probe is let through; it is abandoned mid-body (fell behind) at
    // once, in the same turn — before its 50 ms timeout could end it first on a busy machine.
    await waitFor(() => writer.breakerState(mirror.name) === 'half-open', 2000);
    assert.equal(writer.admit(mirror, 'POST', false, {}), true);
    assert.equal(writer.admit(mirror, 'POST', false, {}), false, 'only one probe at a time');
    const body = new PassThrough();
    writer.send(table, mirror, REQ, body, pairing());
    body.write('part of a body');
    body.destroy(new MirrorOverflowError('body_limit'));
    await waitFor(() => c.dropped.body_limit === 1, 2000);

    // No verdict on the mirror's health: the next request may probe again.
    assert.equal(writer.admit(mirror, 'GET', false, {}), true);
    const sentBefore = c.sent;
    writer.send(table, mirror, { ...REQ, method: 'GET' }, null, pairing());
    await waitFor(() => c.inFlight === 0, 2000);
    assert.equal(c.sent, sentBefore + 1);
    // Counters only grew: the abandoned copy is a drop and was never counted as sent.
    assert.deepEqual(
      {
        sent: c.sent,
        timeout: c.failed.timeout,
        bodyLimit: c.dropped.body_limit,
        breaker: c.dropped.breaker,
      },
      { sent: 2, timeout: 2, bodyLimit: 1, breaker: 2 },
    );
    assert.equal(c.considered, 5);
    assert.equal(c.sent + c.dropped.body_limit + c.dropped.breaker, c.considered);
  } finally {
    await upstreams.close();
    await hung.close();
  }
});
