// The copy marker's proof is HMAC-SHA256 (RFC 2104) of the request id under the run's secret, built
// from one-shot hashes for speed: it must equal node's own HMAC, for short and long secrets, and
// a proof must be accepted only with the request id it was made for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { MIRROR_MARKER, MIRROR_PROOF, MirrorMarker } from '../../src/proxy/mirror-marker.js';

test('the proof equals createHmac for short, block-sized and long secrets', () => {
  for (const secret of ['s', 'k'.repeat(64), 'long-secret-'.repeat(10)]) {
    const m = new MirrorMarker(secret);
    for (const id of ['a1b2c3', '0f8fad5b-d9cb-469f-a165-70867728950e', ''])
      assert.equal(
        m.proof(id),
        createHmac('sha256', secret).update(id).digest('base64url'),
        `${secret}/${id}`,
      );
  }
});

test('a copy is recognised only with its own request id and the same secret', () => {
  const m = new MirrorMarker('run-secret');
  const proof = m.proof('req-1');
  const headers = { [MIRROR_MARKER]: 'app-v2', [MIRROR_PROOF]: proof, 'x-request-id': 'req-1' };
  assert.equal(m.isCopy(headers), true);
  assert.equal(m.isCopy({ ...headers, 'x-request-id': 'req-2' }), false);
  assert.equal(new MirrorMarker('other-secret').isCopy(headers), false);
  assert.equal(m.isCopy({ ...headers, [MIRROR_PROOF]: proof.slice(1) }), false);
  assert.equal(m.isCopy({ 'x-request-id': 'req-1', [MIRROR_PROOF]: proof }), false, 'no marker, no copy');
});
