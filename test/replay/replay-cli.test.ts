// Issue 16: `umbra replay` as a user runs it (the real CLI, real servers on loopback): recordings
// and HAR files reach the target with their paths and bodies, pacing is never faster than asked
// (figures printed, no upper bounds: a busy machine only makes a replay slower), a broken line is
// named and skipped, and --compare-to writes the live comparison's report.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { patternBytes } from '../helpers/mirror-safety.js';
import { startEchoServer, type TestServer } from '../helpers/servers.js';
import { startVersionedService } from '../helpers/versioned-service.js';
import { formatRecordLine, recordTime } from '../../src/record/record-line.js';
import type { SavedReport } from '../../src/replay/offline-comparison.js';
import { scratchDir } from '../helpers/scratch.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Rec {
  method: string;
  path: string;
  body?: Buffer;
  atMs: number;
  headers?: [string, string][];
}

/** A recording as the recorder writes it (same serializer), requests `atMs` after a fixed start. */
function recording(recs: readonly Rec[]): string {
  const t0 = Date.parse('2026-12-01T10:00:00.000Z');
  return recs
    .map((r, i) =>
      formatRecordLine(
        {
          time: recordTime(t0 + r.atMs),
          requestId: `req-${i}`,
          mirror: 'httpbin.default|v2',
          method: r.method,
          authority: 'httpbin-shadow:8000',
          path: r.path,
          headers: [
            ['user-agent', 'replay-test'],
            ['x-umbra-mirror', 'httpbin.default|v2'],
            ...(r.headers ?? []),
          ],
          truncated: false,
        },
        r.body ? [r.body] : [],
        r.body?.length ?? 0,
      ),
    )
    .join('');
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = scratchDir('umbra-replay-');
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withServer(fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startEchoServer();
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/** The "elapsed X s" figure of the summary. */
function elapsed(stdout: string): number {
  const m = /elapsed ([\d.]+) s/.exec(stdout);
  assert.ok(m, `the summary gives the elapsed time:\n${stdout}`);
  return Number(m[1]);
}

const hundred: Rec[] = Array.from({ length: 100 }, (_, i) =>
  i % 2 === 1
    ? { method: 'POST', path: `/post?i=${i}`, body: patternBytes(10 * 1024, i), atMs: i * 20 }
    : { method: 'GET', path: `/get?i=${i}`, atMs: i * 20 },
);

test('100 recorded requests reach another server with the same paths and bodies; --rate 50 is not faster than 50/s', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'v2.jsonl');
    writeFileSync(file, recording(hundred));
    await withServer(async (s) => {
      const r = await runCli(['replay', file, '--to', s.url, '--rate', '50']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /sent 100\/100 \(2xx 100\)/);
      assert.match(r.stdout, /latency ms: p50 [\d.]+, p90 [\d.]+, p99 [\d.]+, max [\d.]+/);
      const secs = elapsed(r.stdout);
      process.stdout.write(`# --rate 50, 100 requests: ${secs} s (expected about 2 s)\n`);
      // The 100th request is due 99/50 s after the first: never earlier.
      assert.ok(secs >= 1.95, `--rate 50 took ${secs} s`);
      assert.equal(s.requests.length, 100);
      const got = new Map(s.requests.map((q) => [q.url, q]));
      hundred.forEach((h) => {
        const q = got.get(h.path);
        assert.ok(q, `${h.path} was replayed`);
        assert.equal(q.method, h.method);
        // The target's Host by default, and no copy marker: a replay is new traffic.
        assert.equal(q.headers.host, `127.0.0.1:${s.port}`);
        assert.equal(q.headers['x-umbra-mirror'], undefined);
        assert.equal(q.headers['user-agent'], 'replay-test');
        if (h.body) assert.equal(q.bodySha256, sha(h.body));
      });
    });
  });
});

