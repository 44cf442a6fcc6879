// Issue 16: MirrorPolicy `record` on the seed's v2 mirror — every admitted copy becomes one JSON line
// (no stripped credential, bodies byte for byte what v2 received), files are 0600 and rotate within
// maxFiles, `sendCopies: false` records without sending, and a failing disk is counted, not felt.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startHttpbin } from '../../src/workloads/httpbin.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { patternBytes, scrape, sumOf } from '../helpers/mirror-safety.js';
import { startEchoServer, waitFor, type TestServer } from '../helpers/servers.js';
import { startTestUmbra, workloadEntry, type TestUmbra } from '../helpers/umbra.js';
import type { RecordLine } from '../../src/record/record-line.js';
import { CopyRecorder, type RecordCounters } from '../../src/record/copy-recorder.js';
import { scratchDir } from '../helpers/scratch.js';

const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');
const MIRROR = 'httpbin.default|v2';
const TOKEN = 'Bearer secret-token-0123456789';

function recordPolicy(record: string, extra = ''): string {
  return `apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata:
  name: httpbin-v2
spec:
  targetRefs:
  - group: networking.istio.io
    kind: DestinationRule
    name: httpbin
    sectionName: v2
  headers:
    remove: [authorization]
  record:
${record
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => `    ${l}`)
  .join('\n')}
${extra}`;
}

/**
 * The seed's mesh (its Service, route and 100 % mirror to v2) with the built-in httpbin as v1; v2
 * is a recording server, the only way to know byte for byte what v2 received.
 */
async function seedMesh(
  policy: (dir: string) => string,
  fn: (u: TestUmbra, v2: TestServer, dir: string) => Promise<void>,
): Promise<void> {
  const dir = scratchDir('umbra-record-');
  const v1 = await startHttpbin({ name: 'httpbin-v1', log: () => {} });
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'service.yaml': seed('service.yaml'),
    'workloads.yaml':
      workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' }) +
      '---\n' +
      workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' }),
    // Loaded in name order: the mirroring VirtualService redefines the one in route-v1.yaml.
    'route-1.yaml': seed('route-v1.yaml'),
    'route-2-mirror.yaml': seed('mirror.yaml'),
    'policy.yaml': policy(dir),
  });
  try {
    await fn(u, v2, dir);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 50 GETs with an Authorization header, 50 POSTs of 10 KiB binary bodies, interleaved. */
async function traffic(u: TestUmbra, n = 100): Promise<void> {
  const pool = new Pool(u.proxyUrl, { connections: 4 });
  try {
    for (let i = 0; i < n; i++) {
      const post = i % 2 === 1;
      const r = await pool.request({
        method: post ? 'POST' : 'GET',
        path: post ? `/post?i=${i}` : `/get?i=${i}`,
        headers: {
          host: 'httpbin:8000',
          'x-request-id': `rec-${i}`,
          ...(post ? { 'content-type': 'application/octet-stream' } : { authorization: TOKEN }),
        },
        body: post ? patternBytes(10 * 1024, i) : undefined,
      });
      await r.body.dump();
      assert.equal(r.statusCode, 200);
    }
  } finally {
    await pool.close();
  }
}

function lines(file: string): RecordLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as RecordLine);
}

/** The recorder's counters for the seed's v2 mirror (umbra_record_* on /stats/prometheus). */
function recorded(u: TestUmbra): RecordCounters {
  assert.ok(u.proxy.recorder instanceof CopyRecorder, 'Umbra records with the copy recorder');
  return u.proxy.recorder.countersFor(MIRROR);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('recording the seed’s v2 mirror: 100 lines, no token, POST bodies as v2 received them', async () => {
  await seedMesh(
    (d) => recordPolicy(`path: ${join(d, 'v2.jsonl')}`),
    async (u, v2, dir) => {
      const file = join(dir, 'v2.jsonl');
      await traffic(u);
      await waitFor(() => recorded(u).written === 100, 10_000);
      await waitFor(() => v2.requests.filter((r) => r.completed).length === 100, 10_000);

      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes('secret-token'), 'the stripped Authorization is not in the recording');
      const recs = lines(file);
      assert.equal(recs.length, 100);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const byId = new Map(v2.requests.map((r) => [String(r.headers['x-request-id']), r]));
      for (const r of recs) {
        assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(r.mirror, MIRROR);
        assert.equal(r.authority, 'httpbin-shadow:8000');
        assert.ok(!r.headers.some(([n]) => n === 'authorization' || n === 'host'));
        // The marker is recorded as the copy carried it; its proof (an HMAC under the run's secret) is not.
        assert.ok(r.headers.some(([n, v]) => n === 'x-umbra-mirror' && v === MIRROR));
        assert.ok(!r.headers.some(([n]) => n === 'x-umbra-mirror-proof'));
        const seen = byId.get(r.requestId);
        assert.ok(seen, `v2 received ${r.requestId}`);
        assert.equal(`${r.method} ${r.path}`, `${seen.method} ${seen.url}`);
        assert.equal(r.truncated, false);
        if (r.method === 'POST') {
          const body = Buffer.from(r.body, 'base64');
          assert.equal(r.bodyLength, 10 * 1024);
          assert.equal(sha(body), seen.bodySha256, `${r.requestId}: the recorded body is what v2 received`);
        } else assert.equal(r.body, '');
      }
      assert.equal(new Set(recs.map((r) => r.requestId)).size, 100);
      const { samples } = await scrape(u.adminUrl);
      assert.equal(sumOf(samples, 'umbra_record_written_total', { mirror: MIRROR }), 100);

      // Replayed to another server: the same 100 requests, paths and bodies.
      const other = await startEchoServer();
      try {
        const r = await runCli(['replay', file, '--to', other.url, '--rate', '200']);
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stdout, /sent 100\/100 \(2xx 100\)/);
        const key = (q: { method: string; url: string; bodySha256: string }) =>
          `${q.method} ${q.url} ${q.bodySha256}`;
        assert.deepEqual(other.requests.map(key).sort(), v2.requests.map(key).sort());
      } finally {
        await other.close();
      }
    },
  );
});

