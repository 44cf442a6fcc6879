// Istio `timeout` and `fault` with real sockets: a route timeout answers 504 UT and bounds every
// attempt; per-try timeouts retry; fault aborts answer locally (FI) and delays hold the request (DI),
// each by its percentage; an aborted request is never mirrored.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, request } from 'undici';
import {
  startDelayServer,
  startEchoServer,
  startHungServer,
  waitFor,
  type TestServer,
} from '../helpers/servers.js';
import { serviceWith, virtualService } from '../helpers/istio-yaml.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';

async function withApp(
  upstream: TestServer,
  rule: string,
  fn: (u: TestUmbra) => Promise<void>,
): Promise<void> {
  const u = await startTestUmbra({
    'mesh.yaml': serviceWith('app', [{ name: 'a', port: upstream.port }]),
    'vs.yaml': virtualService('app', `- route:\n  - destination: {host: app}\n${rule}`),
  });
  try {
    await fn(u);
  } finally {
    await u.close();
    await upstream.close();
  }
}

const get = async (u: TestUmbra, path = '/') => {
  const r = await request(`${u.proxyUrl}${path}`, { headers: { host: 'app:8000' } });
  return { status: r.statusCode, text: await r.body.text() };
};

test('a route timeout answers 504 UT when the upstream is slower', async () => {
  await withApp(await startDelayServer(3000), '  timeout: 200ms\n  retries: {attempts: 0}', async (u) => {
    const r = await get(u);
    assert.equal(r.status, 504);
    assert.equal(r.text, 'upstream request timeout\n');
    await waitFor(() => u.accessLines.some((l) => / 504 UT /.test(l)), 2000);
  });
});

test('without a timeout (Istio default: none) a slow upstream is waited for', async () => {
  await withApp(await startDelayServer(400), '', async (u) => {
    assert.equal((await get(u)).status, 200);
  });
});

test('perTryTimeout bounds each attempt; the last one ends 504 UT,URX after every attempt was tried', async () => {
  const hung = await startHungServer();
  await withApp(
    hung,
    '  timeout: 5s\n  retries: {attempts: 2, perTryTimeout: 100ms, retryOn: reset}',
    async (u) => {
      const r = await get(u);
      assert.equal(r.status, 504);
      assert.deepEqual(
        hung.requests.map((x) => x.headers['x-envoy-attempt-count']),
        ['1', '2', '3'],
      );
      await waitFor(() => u.accessLines.some((l) => / 504 UT,URX /.test(l)), 2000);
    },
  );
});

test('the route timeout covers all attempts: it ends the exchange even while retries remain', async () => {
  const hung = await startHungServer();
  await withApp(
    hung,
    '  timeout: 300ms\n  retries: {attempts: 50, perTryTimeout: 100ms, retryOn: reset}',
    async (u) => {
      const r = await get(u);
      assert.equal(r.status, 504);
      assert.ok(hung.requests.length >= 1 && hung.requests.length < 50, `${hung.requests.length} attempts`);
      await waitFor(() => u.accessLines.some((l) => / 504 UT /.test(l)), 2000);
    },
  );
});

test('fault abort: 100% answers the status locally (FI); the upstream sees nothing', async () => {
  const s = await startEchoServer();
  await withApp(s, '  fault:\n    abort: {httpStatus: 418, percentage: {value: 100}}', async (u) => {
    const r = await get(u);
    assert.equal(r.status, 418);
    assert.equal(r.text, 'fault filter abort\n');
    assert.equal(s.requests.length, 0);
    await waitFor(() => u.accessLines.some((l) => / 418 FI /.test(l)), 2000);
  });
});

test('fault delay: the request reaches the upstream only after the delay (DI)', async () => {
  const s = await startEchoServer();
  await withApp(s, '  fault:\n    delay: {fixedDelay: 250ms, percentage: {value: 100}}', async (u) => {
    const sent = Date.now();
    assert.equal((await get(u)).status, 200);
    assert.equal(s.requests.length, 1);
    // A lower bound only: the upstream cannot have seen the request before the delay was served.
    assert.ok(
      s.requests[0].receivedAt - sent >= 240,
      `received ${s.requests[0].receivedAt - sent} ms after sending`,
    );
    await waitFor(() => u.accessLines.some((l) => / 200 DI /.test(l)), 2000);
  });
});

test('fault delay and abort together: the abort comes after the delay (DI,FI)', async () => {
  const s = await startEchoServer();
  await withApp(
    s,
    '  fault:\n    delay: {fixedDelay: 50ms, percentage: {value: 100}}\n    abort: {httpStatus: 503, percentage: {value: 100}}',
    async (u) => {
      assert.equal((await get(u)).status, 503);
      assert.equal(s.requests.length, 0);
      await waitFor(() => u.accessLines.some((l) => / 503 DI,FI /.test(l)), 2000);
    },
  );
});

test('fault abort at 30% aborts about 30% of 600 requests', async () => {
  const s = await startEchoServer();
  await withApp(s, '  fault:\n    abort: {httpStatus: 500, percentage: {value: 30}}', async (u) => {
    const pool = new Pool(u.proxyUrl, { connections: 8 });
    let aborted = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 600) {
          next++;
          const r = await pool.request({ path: '/', method: 'GET', headers: { host: 'app:8000' } });
          await r.body.text();
          if (r.statusCode === 500) aborted++;
        }
      }),
    );
    await pool.close();
    // Binomial(600, 0.3): σ ≈ 11.2; ±5σ.
    assert.ok(Math.abs(aborted - 180) <= 56, `${aborted} aborted`);
    assert.equal(s.requests.length, 600 - aborted);
  });
});

test('an aborted request is not mirrored', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(`${MIRROR_V2}\nfault:\n  abort: {httpStatus: 503, percentage: {value: 100}}`),
  });
  try {
    const r = await request(`${u.proxyUrl}/`, { headers: { host: 'app:8000' } });
    assert.equal(r.statusCode, 503);
    await r.body.text();
    await new Promise((ok) => setTimeout(ok, 100));
    assert.equal(v1.requests.length + v2.requests.length, 0);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});
