// The comparison engine without sockets: pairing by request id in any order, Diffy-style noise
// cancellation and thresholds on realistic JSON, the pairing window, the pending cap, the memory
// budget (hash-only past it), copying of the proxy's chunks, redacted samples and persistence.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { CompareSettings, MirrorPolicy } from '../../src/model/route-table.js';
import { ComparisonEngine } from '../../src/compare/comparison-engine.js';
import { DEFAULT_COMPARE_THRESHOLDS } from '../../src/translate/mirror-policies.js';
import { scratchDir } from '../helpers/scratch.js';

function policy(
  name: string,
  compare: Partial<CompareSettings> | undefined,
  extra: Partial<MirrorPolicy> = {},
): MirrorPolicy {
  return {
    cluster: `outbound|80|${name}|users.default.svc.cluster.local`,
    name: `users.default|${name}`,
    ppm: 1_000_000,
    authority: { mode: 'keep' },
    timeoutMs: 1000,
    maxInFlight: 100,
    bodyBufferBytes: 1 << 20,
    totalBodyBufferBytes: 1 << 24,
    compare: compare && {
      maxBodyBytes: 1 << 20,
      ignoreHeaders: [],
      ignoreFields: [],
      thresholds: DEFAULT_COMPARE_THRESHOLDS,
      ...compare,
    },
    ...extra,
  };
}

const V2 = policy(
  'v2',
  { baselineMirror: 'users.default|v1' },
  { headers: { remove: ['x-internal-token'] } },
);
const V1_BASELINE = policy('v1', { baseline: true });

/** A user-profile service's answer: `plan` is what v2 changed; `meta` is different every time. */
function profile(id: number, version: 'v1' | 'v2'): Buffer {
  return Buffer.from(
    JSON.stringify({
      id,
      name: `user-${id}`,
      plan: version === 'v1' ? 'free' : 'Free',
      roles: ['reader', id % 2 ? 'writer' : 'guest'],
      address: { city: 'Osaka', zip: `53${id % 10}-0001` },
      meta: {
        requestNonce: randomUUID(),
        servedAt: new Date(Date.now() + Math.random() * 1e6).toISOString(),
      },
    }),
  );
}

const JSON_HEADERS = {
  'content-type': 'application/json',
  'set-cookie': 'sid=secret',
  'x-internal-token': 't0ps3cret',
};

