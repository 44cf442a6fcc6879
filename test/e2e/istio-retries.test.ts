// Istio `retries` with real sockets: retriable answers and failures are tried again with
// x-envoy-attempt-count, bodies are replayed from the retry buffer (never re-read from a consumed
// stream), large bodies and overflows are not retried, a retry avoids the endpoint that failed,
// and a mirror gets one copy however many attempts the primary takes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'undici';
import {
  freePort,
  startEchoServer,
  startHungServer,
  startStatusServer,
  waitFor,
  type TestServer,
} from '../helpers/servers.js';
import { destinationRule, serviceWith, startFlakyServer, virtualService } from '../helpers/istio-yaml.js';
import { startTestUmbra, workloadEntry, type TestUmbra } from '../helpers/umbra.js';

async function withUmbra(
  files: Record<string, string>,
  servers: TestServer[],
  fn: (u: TestUmbra) => Promise<void>,
): Promise<void> {
  const u = await startTestUmbra(files);
  try {
    await fn(u);
  } finally {
    await u.close();
    await Promise.all(servers.map((s) => s.close()));
  }
}

const get = async (
  u: TestUmbra,
  path = '/',
  init: { method?: string; body?: Buffer; headers?: Record<string, string> } = {},
) => {
  const r = await request(`${u.proxyUrl}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    body: init.body,
    headers: { host: 'app:8000', ...init.headers },
  });
  return { status: r.statusCode, text: await r.body.text(), headers: r.headers };
};

const retries = (spec: string) =>
  virtualService('app', `- route:\n  - destination: {host: app}\n  retries: ${spec}`);

test('a 503 is retried with x-envoy-attempt-count 1, 2, 3 until the upstream answers', async () => {
  const s = await startFlakyServer(2);
  await withUmbra(
    {
      'mesh.yaml': serviceWith('app', [{ name: 'a', port: s.port }]),
      'vs.yaml': retries('{attempts: 3, retryOn: 5xx}'),
    },
    [s],
    async (u) => {
      const r = await get(u);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text).n, 3);
      assert.deepEqual(
        s.requests.map((x) => x.headers['x-envoy-attempt-count']),
        ['1', '2', '3'],
      );
      assert.ok(
        s.requests.every((x) => x.headers['x-request-id'] === s.requests[0].headers['x-request-id']),
        'one request id for all attempts',
      );
      await waitFor(() => u.accessLines.some((l) => / 200 - /.test(l)), 2000);
    },
  );
});

test('retries run out: the last answer goes to the client, flagged URX', async () => {
  const s = await startStatusServer(503, 5);
  await withUmbra(
    {
      'mesh.yaml': serviceWith('app', [{ name: 'a', port: s.port }]),
      'vs.yaml': retries('{attempts: 2, retryOn: gateway-error}'),
    },
    [s],
    async (u) => {
      const r = await get(u);
      assert.equal(r.status, 503);
      assert.equal(r.text, 'xxxxx', "the upstream's own answer");
      assert.equal(s.requests.length, 3);
      await waitFor(() => u.accessLines.some((l) => / 503 URX /.test(l)), 2000);
    },
  );
});

test('attempts: 0 sends once; retryOn without 5xx does not retry a 500', async () => {
  const s = await startStatusServer(503);
  const t = await startStatusServer(500);
  await withUmbra(
    {
      'mesh.yaml': serviceWith('app', [{ name: 'a', port: s.port }]),
      'vs.yaml': retries('{attempts: 0}'),
      'other.yaml': `${serviceWith('other', [{ name: 'o', port: t.port }])}---\n${virtualService('other', `- route:\n  - destination: {host: other}\n  retries: {attempts: 3, retryOn: "gateway-error,409"}`)}`,
    },
    [s, t],
    async (u) => {
      assert.equal((await get(u)).status, 503);
      assert.equal(s.requests.length, 1);
      assert.equal((await get(u, '/', { headers: { host: 'other:8000' } })).status, 500);
      assert.equal(t.requests.length, 1);
    },
  );
});

test('a small POST body is replayed whole to the next attempt', async () => {
  const s = await startFlakyServer(1);
  const body = randomBytes(20 * 1024);
  const sha = createHash('sha256').update(body).digest('hex');
  await withUmbra(
    {
      'mesh.yaml': serviceWith('app', [{ name: 'a', port: s.port }]),
      'vs.yaml': retries('{attempts: 2, retryOn: 5xx}'),
    },
    [s],
    async (u) => {
      const r = await get(u, '/upload', { method: 'POST', body });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.text).bodySha256, sha);
      assert.equal(s.requests.length, 2);
      assert.ok(
        s.requests.every((x) => x.completed && x.bodySha256 === sha),
        'both attempts got the whole body',
      );
    },
  );
});

test('a body larger than the retry buffer is sent once and never retried', async () => {
  const s = await startFlakyServer(1);
  const body = randomBytes(200 * 1024);
  await withUmbra(
    {
      'mesh.yaml': serviceWith('app', [{ name: 'a', port: s.port }]),
      'vs.yaml': retries('{attempts: 2, retryOn: 5xx}'),
    },
    [s],
    async (u) => {
      const r = await get(u, '/upload', { method: 'POST', body });
      assert.equal(r.status, 503);
      assert.equal(s.requests.length, 1);
      assert.equal(s.requests[0].bodyBytes, body.length);
    },
  );
});

test("Istio's default policy retries a refused connection on another endpoint", async () => {
  const good = await startEchoServer();
  const down = await freePort();
  await withUmbra(
    {
      'mesh.yaml': serviceWith('app', [
        { name: 'down', port: down },
        { name: 'good', port: good.port },
      ]),
      'vs.yaml': virtualService('app', `- route:\n  - destination: {host: app}`),
    },
    [good],
    async (u) => {
      for (let i = 0; i < 6; i++) assert.equal((await get(u, `/r${i}`)).status, 200);
      assert.equal(good.requests.length, 6);
      // Half the requests went to the refused endpoint first: those reached `good` on attempt 2.
      assert.ok(good.requests.some((x) => x.headers['x-envoy-attempt-count'] === '2'));
    },
  );
});

test('perTryTimeout: an attempt that hangs is abandoned and the next endpoint answers', async () => {
  const hung = await startHungServer();
  const good = await startEchoServer();
  await withUmbra(
    {
      'mesh.yaml': serviceWith('app', [
        { name: 'hung', port: hung.port },
        { name: 'good', port: good.port },
      ]),
      'vs.yaml': retries('{attempts: 2, perTryTimeout: 150ms, retryOn: "5xx"}'),
    },
    [hung, good],
    async (u) => {
      for (let i = 0; i < 4; i++) assert.equal((await get(u, `/p${i}`)).status, 200);
      assert.equal(good.requests.length, 4);
      assert.ok(hung.requests.length >= 1);
    },
  );
});

test('a mirror gets one copy however many attempts the primary takes', async () => {
  const v1 = await startFlakyServer(2);
  const v2 = await startEchoServer();
  const mesh = [
    `apiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  ports:\n  - name: http\n    port: 8000\n    targetPort: 80\n  selector:\n    app: app\n`,
    workloadEntry('v1', v1.port, { app: 'app', version: 'v1' }),
    workloadEntry('v2', v2.port, { app: 'app', version: 'v2' }),
    destinationRule(
      'app',
      'loadBalancer: {simple: ROUND_ROBIN}',
      '  subsets:\n  - name: v1\n    labels: {version: v1}\n  - name: v2\n    labels: {version: v2}\n',
    ),
  ].join('---\n');
  const vs = virtualService(
    'app',
    `- route:\n  - destination: {host: app, subset: v1}\n  retries: {attempts: 3, retryOn: 5xx}\n  mirror: {host: app, subset: v2}`,
  );
  await withUmbra({ 'mesh.yaml': mesh, 'vs.yaml': vs }, [v1, v2], async (u) => {
    const r = await get(u, '/m', { method: 'POST', body: Buffer.from('hello') });
    assert.equal(r.status, 200);
    assert.equal(v1.requests.length, 3);
    await waitFor(() => v2.requests.length === 1 && v2.requests[0].completed, 3000);
    await new Promise((ok) => setTimeout(ok, 100)); // room for a stray second copy to show up
    assert.equal(v2.requests.length, 1);
    assert.equal(v2.requests[0].bodyBytes, 5);
    assert.equal(v2.requests[0].headers['x-envoy-attempt-count'], '1');
  });
});
