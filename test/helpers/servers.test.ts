// The test upstreams do what their names say: record, delay, hang, read slowly, reset, refuse.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import {
  collect,
  freePort,
  startDelayServer,
  startEchoServer,
  startHungServer,
  startResettingServer,
  startSlowReaderServer,
  startStatusServer,
  waitFor,
} from './servers.js';
import { Readable } from 'node:stream';

test('echo server answers and records method, path, headers, body size and hash', async () => {
  const s = await startEchoServer();
  try {
    const body = Buffer.alloc(100_000, 7);
    const res = await request(`${s.url}/x?y=1`, { method: 'POST', body, headers: { 'x-a': 'b' } });
    const echo = JSON.parse(await res.body.text()) as Record<string, unknown>;
    const sha = createHash('sha256').update(body).digest('hex');
    assert.equal(echo.method, 'POST');
    assert.equal(echo.path, '/x?y=1');
    assert.equal(echo.bodyBytes, 100_000);
    assert.equal(echo.bodySha256, sha);
    assert.equal((echo.headers as Record<string, string>)['x-a'], 'b');
    assert.equal(s.requests.length, 1);
    assert.deepEqual(
      { ...s.requests[0], headers: undefined, rawHeaders: undefined, receivedAt: undefined },
      {
        method: 'POST',
        url: '/x?y=1',
        headers: undefined,
        rawHeaders: undefined,
        bodyBytes: 100_000,
        bodySha256: sha,
        completed: true,
        aborted: false,
        receivedAt: undefined,
      },
    );
  } finally {
    await s.close();
  }
});

test('delay and status servers', async () => {
  const d = await startDelayServer(150);
  const st = await startStatusServer(503, 10);
  try {
    const t0 = Date.now();
    const res = await request(d.url);
    await res.body.dump();
    assert.ok(Date.now() - t0 >= 140);
    const r2 = await request(st.url, { method: 'PUT', body: 'abc' });
    assert.equal(r2.statusCode, 503);
    assert.equal(await r2.body.text(), 'xxxxxxxxxx');
    assert.equal(st.requests[0].bodyBytes, 3);
  } finally {
    await Promise.all([d.close(), st.close()]);
  }
});

test('hung server never answers, and close() frees the client', async () => {
  const s = await startHungServer();
  const pending = request(s.url, { method: 'POST', body: 'abc' }).then(
    () => 'answered',
    (e: Error) => e.name,
  );
  await waitFor(() => s.requests[0]?.completed, 2000);
  await s.close();
  assert.notEqual(await pending, 'answered');
});

test('slow reader takes about size / rate; resetting server resets mid-body', async () => {
  const slow = await startSlowReaderServer(200_000);
  const reset = await startResettingServer({ afterBytes: 1 });
  try {
    const t0 = Date.now();
    const res = await request(slow.url, { method: 'POST', body: Buffer.alloc(100_000) });
    await res.body.dump();
    assert.ok(Date.now() - t0 >= 300, `took ${Date.now() - t0} ms`);
    assert.equal(slow.requests[0].bodyBytes, 100_000);

    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i++) yield Buffer.alloc(64 * 1024);
      })(),
    );
    await assert.rejects(request(reset.url, { method: 'POST', body: big }));
    await waitFor(() => reset.requests[0]?.aborted, 2000);
    assert.equal(reset.requests[0].completed, false);
  } finally {
    await Promise.all([slow.close(), reset.close()]);
  }
});

test('freePort gives a refusing port; collect reads a stream', async () => {
  const port = await freePort();
  await assert.rejects(request(`http://127.0.0.1:${port}/`), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ECONNREFUSED');
    return true;
  });
  assert.equal((await collect(Readable.from(['a', Buffer.from('b')]))).toString(), 'ab');
});
