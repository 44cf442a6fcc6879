// The copy marker's proof is HMAC-SHA256 (RFC 2104) of the current minute window under the run's
// secret: computed once per window, accepted in its own window and the two beside it, never with
// another secret, and never without the marker.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { MIRROR_MARKER, MIRROR_PROOF, MirrorMarker, PROOF_WINDOW_MS } from '../../src/proxy/mirror-marker.js';

test('the proof is HMAC-SHA256 of the window number, for short, block-sized and long secrets', () => {
  const at = 1_765_000_000_000;
  for (const secret of ['s', 'k'.repeat(64), 'long-secret-'.repeat(10)]) {
    const m = new MirrorMarker(secret, () => at);
    const window = String(Math.floor(at / PROOF_WINDOW_MS));
    assert.equal(m.proof(), createHmac('sha256', secret).update(window).digest('base64url'), secret);
  }
});

test('a proof is accepted in its window and the ones beside it, then no more', () => {
  let now = 1_765_000_000_000;
  const maker = new MirrorMarker('run-secret', () => now);
  const proof = maker.proof();
  const headers = { [MIRROR_MARKER]: 'app-v2', [MIRROR_PROOF]: proof };
  let clock = now;
  const checker = new MirrorMarker('run-secret', () => clock);
  assert.equal(checker.isCopy(headers), true, 'same window');
  clock = now + PROOF_WINDOW_MS;
  assert.equal(checker.isCopy(headers), true, 'the next window (a copy crossing the boundary)');
  clock = now - PROOF_WINDOW_MS;
  assert.equal(checker.isCopy(headers), true, 'the previous window (a clock a little ahead)');
  clock = now + 2 * PROOF_WINDOW_MS;
  assert.equal(checker.isCopy(headers), false, 'two windows later: a leaked proof has expired');
  // The maker moves on with its clock: a new window, a new proof.
  now += 2 * PROOF_WINDOW_MS;
  assert.notEqual(maker.proof(), proof);
  assert.equal(checker.isCopy({ ...headers, [MIRROR_PROOF]: maker.proof() }), true);
});

test('never with another secret, a cut proof, or without the marker', () => {
  const m = new MirrorMarker('run-secret');
  const proof = m.proof();
  const headers = { [MIRROR_MARKER]: 'app-v2', [MIRROR_PROOF]: proof };
  assert.equal(m.isCopy(headers), true);
  assert.equal(new MirrorMarker('other-secret').isCopy(headers), false);
  assert.equal(m.isCopy({ ...headers, [MIRROR_PROOF]: proof.slice(1) }), false);
  assert.equal(m.isCopy({ [MIRROR_PROOF]: proof }), false, 'no marker, no copy');
});
