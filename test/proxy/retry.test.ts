// Retry decisions (Envoy's retryOn conditions as Istio passes them), the jittered back-off, and the
// replay buffer that lets a body be sent again only while all of it is still held.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parseRetryOn } from '../../src/model/retry-on.js';
import type { RetryPolicy } from '../../src/model/route-table.js';
import { backoffMs, ReplayableBody, retryOnFailure, retryOnResponse } from '../../src/proxy/retry.js';
import { collect } from '../helpers/servers.js';

function policy(retryOn: string, codes?: number[]): RetryPolicy {
  const p = parseRetryOn(retryOn);
  return {
    attempts: 2,
    perTryTimeoutMs: 0,
    retryOn: p.names,
    conditions: p.conditions,
    retriableStatusCodes: codes ?? p.codes,
    backoffBaseMs: 25,
    ignorePreviousHosts: true,
  };
}

test('response conditions: 5xx, gateway-error, retriable-4xx, status codes, headers, gRPC; never an overloaded answer', () => {
  const none = {};
  assert.ok(retryOnResponse(policy('5xx'), 500, none, {}));
  assert.ok(!retryOnResponse(policy('5xx'), 404, none, {}));
  assert.ok(retryOnResponse(policy('gateway-error'), 504, none, {}));
  assert.ok(!retryOnResponse(policy('gateway-error'), 500, none, {}));
  assert.ok(retryOnResponse(policy('retriable-4xx'), 409, none, {}));
  assert.ok(retryOnResponse(policy('429,retriable-status-codes'), 429, none, {}));
  assert.ok(retryOnResponse(policy('418'), 418, none, {}), 'a bare code turns retriable-status-codes on');
  assert.ok(!retryOnResponse(policy('connect-failure'), 503, none, {}));
  assert.ok(
    retryOnResponse(
      policy('retriable-headers'),
      200,
      { 'x-retry-me': '1' },
      { 'x-envoy-retriable-header-names': 'X-Retry-Me, other' },
    ),
  );
  assert.ok(retryOnResponse(policy('unavailable'), 200, { 'grpc-status': '14' }, {}));
  assert.ok(!retryOnResponse(policy('unavailable'), 200, { 'grpc-status': '13' }, {}));
  assert.ok(!retryOnResponse(policy('5xx'), 503, { 'x-envoy-overloaded': 'true' }, {}));
  assert.ok(!retryOnResponse(policy('5xx'), 503, { 'x-envoy-ratelimited': 'true' }, {}));
  assert.ok(retryOnResponse(policy('envoy-ratelimited'), 429, { 'x-envoy-ratelimited': 'true' }, {}));
});

test('failure conditions: resets and per-try timeouts under 5xx, gateway-error, reset; connect failures under those and connect-failure', () => {
  assert.ok(retryOnFailure(policy('5xx'), 'reset'));
  assert.ok(retryOnFailure(policy('reset'), 'per-try-timeout'));
  assert.ok(!retryOnFailure(policy('connect-failure'), 'reset'));
  assert.ok(retryOnFailure(policy('connect-failure'), 'connect-failure'));
  assert.ok(retryOnFailure(policy('reset-before-request'), 'connect-failure'));
  assert.ok(!retryOnFailure(policy('retriable-4xx,refused-stream'), 'connect-failure'));
});

test('back-off is fully jittered: below base × (2ⁿ − 1), capped at 10 × base', () => {
  const p = policy('5xx');
  assert.equal(
    backoffMs(p, 1, () => 0.999),
    24,
  );
  assert.equal(
    backoffMs(p, 2, () => 0.999),
    74,
  );
  assert.equal(
    backoffMs(p, 8, () => 0.999),
    249,
  );
  assert.equal(
    backoffMs(p, 3, () => 0),
    0,
  );
});

test('a replayed body is whole on every attempt; past the limit it is no longer replayable', async () => {
  const src = new PassThrough();
  const body = new ReplayableBody(src, 10);
  const first = body.attempt();
  src.write('hello ');
  await new Promise((ok) => setImmediate(ok));
  body.hold();
  const second = body.attempt();
  src.end('you');
  assert.equal((await collect(second)).toString(), 'hello you');
  assert.ok(body.replayable);
  assert.ok(first.destroyed, 'the abandoned attempt stream is closed');

  const big = new PassThrough();
  const b2 = new ReplayableBody(big, 4);
  const only = b2.attempt();
  big.end('0123456789');
  assert.equal((await collect(only)).toString(), '0123456789', 'the first attempt still gets everything');
  assert.equal(b2.replayable, false);
});
