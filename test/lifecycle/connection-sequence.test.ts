// A client connection is a sequence (issue 12, cases 3, 6 and 7): pipelined requests are forwarded
// one at a time in order; nothing behind a request Umbra refused and closed on reaches any
// upstream; copies never take the connection their primary needs; and an idempotent request that
// meets a reused upstream connection the upstream just closed is tried once more, not answered 503.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startEchoServer, startRecordingServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { RawConnection } from '../hardening/raw-http.js';
import { service, startRawUpstream } from './lifecycle-helpers.js';

const REFUSALS: readonly (readonly [string, number, string])[] = [
  [
    'Transfer-Encoding: gzip, chunked',
    501,
    'POST /a HTTP/1.1\r\nhost: app:8000\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  ],
  ['a duplicate Host', 400, 'GET /a HTTP/1.1\r\nhost: app:8000\r\nhost: other:8000\r\n\r\n'],
  [
    'too many header lines',
    431,
    `GET /a HTTP/1.1\r\nhost: app:8000\r\n${Array.from({ length: 120 }, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`,
  ],
];

test('nothing pipelined behind a refused request reaches any upstream', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  try {
    for (const [label, status, refused] of REFUSALS) {
      const c = await RawConnection.open(u.listener.address.port);
      try {
        c.write(refused + 'GET /smuggled HTTP/1.1\r\nhost: app:8000\r\n\r\n');
        const r = await c.response('GET', 10_000);
        assert.equal(r.status, status, label);
        assert.ok(await c.waitClosed(10_000), `${label}: connection closed after the refusal`);
        assert.ok(!c.unread().includes('HTTP/1.1'), `${label}: no second response`);
      } finally {
        c.close();
      }
    }
    // A plain request afterwards proves the proxy was listening all along.
    const ok = await request(`${u.proxyUrl}/after`, { headers: { host: 'app:8000' } });
    await ok.body.text();
    assert.equal(ok.statusCode, 200);
    await waitFor(() => v2.requests.length === 1, 5000);
    assert.deepEqual(
      v1.requests.map((r) => r.url),
      ['/after'],
    );
    assert.deepEqual(
      v2.requests.map((r) => r.url),
      ['/after'],
    );
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test('1000 pipelined requests on one connection: answered in order over a handful of upstream connections', async () => {
  const up = await startRawUpstream((head, s) => {
    const path = head.split(' ')[1];
    s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`);
  });
  const u = await startTestUmbra({ 'svc.yaml': service('seq', up.port) });
  const c = await RawConnection.open(u.listener.address.port);
  try {
    const N = 1000;
    let all = '';
    for (let i = 0; i < N; i++) all += `GET /r${i} HTTP/1.1\r\nhost: seq:8000\r\n\r\n`;
    c.write(all);
    for (let i = 0; i < N; i++) {
      const r = await c.response('GET', 30_000);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `/r${i}`);
    }
    assert.ok(up.connections() <= 4, `${up.connections()} upstream connections`);
  } finally {
    c.close();
    await u.close();
    await up.close();
  }
});

test('the keep-alive race: a GET on a connection the upstream closed while idle is tried again, never answered 503', async () => {
  // Answers the first request of each connection and closes the connection, without a word, when a
  // second one arrives: exactly what a request meets when it is written just as an idle timeout fires.
  const up = await startRawUpstream((_head, s, index) => {
    if (index > 0) {
      s.destroy();
      return 'stop-reading';
    }
    s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const u = await startTestUmbra({
    'svc.yaml': service(
      'racy',
      up.port,
      `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: racy
spec:
  hosts:
  - racy
  http:
  - retries:
      attempts: 0
    route:
    - destination:
        host: racy
`,
    ),
  });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await request(`${u.proxyUrl}/get/${i}`, { headers: { host: 'racy:8000' } });
      await r.body.text();
      statuses.push(r.statusCode);
    }
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
    // A POST is not idempotent: it is never sent twice.
    const before = up.heads.length;
    const p = await request(`${u.proxyUrl}/post`, {
      method: 'POST',
      headers: { host: 'racy:8000' },
      body: 'x',
    });
    await p.body.text();
    const posts = up.heads.slice(before).filter((h) => h.startsWith('POST'));
    assert.equal(posts.length, 1, 'the POST went out once');
  } finally {
    await u.close();
    await up.close();
  }
});

test('maxConnections: 1 with two copies: a copy never takes the connection its primary needs, and shows in /clusters', async () => {
  // v1 answers primaries at once and never answers a copy (the comparison baseline's copy hangs).
  const v1 = await startRecordingServer((req, res) => {
    req.resume();
    if (req.headers['x-umbra-mirror'] !== undefined) return;
    req.on('end', () => res.end('v1'));
  });
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port).replace(
      'spec:\n  host: app\n',
      'spec:\n  host: app\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: 1\n',
    ),
    'vs.yaml': routeToV1(`mirrors:
- destination:
    host: app
    subset: v1
- destination:
    host: app
    subset: v2`),
  });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await request(`${u.proxyUrl}/p/${i}`, { headers: { host: 'app:8000' } });
      assert.equal(await r.body.text(), 'v1');
      assert.equal(r.statusCode, 200);
    }
    // The three copies to v1 still hang, each counted as the endpoint's mirror traffic.
    const view = await waitFor(async () => {
      const r = await request(`${u.adminUrl}/clusters`);
      const j = (await r.body.json()) as {
        clusters: {
          name: string;
          endpoints: { address: string; inFlight: number; mirrorInFlight: number }[];
        }[];
      };
      const ep = j.clusters
        .flatMap((c) => c.endpoints)
        .find((e) => e.address === `127.0.0.1:${v1.port}` && e.mirrorInFlight === 3);
      return ep;
    }, 5000);
    assert.equal(view.inFlight, 0);
    // Primaries arrived first: each copy was dispatched after its primary.
    const order = v1.requests.map((r) => (r.headers['x-umbra-mirror'] ? 'copy' : 'primary'));
    assert.equal(order[0], 'primary');
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});