test('--speed 2 replays a 2 s recording in about 1 s, in recorded order; --keep-host and -H', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'paced.jsonl');
    // 11 requests 200 ms apart: the recording spans 2 s.
    const recs = Array.from({ length: 11 }, (_, i) => ({
      method: 'GET',
      path: `/paced/${i}`,
      atMs: i * 200,
    }));
    // Written in reverse: replay orders by recorded time, not by line.
    writeFileSync(file, recording([...recs].reverse()));
    await withServer(async (s) => {
      const r = await runCli([
        'replay',
        file,
        '--to',
        s.url,
        '--speed',
        '2',
        '-c',
        '1',
        '--keep-host',
        '-H',
        'x-replayed: yes',
        '-H',
        'user-agent:',
      ]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const secs = elapsed(r.stdout);
      process.stdout.write(`# --speed 2 on a 2 s recording: ${secs} s (expected about 1 s)\n`);
      assert.ok(secs >= 0.95, `--speed 2 took ${secs} s`);
      assert.deepEqual(
        s.requests.map((q) => q.url),
        recs.map((x) => x.path),
      );
      // Pace, loosely: the last request arrived at least ~1 s after the first.
      const span = s.requests[10].receivedAt - s.requests[0].receivedAt;
      assert.ok(span >= 900, `requests spread over ${span} ms`);
      for (const q of s.requests) {
        assert.equal(q.headers.host, 'httpbin-shadow:8000');
        assert.equal(q.headers['x-replayed'], 'yes');
        assert.equal(q.headers['user-agent'], undefined);
      }
    });
  });
});

test('filters and the limit choose what is sent', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'mixed.jsonl');
    writeFileSync(file, recording(hundred.slice(0, 20)));
    await withServer(async (s) => {
      const r = await runCli([
        'replay',
        file,
        '--to',
        s.url,
        '--speed',
        '100',
        '--method',
        'post',
        '-n',
        '3',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        s.requests.map((q) => `${q.method} ${q.url}`),
        ['POST /post?i=1', 'POST /post?i=3', 'POST /post?i=5'],
      );
      const r2 = await runCli(['replay', file, '--to', s.url, '--rate', '1000', '--path-prefix', '/get?i=1']);
      assert.equal(r2.code, 0, r2.stderr);
      assert.deepEqual(
        s.requests.slice(3).map((q) => q.url),
        ['/get?i=10', '/get?i=12', '/get?i=14', '/get?i=16', '/get?i=18'],
      );
      const r3 = await runCli(['replay', file, '--to', s.url, '--rate', '1000', '--host', 'elsewhere']);
      assert.equal(r3.code, 0, r3.stderr);
      assert.match(r3.stderr, /no request to send/);
      const r4 = await runCli([
        'replay',
        file,
        '--to',
        s.url,
        '--rate',
        '1000',
        '--host',
        'httpbin-shadow',
        '-n',
        '2',
      ]);
      assert.match(r4.stdout, /sent 2\/2/);
    });
  });
});

