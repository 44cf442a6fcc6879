// Requests that end before the client has sent its whole body (issue 12, cases 1 and 2): the
// client gets the answer, its body is drained within a bound or its connection closed — never left
// half-read — and copies to a healthy mirror are not harmed by the primary's early end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import type { Socket } from 'node:net';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { freePort, startEchoServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { RawConnection } from '../hardening/raw-http.js';
import { service, startRawUpstream, upload } from './lifecycle-helpers.js';

const MiB = 1024 * 1024;
const MIRROR = 'app.default|v2';

test('an upstream that answers before reading a 5 MiB body: the client gets it, and the next request is answered or refused', async () => {
  // Answers at once and never reads the body of that connection again.
  const up = await startRawUpstream((_head, s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nearly');
    return 'stop-reading';
  });
  const u = await startTestUmbra({ 'svc.yaml': service('early', up.port) });
  const c = await RawConnection.open(u.listener.address.port);
  try {
    c.write(`POST /upload HTTP/1.1\r\nhost: early:8000\r\ncontent-length: ${5 * MiB}\r\n\r\n`);
    const sending = upload(c.socket, 5 * MiB);
    const r = await c.response('POST', 20_000);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'early');
    await sending;
    // The connection is usable for a next request (body drained) or closed: never left hanging.
    c.write('GET /next HTTP/1.1\r\nhost: early:8000\r\n\r\n');
    let next: Awaited<ReturnType<RawConnection['response']>> | undefined;
    try {
      next = await c.response('GET', 20_000);
    } catch (e) {
      assert.ok(c.closed, `neither answered nor closed: ${(e as Error).message}`);
    }
    if (next) {
      assert.equal(next.status, 200);
      // The upstream connection whose request body was cut is never reused.
      assert.equal(up.connections(), 2);
    }
    await waitFor(() => u.accessLines.some((l) => l.includes('"POST /upload HTTP/1.1" 200')), 5000);
  } finally {
    c.close();
    await u.close();
    await up.close();
  }
});

for (const [label, retries] of [
  ['retries: 0', 'retries:\n  attempts: 0'],
  ['the default retries, body over the replay limit', ''],
] as const) {
  test(`v1 down on a mirrored route (${label}): 12 uploads answered 503, copies to v2 complete, its breaker stays closed`, async () => {
    const v1Port = await freePort();
    const v2 = await startEchoServer();
    const u = await startTestUmbra({
      'mesh.yaml': twoVersionService(v1Port, v2.port),
      'vs.yaml': routeToV1(`${MIRROR_V2}\n${retries}`),
    });
    const pool = new Pool(u.proxyUrl, { connections: 1 });
    const accepted: Socket[] = [];
    u.listener.server.on('connection', (s: Socket) => accepted.push(s));
    try {
      const body = Buffer.alloc(256 * 1024, 'b');
      for (let i = 0; i < 12; i++) {
        const r = await pool.request({
          method: 'POST',
          path: `/up/${i}`,
          headers: { host: 'app:8000', 'content-type': 'application/octet-stream' },
          body,
        });
        await r.body.text();
        assert.equal(r.statusCode, 503, `upload ${i}`);
      }
      // Every copy reached v2 whole: the primary's failure did not starve the copies.
      await waitFor(() => v2.requests.filter((x) => x.completed).length === 12, 15_000);
      assert.ok(v2.requests.every((x) => x.bodyBytes === body.length));
      const c = await waitFor(() => {
        const k = u.proxy.mirrors.counters.get(MIRROR);
        return k && k.inFlight === 0 && k.completed['2xx'] === 12 ? k : undefined;
      }, 15_000);
      assert.equal(c.failed.timeout, 0);
      assert.equal(u.proxy.mirrors.breakerState(MIRROR), 'closed');
      assert.equal(u.proxy.budget.used, 0, 'every buffered byte given back');
      // All 12 went over one keep-alive connection, each body drained after its early answer:
      // nothing of a drained request stays attached to the connection (it once kept a 'close'
      // listener per request, and the request with it, until the connection closed).
      assert.equal(accepted.length, 1);
      assert.ok(
        accepted[0].listenerCount('close') <= 3,
        `close listeners: ${accepted[0].listenerCount('close')}`,
      );
    } finally {
      await pool.close();
      await u.close();
      await v2.close();
    }
  });
}

test('v1 down and a client that uploads without end: answered 503, its connection cut within the drain bound, copies end as client_abort', async (t) => {
  const v1Port = await freePort();
  // v2 reads every byte as fast as it comes: the copy is never the one that falls behind.
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1Port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  const c = await RawConnection.open(u.listener.address.port);
  const total = 256 * MiB;
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  try {
    c.write(`POST /forever HTTP/1.1\r\nhost: app:8000\r\ncontent-length: ${total}\r\n\r\n`);
    const sending = upload(c.socket, total);
    const r = await c.response('POST', 20_000);
    assert.equal(r.status, 503);
    const sent = await sending;
    assert.ok(await c.waitClosed(30_000), 'the connection is closed after the drain bound');
    assert.ok(sent < total, `the upload was cut (${sent} of ${total} bytes accepted)`);
    const k = await waitFor(() => {
      const x = u.proxy.mirrors.counters.get(MIRROR);
      return x && x.inFlight === 0 ? x : undefined;
    }, 15_000);
    // The copy ends with the client's upload: the client's doing, not the mirror's failure.
    assert.equal(k.failed.timeout, 0);
    assert.equal(u.proxy.mirrors.breakerState(MIRROR), 'closed');
    assert.equal(u.proxy.budget.used, 0);
    t.diagnostic(`accepted ${(sent / MiB).toFixed(1)} MiB; RSS +${((rssPeak - rss0) / MiB).toFixed(0)} MiB`);
  } finally {
    clearInterval(sampler);
    c.close();
    await u.close();
    await v2.close();
  }
});
