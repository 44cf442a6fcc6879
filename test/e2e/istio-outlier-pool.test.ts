// DestinationRule outlierDetection and connectionPool with real sockets: a failing endpoint is
// ejected after N consecutive errors and traffic goes to the rest; with every endpoint out,
// requests get 503 UH (or all endpoints again, below minHealthPercent); circuit breakers answer
// the overflow 503 UO at once; maxRequestsPerConnection opens a connection per N requests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import {
  startEchoServer,
  startRecordingServer,
  startStatusServer,
  waitFor,
  type TestServer,
} from '../helpers/servers.js';
import {
  destinationRule,
  serviceWith,
  startGatedServer,
  virtualService,
  type Member,
} from '../helpers/istio-yaml.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';

/** No retries, so every request is one attempt and the counts below are exact. */
const NO_RETRY = virtualService('app', `- route:\n  - destination: {host: app}\n  retries: {attempts: 0}`);

async function withApp(
  members: Member[],
  policy: string,
  servers: TestServer[],
  fn: (u: TestUmbra) => Promise<void>,
  vs = NO_RETRY,
): Promise<void> {
  const u = await startTestUmbra({
    'mesh.yaml': serviceWith('app', members),
    'dr.yaml': destinationRule('app', policy),
    'vs.yaml': vs,
  });
  try {
    await fn(u);
  } finally {
    await u.close();
    await Promise.all(servers.map((s) => s.close()));
  }
}

const get = async (u: TestUmbra, path = '/') => {
  const r = await request(`${u.proxyUrl}${path}`, { headers: { host: 'app:8000' } });
  return { status: r.statusCode, text: await r.body.text() };
};

test('consecutive 5xx eject an endpoint; the healthy one takes the rest', async () => {
  const bad = await startStatusServer(500);
  const good = await startEchoServer();
  await withApp(
    [
      { name: 'bad', port: bad.port },
      { name: 'good', port: good.port },
    ],
    'loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}',
    [bad, good],
    async (u) => {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push((await get(u, `/${i}`)).status);
      assert.equal(bad.requests.length, 3, 'ejected after its third 500 in a row');
      assert.equal(good.requests.length, 27);
      assert.equal(statuses.filter((s) => s === 500).length, 3);
      const snap = u.proxy.upstreams.snapshot().find((s) => s.key.endsWith(`:${bad.port}`));
      assert.equal(snap?.ejected, true);
    },
  );
});

test('consecutiveGatewayErrors counts 502/503/504 only; a 500 resets nothing and ejects nothing', async () => {
  const s500 = await startStatusServer(500);
  const s503 = await startStatusServer(503);
  await withApp(
    [
      { name: 'a', port: s500.port },
      { name: 'b', port: s503.port },
    ],
    'loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, baseEjectionTime: 30s, maxEjectionPercent: 100}',
    [s500, s503],
    async (u) => {
      for (let i = 0; i < 12; i++) await get(u, `/${i}`);
      assert.equal(s503.requests.length, 2, 'the 503 endpoint is ejected after two');
      assert.equal(s500.requests.length, 10, 'the 500 endpoint never is');
    },
  );
});

test('the only endpoint ejected: 503 UH, as Istio (minHealthPercent 0 disables panic mode)', async () => {
  const bad = await startStatusServer(502);
  await withApp(
    [{ name: 'bad', port: bad.port }],
    'outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 30s}',
    [bad],
    async (u) => {
      assert.equal((await get(u)).status, 502);
      assert.equal((await get(u)).status, 502);
      const r = await get(u);
      assert.equal(r.status, 503);
      assert.equal(r.text, 'no healthy upstream\n');
      assert.equal(bad.requests.length, 2);
    },
  );
});

test('below minHealthPercent healthy, every endpoint takes traffic again (panic mode)', async () => {
  const bad = await startStatusServer(502);
  await withApp(
    [{ name: 'bad', port: bad.port }],
    'outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 30s, minHealthPercent: 50}',
    [bad],
    async (u) => {
      for (let i = 0; i < 4; i++) assert.equal((await get(u)).status, 502);
      assert.equal(bad.requests.length, 4);
    },
  );
});