test('a 3-entry HAR file is replayed with its POST bodies intact', async () => {
  const binary = patternBytes(2048, 7);
  const json = '{"name":"umbra","tags":["a","b"],"n":1}';
  const har = {
    log: {
      version: '1.2',
      creator: { name: 'test', version: '1' },
      entries: [
        {
          startedDateTime: '2026-12-01T10:00:00.000Z',
          request: {
            method: 'GET',
            url: 'http://httpbin:8000/get?x=1',
            httpVersion: 'HTTP/1.1',
            headers: [
              { name: 'Host', value: 'httpbin:8000' },
              { name: 'Accept', value: 'application/json' },
            ],
            queryString: [{ name: 'x', value: '1' }],
            cookies: [],
            headersSize: -1,
            bodySize: 0,
          },
        },
        {
          startedDateTime: '2026-12-01T10:00:00.100Z',
          request: {
            method: 'POST',
            url: 'http://httpbin:8000/post',
            httpVersion: 'HTTP/2',
            headers: [
              { name: ':authority', value: 'httpbin:8000' },
              { name: 'content-type', value: 'application/json' },
              { name: 'content-length', value: '999' },
            ],
            queryString: [],
            cookies: [],
            headersSize: -1,
            bodySize: json.length,
            postData: { mimeType: 'application/json', text: json },
          },
        },
        {
          startedDateTime: '2026-12-01T10:00:00.200Z',
          request: {
            method: 'PUT',
            url: 'http://httpbin:8000/put',
            httpVersion: 'HTTP/1.1',
            headers: [],
            queryString: [],
            cookies: [],
            headersSize: -1,
            bodySize: binary.length,
            postData: {
              mimeType: 'application/octet-stream',
              text: binary.toString('base64'),
              encoding: 'base64',
            },
          },
        },
      ],
    },
  };
  await withDir(async (dir) => {
    const file = join(dir, 'browser.har');
    writeFileSync(file, JSON.stringify(har, null, 2));
    await withServer(async (s) => {
      const r = await runCli(['replay', file, '--to', s.url, '--speed', '10']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(
        s.requests.map((q) => `${q.method} ${q.url}`),
        ['GET /get?x=1', 'POST /post', 'PUT /put'],
      );
      assert.equal(s.requests[0].headers.accept, 'application/json');
      assert.equal(s.requests[1].bodySha256, sha(Buffer.from(json)));
      assert.equal(s.requests[1].headers['content-length'], String(json.length));
      assert.equal(s.requests[1].headers['content-type'], 'application/json');
      assert.equal(s.requests[2].bodySha256, sha(binary));
      assert.equal(s.requests[2].headers['content-type'], 'application/octet-stream');
    });
  });
});

test('a broken line is named by file and line, the rest is sent, and the exit code says so', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'broken.jsonl');
    const lines = recording(hundred.slice(0, 6)).split('\n');
    lines.splice(3, 0, '{"time": "2026-12-01T10:00:00.000Z", "method": "GET", "path": "/x"'); // line 4: cut short
    lines.splice(5, 0, '{"time":"yesterday","method":"GET","authority":"a","path":"/y","headers":[]}'); // line 6
    writeFileSync(file, lines.join('\n'));
    const har = join(dir, 'bad.har');
    writeFileSync(
      har,
      JSON.stringify(
        {
          log: {
            entries: [
              {
                startedDateTime: '2026-12-01T10:00:00.000Z',
                request: { method: 'GET', url: 'http://a/ok', headers: [] },
              },
              {
                startedDateTime: '2026-12-01T10:00:00.000Z',
                request: { method: 'GET', url: '/relative', headers: [] },
              },
            ],
          },
        },
        null,
        2,
      ),
    );
    await withServer(async (s) => {
      const r = await runCli(['replay', file, har, '--to', s.url, '--rate', '1000']);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: not JSON`));
      assert.match(r.stderr, /broken\.jsonl:6: "time" is not an RFC 3339 time/);
      // The second HAR entry starts on line 12 of the pretty-printed file.
      assert.match(r.stderr, /bad\.har:12: request\.url "\/relative" is not an absolute URL/);
      assert.match(r.stdout, /sent 7\/7/);
      assert.equal(s.requests.length, 7);
    });
  });
});

test('a target that refuses makes the exit code non-zero and is counted as errors', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'r.jsonl');
    writeFileSync(file, recording(hundred.slice(0, 3)));
    const s = await startEchoServer();
    const url = s.url;
    await s.close();
    const r = await runCli(['replay', file, '--to', url, '--rate', '1000']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /sent 0\/3 \(no answers; errors: ECONNREFUSED 3\)/);
  });
});

test('--compare-to writes the live comparison report naming the field in which the targets differ', async () => {
  const v1 = await startVersionedService('v1');
  const v1b = await startVersionedService('v1');
  const v2 = await startVersionedService('v2');
  try {
    await withDir(async (dir) => {
      const file = join(dir, 'users.jsonl');
      const recs: Rec[] = Array.from({ length: 20 }, (_, i) => ({
        method: 'GET',
        path: i % 2 === 0 ? `/users/${i}` : `/orders/${i}`,
        atMs: i,
      }));
      writeFileSync(file, recording(recs));
      const report = join(dir, 'report.json');
      const r = await runCli([
        'replay',
        file,
        '--to',
        `http://127.0.0.1:${v1.port}`,
        '--compare-to',
        `http://127.0.0.1:${v2.port}`,
        '--baseline',
        `http://127.0.0.1:${v1b.port}`,
        '--report',
        report,
        '--rate',
        '500',
        '--ignore-header',
        'set-cookie',
      ]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /comparison report written to .*report\.json \(1 field\(s\) differ\)/);
      const saved = JSON.parse(readFileSync(report, 'utf8')) as SavedReport;
      assert.equal(saved.totals.compared, 20);
      const users = saved.groups.find((g) => g.endpoint === 'GET /users/{n}');
      assert.ok(users, JSON.stringify(saved.groups.map((g) => g.endpoint)));
      assert.deepEqual(
        users.differences.map((f) => [f.field, f.verdict, f.example?.primary, f.example?.other]),
        [['$.plan', 'difference', '"free"', '"pro"']],
      );
      // The random nonce differs between any two answers: the baseline shows it as noise.
      assert.ok(users.noise.some((f) => f.field === '$.nonce'));
      const orders = saved.groups.find((g) => g.endpoint === 'GET /orders/{n}');
      assert.equal(orders?.differences.length, 0);
      // Each group's sample pairs travel with the report, for the dashboard.
      assert.ok(saved.sampleSets[users.key].length > 0);
      assert.equal(saved.replay.candidate, `http://127.0.0.1:${v2.port}/`);
      assert.equal(v1.seen.length, 20);
      assert.equal(v2.seen.length, 20);
      assert.equal(v1b.seen.length, 20);
    });
  } finally {
    await Promise.all([v1.close(), v1b.close(), v2.close()]);
  }
});
