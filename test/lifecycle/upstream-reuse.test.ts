// Keep-alive reuse upstream (a regression found by the benchmark): sequential mirrored requests —
// a fast GET, and a small POST whose body goes to both sides — reuse the primary's and the copy's
// upstream connections instead of opening one per request. Counts connections, never times them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startEchoServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';

const MIRROR = 'app.default|v2';
const N = 50;

for (const method of ['GET', 'POST'] as const)
  test(`${N} sequential mirrored ${method}s reuse a handful of upstream connections on each side`, async () => {
    const v1 = await startEchoServer();
    const v2 = await startEchoServer();
    const u = await startTestUmbra({
      'mesh.yaml': twoVersionService(v1.port, v2.port),
      'vs.yaml': routeToV1(MIRROR_V2),
    });
    const client = new Client(u.proxyUrl);
    try {
      const body = method === 'POST' ? Buffer.alloc(2000, 'x') : undefined;
      for (let i = 0; i < N; i++) {
        const r = await client.request({
          method,
          path: `/reuse?i=${i}`,
          headers: { host: 'app:8000', ...(body ? { 'content-type': 'application/octet-stream' } : {}) },
          body,
        });
        const echo = (await r.body.json()) as { bodyBytes: number };
        assert.equal(r.statusCode, 200);
        assert.equal(echo.bodyBytes, body?.length ?? 0);
        // One copy at a time: a copy still running when the next one starts may rightly take a
        // second connection, so each waits for the one before (a count, not a timing).
        const c = u.proxy.mirrors.counters.get(MIRROR)!;
        await waitFor(() => c.inFlight === 0, 10_000);
      }
      const c = u.proxy.mirrors.counters.get(MIRROR)!;
      assert.equal(c.completed['2xx'], N, JSON.stringify(c));
      assert.equal(v2.requests.length, N);
      assert.ok(
        v2.requests.every((r) => r.completed && r.bodyBytes === (body?.length ?? 0)),
        'every copy carried the whole body',
      );
      assert.ok(v1.connections <= 4, `v1 accepted ${v1.connections} connections for ${N} requests`);
      assert.ok(v2.connections <= 4, `v2 accepted ${v2.connections} connections for ${N} copies`);
    } finally {
      await client.close();
      await u.close();
      await v1.close();
      await v2.close();
    }
  });
