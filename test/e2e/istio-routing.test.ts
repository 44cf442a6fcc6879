// Routing with real sockets: weights 90/10 over 2000 requests within 3σ, consistent hashing that
// keeps each key on one endpoint, a ServiceEntry host routed to and mirrored to, and CORS
// preflights answered by Umbra without reaching the upstream.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, request } from 'undici';
import { startEchoServer, waitFor, type TestServer } from '../helpers/servers.js';
import { destinationRule, serviceWith, virtualService } from '../helpers/istio-yaml.js';
import { twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';

async function drive(
  u: TestUmbra,
  n: number,
  headersOf: (i: number) => Record<string, string>,
  concurrency = 16,
): Promise<number[]> {
  const pool = new Pool(u.proxyUrl, { connections: concurrency });
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const r = await pool.request({ path: `/r${i}`, method: 'GET', headers: headersOf(i) });
        await r.body.text();
        statuses.push(r.statusCode);
      }
    }),
  );
  await pool.close();
  return statuses;
}

test('weights 90/10: 2000 requests split within 3σ', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': virtualService(
      'app',
      `- route:\n  - destination: {host: app, subset: v1}\n    weight: 90\n  - destination: {host: app, subset: v2}\n    weight: 10`,
    ),
  });
  try {
    const statuses = await drive(u, 2000, () => ({ host: 'app:8000' }));
    assert.ok(statuses.every((s) => s === 200));
    assert.equal(v1.requests.length + v2.requests.length, 2000);
    const sigma = Math.sqrt(2000 * 0.9 * 0.1);
    assert.ok(
      Math.abs(v1.requests.length - 1800) <= 3 * sigma,
      `v1 got ${v1.requests.length}, v2 ${v2.requests.length}`,
    );
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test('consistent hashing on a header: every request of a key reaches one endpoint', async () => {
  const servers: TestServer[] = await Promise.all([startEchoServer(), startEchoServer(), startEchoServer()]);
  const u = await startTestUmbra({
    'mesh.yaml': serviceWith(
      'app',
      servers.map((s, i) => ({ name: `e${i}`, port: s.port })),
    ),
    'dr.yaml': destinationRule('app', 'loadBalancer:\n  consistentHash: {httpHeaderName: x-user}'),
  });
  try {
    const statuses = await drive(u, 300, (i) => ({ host: 'app:8000', 'x-user': `user-${i % 30}` }), 8);
    assert.ok(statuses.every((s) => s === 200));
    const homes = new Map<string, Set<number>>();
    servers.forEach((s, idx) => {
      for (const r of s.requests) {
        const key = r.headers['x-user'] as string;
        if (!homes.has(key)) homes.set(key, new Set());
        homes.get(key)!.add(idx);
      }
    });
    assert.equal(homes.size, 30);
    for (const [key, where] of homes) assert.equal(where.size, 1, `${key} reached ${where.size} endpoints`);
    assert.ok(servers.filter((s) => s.requests.length > 0).length >= 2, 'keys spread over the endpoints');
  } finally {
    await u.close();
    await Promise.all(servers.map((s) => s.close()));
  }
});

test('a ServiceEntry host (STATIC endpoints) is routed to, and mirrored to, like a Service', async () => {
  const api = await startEchoServer();
  const shadow = await startEchoServer();
  const se = (name: string, host: string, port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
spec:
  hosts: [${host}]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]
`;
  const u = await startTestUmbra({
    'se.yaml': `${se('api', 'api.example.com', api.port)}---\n${se('shadow', 'shadow.example.com', shadow.port)}`,
    'vs.yaml': virtualService(
      'api.example.com',
      `- route:\n  - destination: {host: api.example.com}\n  mirror: {host: shadow.example.com}`,
    ).replace('name: api.example.com', 'name: api'),
  });
  try {
    const r = await request(`${u.proxyUrl}/v1/items`, { headers: { host: 'api.example.com' } });
    assert.equal(r.statusCode, 200);
    assert.equal(((await r.body.json()) as { path: string }).path, '/v1/items');
    await waitFor(() => shadow.requests.length === 1, 3000);
    assert.equal(shadow.requests[0].headers.host, 'api.example.com-shadow');
  } finally {
    await u.close();
    await api.close();
    await shadow.close();
  }
});

test('CORS: an allowed preflight is answered by Umbra; the actual response carries the headers', async () => {
  const s = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': serviceWith('app', [{ name: 'a', port: s.port }]),
    'vs.yaml': virtualService(
      'app',
      `- route:\n  - destination: {host: app}\n  corsPolicy:\n    allowOrigins: [{exact: "https://ui.example"}]\n    allowMethods: [GET, PUT]\n    allowHeaders: [x-token]\n    exposeHeaders: [x-request-id]\n    maxAge: 10m`,
    ),
  });
  try {
    const pre = await request(`${u.proxyUrl}/items`, {
      method: 'OPTIONS',
      headers: { host: 'app:8000', origin: 'https://ui.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(pre.statusCode, 200);
    await pre.body.text();
    assert.equal(pre.headers['access-control-allow-origin'], 'https://ui.example');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,PUT');
    assert.equal(pre.headers['access-control-allow-headers'], 'x-token');
    assert.equal(pre.headers['access-control-max-age'], '600');
    assert.equal(s.requests.length, 0, 'the preflight never reached the upstream');

    const actual = await request(`${u.proxyUrl}/items`, {
      headers: { host: 'app:8000', origin: 'https://ui.example' },
    });
    assert.equal(actual.statusCode, 200);
    await actual.body.text();
    assert.equal(actual.headers['access-control-allow-origin'], 'https://ui.example');
    assert.equal(actual.headers['access-control-expose-headers'], 'x-request-id');

    const other = await request(`${u.proxyUrl}/items`, {
      headers: { host: 'app:8000', origin: 'https://evil.example' },
    });
    await other.body.text();
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  } finally {
    await u.close();
    await s.close();
  }
});
