// Issue 2's mirroring guarantees with real sockets: percentages, fire-and-forget against slow,
// hung and absent mirrors, and request bodies streamed to both sides (or the copy aborted).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Pool, request } from 'undici';
import {
  freePort,
  startDelayServer,
  startEchoServer,
  startHungServer,
  startRecordingServer,
  waitFor,
  type TestServer,
} from '../helpers/servers.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';

async function withMesh(
  v2: TestServer | number,
  mirrorYaml: string,
  fn: (u: TestUmbra, v1: TestServer) => Promise<void>,
): Promise<void> {
  const v1 = await startEchoServer();
  const v2Port = typeof v2 === 'number' ? v2 : v2.port;
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2Port),
    'vs.yaml': routeToV1(mirrorYaml),
  });
  try {
    await fn(u, v1);
  } finally {
    await u.close();
    await v1.close();
    if (typeof v2 !== 'number') await v2.close();
  }
}

/** N GET requests over keep-alive connections, `concurrency` at a time; returns their bodies. */
async function load(u: TestUmbra, n: number, concurrency = 16): Promise<{ status: number; body: string }[]> {
  const pool = new Pool(u.proxyUrl, { connections: concurrency });
  const out: { status: number; body: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await pool.request({ path: `/get?i=${i}`, method: 'GET', headers: { host: 'app:8000' } });
      out.push({ status: r.statusCode, body: await r.body.text() });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.close();
  return out;
}

function mirrorCounters(u: TestUmbra) {
  const c = u.proxy.mirrors.counters.get('app.default|v2');
  assert.ok(c, 'mirror counters exist');
  return c;
}

test('mirrorPercentage 50 mirrors about half of 1000 requests', async () => {
  const v2 = await startEchoServer();
  await withMesh(v2, `${MIRROR_V2}\nmirrorPercentage:\n  value: 50`, async (u, v1) => {
    const res = await load(u, 1000);
    assert.ok(res.every((r) => r.status === 200));
    await waitFor(() => mirrorCounters(u).inFlight === 0, 5000);
    assert.equal(v1.requests.length, 1000);
    // Binomial(1000, 0.5): sd ≈ 15.8, so ±80 is about 5σ.
    assert.ok(Math.abs(v2.requests.length - 500) <= 80, `v2 received ${v2.requests.length}`);
    const c = mirrorCounters(u);
    assert.equal(c.sent + c.skipped, 1000);
    assert.equal(c.sent, v2.requests.length);
  });
});

test('mirrorPercentage 0 mirrors nothing; absent mirrors everything', async () => {
  const v2a = await startEchoServer();
  await withMesh(v2a, `${MIRROR_V2}\nmirrorPercentage:\n  value: 0`, async (u, v1) => {
    await load(u, 200);
    assert.equal(v1.requests.length, 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(v2a.requests.length, 0);
  });
  const v2b = await startEchoServer();
  await withMesh(v2b, MIRROR_V2, async (u) => {
    await load(u, 200);
    await waitFor(() => v2b.requests.length === 200, 5000);
    assert.ok(v2b.requests.every((r) => r.headers.host === 'app-shadow:8000'));
  });
});

/**
 * Fire-and-forget: each primary completes while its copy is still unanswered at v2, on one
 * keep-alive connection, so no request waited for a mirror.
 */
for (const [name, start] of [
  ['delays 2 s', () => startDelayServer(2000)],
  ['hangs', () => startHungServer()],
] as const) {
  test(`a mirror that ${name} changes nothing for the primary`, async () => {
    const v2 = await start();
    await withMesh(v2, MIRROR_V2, async (u, v1) => {
      const pool = new Pool(u.proxyUrl, { connections: 1 });
      for (let i = 0; i < 10; i++) {
        const r = await pool.request({ path: `/x/${i}`, method: 'GET', headers: { host: 'app:8000' } });
        const body = JSON.parse(await r.body.text());
        assert.equal(r.statusCode, 200);
        assert.equal(body.path, `/x/${i}`);
        assert.equal(body.headers.host, 'app:8000');
      }
      assert.equal(v1.requests.length, 10);
      // All ten copies arrived at v2 and none has been answered yet: the primaries did not wait.
      await waitFor(() => v2.requests.length === 10, 5000);
      assert.equal(mirrorCounters(u).inFlight, 10);
      assert.equal(Object.keys(mirrorCounters(u).completed).length, 0);
      await pool.close();
    });
  });
}

test('a mirror that is down changes nothing for the primary and is counted', async () => {
  const port = await freePort();
  await withMesh(port, MIRROR_V2, async (u, v1) => {
    const res = await load(u, 50, 4);
    assert.ok(res.every((r) => r.status === 200 && JSON.parse(r.body).headers.host === 'app:8000'));
    assert.equal(v1.requests.length, 50);
    await waitFor(() => mirrorCounters(u).inFlight === 0, 5000);
    const c = mirrorCounters(u);
    // Refused connects fail the copy; after 5 in a row the breaker drops copies without trying.
    assert.ok(c.failed.connect >= 5, JSON.stringify(c.failed));
    assert.ok(c.dropped.breaker > 0, JSON.stringify(c.dropped));
    assert.equal(c.failed.connect + c.dropped.breaker, 50);
  });
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

test('a 5 MiB POST reaches v1 and v2 byte-identical', async () => {
  const v2 = await startEchoServer();
  await withMesh(v2, MIRROR_V2, async (u, v1) => {
    const body = randomBytes(5 * 1024 * 1024);
    const r = await request(`${u.proxyUrl}/upload`, {
      method: 'POST',
      body,
      headers: { host: 'app:8000', 'content-type': 'application/octet-stream' },
    });
    const echo = JSON.parse(await r.body.text());
    assert.equal(r.statusCode, 200);
    assert.equal(echo.bodySha256, sha(body));
    await waitFor(() => v2.requests[0]?.completed, 10_000);
    assert.equal(v1.requests[0].bodySha256, sha(body));
    assert.equal(v2.requests[0].bodyBytes, body.length);
    assert.equal(v2.requests[0].bodySha256, sha(body));
  });
});

/**
 * Reads slowly (64 KiB/s) for 1.5 s — long enough for Umbra to give up on it — then at full speed,
 * so it drains what the kernel buffered and sees how the copy ended.
 */
function startLaggingServer(): Promise<TestServer> {
  return startRecordingServer((req, res, rec, t) => {
    const fastAfter = Date.now() + 1500;
    req.on('data', (chunk: Buffer) => {
      if (Date.now() > fastAfter) return;
      req.pause();
      t.later((chunk.length / (64 * 1024)) * 1000, () => req.resume());
    });
    req.on('end', () => res.end(JSON.stringify({ bodyBytes: rec.bodyBytes })));
  });
}

test('a chunked upload is mirrored whole, and a slow-reading mirror is aborted, never truncated', async () => {
  const v2 = await startLaggingServer();
  await withMesh(v2, MIRROR_V2, async (u, v1) => {
    const body = randomBytes(16 * 1024 * 1024);
    // Streamed without content-length (chunked), as a client uploading a file would.
    async function* chunks() {
      for (let i = 0; i < body.length; i += 256 * 1024) yield body.subarray(i, i + 256 * 1024);
    }
    const r = await request(`${u.proxyUrl}/upload`, {
      method: 'PUT',
      body: Readable.from(chunks()),
      headers: { host: 'app:8000' },
    });
    const echo = JSON.parse(await r.body.text());
    assert.equal(r.statusCode, 200);
    assert.equal(echo.bodyBytes, body.length);
    assert.equal(v1.requests[0].bodySha256, sha(body));
    // The copy fell more than the per-mirror buffer (4 MiB) behind and was aborted.
    await waitFor(() => v2.requests[0]?.aborted, 10_000);
    assert.equal(v2.requests[0].completed, false);
    assert.ok(v2.requests[0].bodyBytes < body.length);
    const c = mirrorCounters(u);
    assert.equal(c.dropped.body_limit, 1);
    assert.equal(c.sent, 0);
  });
});