async function drained(e: ComparisonEngine): Promise<void> {
  for (let i = 0; i < 1000 && e.pendingCount > 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(e.pendingCount, 0, 'every pair was compared');
}

interface Exchange {
  id: string;
  path?: string;
  primary: Buffer;
  mirrors: [MirrorPolicy, Buffer, number?][];
  /** Mirrors answer before the primary has finished. */
  mirrorsFirst?: boolean;
}

function run(e: ComparisonEngine, x: Exchange, admitted: readonly MirrorPolicy[] = [V1_BASELINE, V2]): void {
  const capture = e.begin(x.id, 'default/users#0', 'GET', x.path ?? '/users/1', admitted);
  assert.ok(capture, 'request is captured');
  const mirrors = () => {
    for (const [p, body, status] of x.mirrors)
      e.mirrorResponse(p, x.id, status ?? 200, { ...JSON_HEADERS }, body, false);
  };
  if (x.mirrorsFirst) mirrors();
  capture.start(200, { ...JSON_HEADERS });
  // The proxy's chunks: written in two parts.
  capture.data(x.primary.subarray(0, 10));
  capture.data(x.primary.subarray(10));
  capture.end();
  if (!x.mirrorsFirst) mirrors();
}

test('noise cancellation: the real change is reported at 100 %, the random fields are noise', async () => {
  const e = new ComparisonEngine({ budgetBytes: 1 << 20 });
  try {
    for (let i = 0; i < 40; i++)
      run(e, {
        id: `r${i}`,
        path: `/users/${i}`,
        primary: profile(i, 'v1'),
        mirrors: [
          [V1_BASELINE, profile(i, 'v1')],
          [V2, profile(i, 'v2')],
        ],
        mirrorsFirst: i % 2 === 0,
      });
    await drained(e);
    const r = e.report();
    assert.equal(r.groups.length, 1);
    const g = r.groups[0];
    assert.equal(g.endpoint, 'GET /users/{n}');
    assert.equal(g.mirror, 'users.default|v2');
    assert.equal(g.baseline, 'users.default|v1');
    assert.equal(g.compared, 40);
    assert.equal(g.different, 40);
    assert.equal(g.withBaseline, 40);
    assert.deepEqual(
      g.differences.map((f) => [f.field, f.differenceRate, f.noiseRate]),
      [['$.plan', 1, 0]],
    );
    assert.deepEqual(g.differences[0].example, {
      path: '$.plan',
      field: '$.plan',
      kind: 'changed',
      primary: '"free"',
      other: '"Free"',
    });
    assert.deepEqual(
      g.noise.map((f) => [f.field, f.differenceRate, f.noiseRate]),
      [
        ['$.meta.requestNonce', 1, 1],
        ['$.meta.servedAt', 1, 1],
      ],
    );
    assert.deepEqual(g.statusPairs, { '200 200': 40 });
    assert.equal(g.latency.primary.count, 40);
    assert.equal(g.latency.candidate.count, 40);
    assert.equal(e.budget.used, 0, 'retained bodies are released after comparison');
    assert.ok(e.budget.peak > 0);
  } finally {
    e.close();
  }
});

test('a field that differs no more often than the baseline does is noise; thresholds decide the margin', async () => {
  const body = (score: number, nonce: number) =>
    Buffer.from(JSON.stringify({ id: 1, score, cache: { hit: nonce % 2 === 0 } }));
  const feed = (e: ComparisonEngine) => {
    // Candidate: score differs in 30 % of requests. Baseline: differs in 25 % (a flaky score).
    for (let i = 0; i < 100; i++) {
      const cand = i % 10 < 3 ? 2 : 1;
      const base = i % 4 === 0 ? 3 : 1;
      run(e, {
        id: `s${i}`,
        primary: body(1, 0),
        mirrors: [
          [V1_BASELINE, body(base, 0)],
          [V2, body(cand, 0)],
        ],
      });
    }
  };
  const strict = new ComparisonEngine({ budgetBytes: 1 << 20 });
  try {
    feed(strict);
    await drained(strict);
    const g = strict.report().groups[0];
    // Excess 5 points ≥ 3 absolute, but 5/30 = 17 % < 20 % relative: explained by noise.
    assert.deepEqual(g.differences, []);
    assert.deepEqual(
      g.noise.map((f) => [f.field, f.differenceRate, f.noiseRate]),
      [['$.score', 0.3, 0.25]],
    );
  } finally {
    strict.close();
  }
  const lenient = new ComparisonEngine({ budgetBytes: 1 << 20 });
  const v2 = policy('v2', {
    baselineMirror: 'users.default|v1',
    thresholds: { absolute: 0.03, relative: 0.1 },
  });
  try {
    for (let i = 0; i < 100; i++) {
      const cand = i % 10 < 3 ? 2 : 1;
      const base = i % 4 === 0 ? 3 : 1;
      run(
        lenient,
        {
          id: `s${i}`,
          primary: body(1, 0),
          mirrors: [
            [V1_BASELINE, body(base, 0)],
            [v2, body(cand, 0)],
          ],
        },
        [V1_BASELINE, v2],
      );
    }
    await drained(lenient);
    const g = lenient.report().groups[0];
    assert.deepEqual(
      g.differences.map((f) => f.field),
      ['$.score'],
    );
  } finally {
    lenient.close();
  }
});

test('without a baseline every difference is reported, and the report says noise was not measured', async () => {
  const solo = policy('v2', {});
  const e = new ComparisonEngine({ budgetBytes: 1 << 20 });
  try {
    for (let i = 0; i < 5; i++)
      run(e, { id: `n${i}`, primary: profile(i, 'v1'), mirrors: [[solo, profile(i, 'v2')]] }, [solo]);
    await drained(e);
    const g = e.report().groups[0];
    assert.deepEqual(
      g.differences.map((f) => f.field),
      ['$.meta.requestNonce', '$.meta.servedAt', '$.plan'],
    );
    assert.ok(g.differences.every((f) => !f.noiseMeasured));
    assert.match(g.notes.join('\n'), /no baseline mirror: noise is not measured/);
  } finally {
    e.close();
  }
});

test('a candidate that never answers is counted missing once the pairing window closes', async () => {
  const quick = policy('v2', {}, { timeoutMs: 10 });
  const e = new ComparisonEngine({ budgetBytes: 1 << 20 });
  try {
    const c = e.begin('lost', 'default/users#0', 'GET', '/users/3', [quick]);
    assert.ok(c);
    c.start(200, JSON_HEADERS);
    c.data(profile(3, 'v1'));
    c.end();
    assert.equal(e.pendingCount, 1);
    assert.ok(e.budget.used > 0, 'the primary body is held while its pair is open');
    // Window: the mirror's 10 ms timeout plus a 1 s grace.
    for (let i = 0; i < 100 && e.pendingCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(e.pendingCount, 0);
    assert.equal(e.totals.unpaired.candidate_missing, 1);
    assert.equal(e.report().groups[0].missingCandidate, 1);
    assert.equal(e.budget.used, 0);
    // A late answer finds nothing to pair with.
    e.mirrorResponse(quick, 'lost', 200, {}, profile(3, 'v2'), false);
    assert.equal(e.totals.unpaired.unmatched_mirror, 1);
  } finally {
    e.close();
  }
});

test('bounded: past maxPending requests are not captured; a reused request id is not paired twice', () => {
  const e = new ComparisonEngine({ budgetBytes: 1 << 20, maxPending: 2 });
  try {
    assert.ok(e.begin('a', 'r', 'GET', '/x', [V2]));
    assert.equal(e.begin('a', 'r', 'GET', '/x', [V2]), undefined);
    assert.equal(e.totals.unpaired.duplicate_request_id, 1);
    assert.ok(e.begin('b', 'r', 'GET', '/x', [V2]));
    assert.equal(e.begin('c', 'r', 'GET', '/x', [V2]), undefined);
    assert.equal(e.totals.unpaired.pending_full, 1);
    assert.equal(e.totals.begun, 2);
  } finally {
    e.close();
  }
});

test('requests without comparison are not captured at all', () => {
  const e = new ComparisonEngine({ budgetBytes: 1 << 20 });
  try {
    const plain = policy('v2', undefined);
    assert.equal(e.begin('x', 'r', 'GET', '/x', [plain]), undefined);
    // A baseline alone (its candidate was not sampled) is not worth holding a body for.
    assert.equal(e.begin('y', 'r', 'GET', '/x', [V1_BASELINE]), undefined);
    assert.equal(e.totals.begun, 0);
    assert.equal(e.budget.peak, 0);
  } finally {
    e.close();
  }
});

test('memory budget: past it bodies are compared by size and hash only, and the report says so', async () => {
  const e = new ComparisonEngine({ budgetBytes: 300 });
  try {
    for (let i = 0; i < 4; i++)
      run(e, {
        id: `b${i}`,
        primary: profile(1, 'v1'),
        mirrors: [
          [V1_BASELINE, profile(1, 'v1')],
          [V2, profile(1, 'v2')],
        ],
      });
    await drained(e);
    assert.ok(e.budget.peak <= 300, `peak ${e.budget.peak} stays within the budget`);
    assert.equal(e.budget.used, 0);
    assert.ok(e.totals.hashOnly > 0);
    const g = e.report().groups[0];
    assert.ok((g.modes.hash ?? 0) > 0);
    assert.match(
      g.notes.join('\n'),
      /compared by size and hash only: the retained-body memory budget \(300 bytes\) was full/,
    );
    // Hash comparison sees the whole body as one field.
    assert.ok(g.differences.some((f) => f.field === 'body') || g.noise.some((f) => f.field === 'body'));
  } finally {
    e.close();
  }
});

test('the primary chunks are copied: the proxy may reuse its buffers', async () => {
  const e = new ComparisonEngine({ budgetBytes: 1 << 20 });
  try {
    const solo = policy('v2', {});
    const c = e.begin('copy', 'r', 'GET', '/x', [solo]);
    assert.ok(c);
    c.start(200, { 'content-type': 'application/json' });
    const chunk = Buffer.from('{"a":1}');
    c.data(chunk);
    chunk.write('{"a":9}');
    c.end();
    e.mirrorResponse(
      solo,
      'copy',
      200,
      { 'content-type': 'application/json' },
      Buffer.from('{"a":1}'),
      false,
    );
    await drained(e);
    assert.equal(e.report().groups[0].equal, 1);
  } finally {
    e.close();
  }
});

test('a failed primary ends its pair at once', async () => {
  const e = new ComparisonEngine({ budgetBytes: 1 << 20 });
  try {
    const c = e.begin('f', 'r', 'GET', '/x', [V2]);
    c?.start(200, {});
    c?.data(Buffer.from('partial'));
    c?.fail();
    await drained(e);
    assert.equal(e.totals.unpaired.primary_failed, 1);
    assert.equal(e.budget.used, 0);
  } finally {
    e.close();
  }
});

test('samples are redacted and, like all results, survive a restart (SQLite in the state dir)', async () => {
  const dir = scratchDir('umbra-compare-');
  try {
    const e = new ComparisonEngine({ budgetBytes: 1 << 20, stateDir: dir });
    for (let i = 0; i < 3; i++)
      run(e, {
        id: `p${i}`,
        primary: profile(i, 'v1'),
        mirrors: [
          [V1_BASELINE, profile(i, 'v1')],
          [V2, profile(i, 'v2')],
        ],
      });
    await drained(e);
    const before = e.report();
    e.close();

    const again = new ComparisonEngine({ budgetBytes: 1 << 20, stateDir: dir });
    try {
      const after = again.report();
      assert.equal(after.persistence.file, join(dir, 'compare.sqlite'));
      assert.deepEqual(
        after.groups.map((g) => [g.key, g.compared, g.different, g.differences.map((f) => f.field)]),
        before.groups.map((g) => [g.key, g.compared, g.different, g.differences.map((f) => f.field)]),
      );
      const samples = again.samples(after.groups[0].key);
      assert.ok(samples && samples.length > 0);
      const s = samples[0];
      assert.equal(s.outcome, 'different');
      assert.equal(s.primary.headers['set-cookie'], '[redacted]');
      assert.equal(
        s.candidate.headers['x-internal-token'],
        '[redacted]',
        'headers the policy strips from copies are redacted',
      );
      assert.equal(s.primary.headers['content-type'], 'application/json');
      assert.match(s.candidate.body, /"plan": "Free"/);
      assert.ok(s.diffs.some((d) => d.field === '$.plan' && !d.noise));
      assert.ok(s.diffs.some((d) => d.field === '$.meta.requestNonce' && d.noise));
      // Counting goes on from where it was.
      run(again, {
        id: 'q',
        primary: profile(9, 'v1'),
        mirrors: [
          [V1_BASELINE, profile(9, 'v1')],
          [V2, profile(9, 'v2')],
        ],
      });
      await drained(again);
      assert.equal(again.report().groups[0].compared, 4);
    } finally {
      again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
