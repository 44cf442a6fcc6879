// The stratified mirror sampler: each request is copied with probability ppm/1e6, and the count
// over any run of requests stays within a couple of the expected number (unlike independent draws,
// which wander by √N and miss the Gateway API conformance tolerance about half the time).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StratifiedSampler } from '../../src/proxy/mirror-sampler.js';

function run(ppm: number, n: number, random?: () => number): boolean[] {
  const s = new StratifiedSampler(ppm, random);
  return Array.from({ length: n }, () => s.take());
}

test('counts over every prefix of the run stay within 2 of n·p, for many rates', () => {
  for (const ppm of [1, 10_000, 200_000, 333_333, 350_000, 500_000, 990_000, 999_999]) {
    for (let trial = 0; trial < 20; trial++) {
      const picks = run(ppm, 2_000);
      let count = 0;
      picks.forEach((p, i) => {
        if (p) count++;
        const expected = ((i + 1) * ppm) / 1e6;
        assert.ok(
          Math.abs(count - expected) <= 2,
          `ppm ${ppm}: ${count} after ${i + 1}, expected ${expected}`,
        );
      });
    }
  }
});

test('0 never and 1e6 always', () => {
  assert.ok(run(0, 1000).every((p) => !p));
  assert.ok(run(1_000_000, 1000).every((p) => p));
});

test('each request has the same chance: positions within a stratum are spread, not periodic', () => {
  // 20 %: one copy per 5 requests; over many runs every position 0..4 of a stratum is picked about equally.
  const perPosition = [0, 0, 0, 0, 0];
  for (let trial = 0; trial < 2_000; trial++) {
    const picks = run(200_000, 5);
    picks.forEach((p, i) => {
      if (p) perPosition[i]++;
    });
  }
  // Expected 400 each (binomial sd ≈ 18); 6 sd either way is never reached by chance.
  for (const n of perPosition) assert.ok(n > 290 && n < 510, `picks per position: ${perPosition.join(', ')}`);
});

test('deterministic with a fixed random source', () => {
  const seq = [0.5, 0.1, 0.9, 0.3];
  let i = 0;
  const rnd = () => seq[i++ % seq.length];
  // Strata of 4 requests (25 %): points at 2.0, 4.4, 11.6, 13.2 (in request units) → requests 3, 5, 12, 14.
  const picks = run(250_000, 16, rnd);
  assert.deepEqual(
    picks.flatMap((p, k) => (p ? [k + 1] : [])),
    [3, 5, 12, 14],
  );
});