test('sendCopies: false records every copy and sends none', async () => {
  await seedMesh(
    (d) => recordPolicy(`path: ${join(d, 'tap.jsonl')}\nsendCopies: false`),
    async (u, v2, d) => {
      const file = join(d, 'tap.jsonl');
      await traffic(u, 10);
      await waitFor(() => recorded(u).written === 10, 10_000);
      assert.equal(lines(file).length, 10);
      assert.equal(v2.requests.length, 0);
    },
  );
});

test('rotation keeps at most maxFiles files, each near maxBytes', async () => {
  const policy = (d: string) =>
    recordPolicy(`path: ${join(d, 'rot', 'v2.jsonl')}\nmaxBytes: 40000\nmaxFiles: 3`);
  await seedMesh(policy, async (u, _v2, d) => {
    // The directory is created on the first write.
    const dir = join(d, 'rot');
    const file = join(dir, 'v2.jsonl');
    await traffic(u, 60);
    await waitFor(() => recorded(u).written === 60, 10_000);
    const names = readdirSync(dir).sort();
    assert.deepEqual(names, ['v2.jsonl', 'v2.jsonl.1', 'v2.jsonl.2']);
    for (const n of names) {
      assert.ok(statSync(join(dir, n)).size <= 40000, `${n} stays within maxBytes`);
      assert.equal(statSync(join(dir, n)).mode & 0o777, 0o600);
    }
    // The newest lines are kept: the last request is in the current file.
    assert.ok(lines(file).some((r) => r.requestId === 'rec-59'));
  });
});

test('a failing disk drops records, counts them, and the primary never notices', async () => {
  await seedMesh(
    (d) => recordPolicy(`path: ${join(d, 'blocked.jsonl')}`),
    async (u, v2, d) => {
      // A directory in the place of the file: every open fails.
      const file = join(d, 'blocked.jsonl');
      mkdirSync(file);
      writeFileSync(join(file, 'keep'), '');
      await traffic(u, 10);
      await waitFor(() => v2.requests.filter((r) => r.completed).length === 10, 10_000);
      await waitFor(async () => {
        const { samples } = await scrape(u.adminUrl);
        return sumOf(samples, 'umbra_record_dropped_total', { mirror: MIRROR }) >= 1;
      }, 10_000);
      const c = recorded(u);
      assert.equal(c.written, 0);
      assert.ok(c.dropped.write_error >= 1);
    },
  );
});

test('a body over record.maxBodyBytes is cut and flagged; the copy itself is whole', async () => {
  await seedMesh(
    (d) => recordPolicy(`path: ${join(d, 'cut.jsonl')}\nmaxBodyBytes: 1000`),
    async (u, v2, dir) => {
      await traffic(u, 4);
      await waitFor(() => recorded(u).written === 4, 10_000);
      await waitFor(() => v2.requests.filter((r) => r.completed).length === 4, 10_000);
      const posts = lines(join(dir, 'cut.jsonl')).filter((r) => r.method === 'POST');
      assert.equal(posts.length, 2);
      for (const r of posts) {
        assert.equal(r.truncated, true);
        assert.equal(r.bodyLength, 10 * 1024);
        const i = Number(r.requestId.slice('rec-'.length));
        assert.deepEqual(Buffer.from(r.body, 'base64'), patternBytes(10 * 1024, i).subarray(0, 1000));
      }
      // v2 got the whole body: the record's limit is the recording's alone.
      for (const q of v2.requests.filter((x) => x.method === 'POST')) assert.equal(q.bodyBytes, 10 * 1024);
      assert.equal(recorded(u).truncated, 2);
      const r = await runCli(['replay', join(dir, 'cut.jsonl'), '--to', v2.url, '--rate', '100']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /2 request\(s\) had a truncated body in the recording/);
    },
  );
});