test('maxConnections 1 + http1MaxPendingRequests 1: one in flight, one queued, the rest 503 UO at once', async () => {
  const gate = await startGatedServer();
  await withApp(
    [{ name: 'a', port: gate.port }],
    'connectionPool:\n  tcp: {maxConnections: 1}\n  http: {http1MaxPendingRequests: 1}',
    [gate],
    async (u) => {
      const all = Array.from({ length: 5 }, (_, i) => get(u, `/${i}`));
      // Three get their answer while two wait on the gate.
      await waitFor(() => u.accessLines.filter((l) => / 503 UO /.test(l)).length === 3, 5000);
      assert.equal(gate.held(), 1, 'one request on the only connection');
      gate.release();
      const results = await Promise.all(all);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 503, 503, 503]);
      assert.ok(
        results
          .filter((r) => r.status === 503)
          .every((r) => r.text === 'upstream overflow: too many pending requests\n'),
      );
      assert.equal(gate.requests.length, 2);
    },
    virtualService('app', `- route:\n  - destination: {host: app}`),
  ); // Istio's default retries: an overflow is never retried
});

test('http2MaxRequests caps the requests in flight to the cluster (HTTP/1.1 too, as in Envoy)', async () => {
  const gate = await startGatedServer();
  await withApp(
    [{ name: 'a', port: gate.port }],
    'connectionPool:\n  http: {http2MaxRequests: 2}',
    [gate],
    async (u) => {
      const all = Array.from({ length: 4 }, (_, i) => get(u, `/${i}`));
      await waitFor(
        () => gate.held() === 2 && u.accessLines.filter((l) => / 503 UO /.test(l)).length === 2,
        5000,
      );
      gate.release();
      const results = await Promise.all(all);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 503, 503]);
    },
  );
});

test('maxRequestsPerConnection 2: the upstream sees a new connection every two requests', async () => {
  const ports: number[] = [];
  const s = await startRecordingServer((req, res) => {
    ports.push(req.socket.remotePort ?? 0);
    req.on('end', () => res.end('ok'));
  });
  await withApp(
    [{ name: 'a', port: s.port }],
    'connectionPool:\n  http: {maxRequestsPerConnection: 2}\n  tcp: {maxConnections: 1}',
    [s],
    async (u) => {
      for (let i = 0; i < 6; i++) assert.equal((await get(u, `/${i}`)).status, 200);
      assert.equal(ports.length, 6);
      assert.equal(new Set(ports).size, 3, `client ports ${ports.join(', ')}`);
      assert.equal(ports[0], ports[1]);
      assert.notEqual(ports[1], ports[2]);
    },
  );
});

test('maxRequestsPerConnection 1: one request per connection', async () => {
  const ports: number[] = [];
  const s = await startRecordingServer((req, res) => {
    ports.push(req.socket.remotePort ?? 0);
    req.on('end', () => res.end('ok'));
  });
  await withApp(
    [{ name: 'a', port: s.port }],
    'connectionPool:\n  http: {maxRequestsPerConnection: 1}',
    [s],
    async (u) => {
      for (let i = 0; i < 4; i++) assert.equal((await get(u, `/${i}`)).status, 200);
      assert.equal(new Set(ports).size, 4);
    },
  );
});

test('idleTimeout closes an idle upstream connection; without it the connection is reused', async () => {
  for (const [policy, fresh] of [
    ['connectionPool:\n  http: {idleTimeout: 100ms}', true],
    ['connectionPool:\n  tcp: {maxConnections: 4}', false],
  ] as const) {
    const ports: number[] = [];
    const s = await startRecordingServer((req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      req.on('end', () => res.end('ok'));
    });
    await withApp([{ name: 'a', port: s.port }], policy, [s], async (u) => {
      assert.equal((await get(u, '/1')).status, 200);
      await new Promise((ok) => setTimeout(ok, 400)); // idle: longer than 100 ms, shorter than 4 s
      assert.equal((await get(u, '/2')).status, 200);
      assert.equal(ports[0] !== ports[1], fresh, `${policy}: ports ${ports.join(', ')}`);
    });
  }
});
