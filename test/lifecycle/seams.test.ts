// The lifecycle's seams other work plugs into (docs/request-lifecycle.md "Seams"): a listener on a
// server made elsewhere, the overload guard's refusals (connections and copies), and the one place
// where an admitted copy's head and body leave Umbra (recording).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { request } from 'undici';
import { serverOptions, startListener } from '../../src/proxy/listener.js';
import { findVirtualHost } from '../../src/proxy/router.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startEchoServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { RawConnection } from '../hardening/raw-http.js';

const MIRROR = 'app.default|v2';

test('a listener on a server made elsewhere; new connections refused while the guard says so', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  let refusing = false;
  const l = await startListener(u.proxy, findVirtualHost, {
    host: '127.0.0.1',
    port: 0,
    server: createServer(serverOptions()),
    refuseConnections: () => refusing,
  });
  try {
    const ok = await request(`http://127.0.0.1:${l.address.port}/given`, { headers: { host: 'app:8000' } });
    await ok.body.text();
    assert.equal(ok.statusCode, 200);
    refusing = true;
    const c = await RawConnection.open(l.address.port);
    c.write('GET /refused HTTP/1.1\r\nhost: app:8000\r\n\r\n');
    assert.ok(await c.waitClosed(5000), 'a refused connection is closed at once');
    assert.equal(c.received(), '');
    c.close();
    assert.deepEqual(
      v1.requests.map((r) => r.url),
      ['/given'],
    );
  } finally {
    await l.close(0);
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test("copies: the recording hook sees each admitted copy's head and body; the guard can refuse new copies", async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  const seen: { path: string; host: string | undefined; bytes: number; ended: boolean }[] = [];
  u.proxy.mirrors.onCopy = (_policy, req, headers) => {
    const rec = { path: req.path, host: headers[headers.indexOf('host') + 1], bytes: 0, ended: false };
    seen.push(rec);
    return { data: (c) => (rec.bytes += c.length), end: () => (rec.ended = true) };
  };
  try {
    const r = await request(`${u.proxyUrl}/rec`, {
      method: 'POST',
      headers: { host: 'app:8000' },
      body: Buffer.alloc(100_000, 'r'),
    });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    await waitFor(() => v2.requests[0]?.completed, 5000);
    assert.equal(v2.requests[0].bodyBytes, 100_000, 'observing the body does not take it from the copy');
    await waitFor(() => seen[0]?.ended, 5000);
    assert.deepEqual(seen, [{ path: '/rec', host: 'app-shadow:8000', bytes: 100_000, ended: true }]);

    u.proxy.mirrors.refuseCopies = () => true;
    const again = await request(`${u.proxyUrl}/guarded`, { headers: { host: 'app:8000' } });
    await again.body.text();
    assert.equal(again.statusCode, 200, 'the primary is unaffected');
    assert.equal(u.proxy.mirrors.counters.get(MIRROR)?.dropped.in_flight_cap, 1);
    assert.equal(seen.length, 1);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});
