// Headers and small behaviours of the request path (issue 12, cases 5 and 8, and two from issue 17):
// the loop marker is Umbra's alone, proxy credentials never cross, every Connection header is read,
// log fields escape every control character, direct responses are UTF-8, 101 to a plain request is
// 502, a chunk-extension flood is 413, an upstream that never answers is 504 UT, a chunked body's
// bytes are logged, mirrors' errors use the primaries' table, and departed endpoints leave no state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { loadText } from '../../src/config/load.js';
import { buildRouteTable, DEFAULT_BUILD } from '../../src/translate/build-table.js';
import { Upstreams } from '../../src/proxy/upstreams.js';
import { AccessLog } from '../../src/proxy/access-log.js';
import type { RouteTable } from '../../src/model/route-table.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startEchoServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { exchange, header } from '../hardening/raw-http.js';
import { service, startRawUpstream } from './lifecycle-helpers.js';
import { scratchDir } from '../helpers/scratch.js';

const MIRROR = 'app.default|v2';

test('a client-sent x-umbra-mirror never reaches the primary and does not switch mirroring off', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  try {
    const r = await request(`${u.proxyUrl}/hide`, {
      headers: { host: 'app:8000', 'x-umbra-mirror': 'app.default|v2' },
    });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    assert.equal(v1.requests[0].headers['x-umbra-mirror'], undefined);
    const copy = await waitFor(() => v2.requests[0], 5000);
    assert.equal(copy.url, '/hide');
    assert.equal(u.proxy.mirrors.counters.get(MIRROR)?.dropped.loop, 0);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test('Proxy-Authenticate and Proxy-Authorization never cross; a second Connection header is honoured', async () => {
  const up = await startRawUpstream((_head, s) => {
    s.write(
      'HTTP/1.1 200 OK\r\nproxy-authenticate: Basic realm="inner"\r\nconnection: keep-alive\r\nconnection: x-secret\r\nx-secret: 1\r\nx-kept: 2\r\ncontent-length: 2\r\n\r\nok',
    );
  });
  const u = await startTestUmbra({ 'svc.yaml': service('creds', up.port) });
  try {
    const { res } = await exchange(
      u.listener.address.port,
      'GET / HTTP/1.1\r\nhost: creds:8000\r\nproxy-authorization: Basic Zm9vOmJhcg==\r\n\r\n',
    );
    assert.equal(res.status, 200);
    assert.equal(header(res, 'proxy-authenticate'), undefined);
    assert.equal(header(res, 'x-secret'), undefined);
    assert.equal(header(res, 'x-kept'), '2');
    assert.ok(!/proxy-authorization/i.test(up.heads[0]));
  } finally {
    await u.close();
    await up.close();
  }
});

test('101 to a request that asked for no upgrade is 502', async () => {
  const up = await startRawUpstream((_head, s) => {
    s.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
  });
  const u = await startTestUmbra({ 'svc.yaml': service('sw', up.port) });
  try {
    const { res } = await exchange(u.listener.address.port, 'GET / HTTP/1.1\r\nhost: sw:8000\r\n\r\n');
    assert.equal(res.status, 502);
    await waitFor(() => u.accessLines.some((l) => / 502 UPE /.test(l)), 5000);
  } finally {
    await u.close();
    await up.close();
  }
});

test('an interim 103 is not relayed as the answer; a 204 leaves the upstream connection reusable', async () => {
  const up = await startRawUpstream((head, s) => {
    if (head.startsWith('GET /empty')) s.write('HTTP/1.1 204 No Content\r\n\r\n');
    else
      s.write(
        'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal',
      );
  });
  const u = await startTestUmbra({ 'svc.yaml': service('hints', up.port) });
  try {
    const r = await request(`${u.proxyUrl}/`, { headers: { host: 'hints:8000' } });
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'final');
    for (let i = 0; i < 3; i++) {
      const h = await request(`${u.proxyUrl}/empty`, { headers: { host: 'hints:8000' } });
      await h.body.text();
      assert.equal(h.statusCode, 204);
    }
    assert.equal(up.connections(), 1, 'one upstream connection for all four requests');
  } finally {
    await u.close();
    await up.close();
  }
});

test('a chunk-extension flood is 413', async () => {
  const v1 = await startEchoServer();
  const u = await startTestUmbra({ 'svc.yaml': service('ext', v1.port) });
  try {
    const { res, closed } = await exchange(
      u.listener.address.port,
      `POST / HTTP/1.1\r\nhost: ext:8000\r\ntransfer-encoding: chunked\r\n\r\n1;${'a=b;'.repeat(40_000)}\r\nx\r\n0\r\n\r\n`,
      { closeWaitMs: 5000 },
    );
    assert.equal(res.status, 413);
    assert.ok(closed);
  } finally {
    await u.close();
    await v1.close();
  }
});

test('a directResponse body goes out as UTF-8, its length as sent', async () => {
  const v1 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v1.port),
    'vs.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts:
  - app
  http:
  - directResponse:
      status: 200
      body:
        string: "héllo ✓"
`,
  });
  try {
    const r = await request(`${u.proxyUrl}/`, { headers: { host: 'app:8000' } });
    const body = Buffer.from(await r.body.arrayBuffer());
    assert.equal(body.toString('utf8'), 'héllo ✓');
    assert.equal(Number(r.headers['content-length']), body.length);
    const line = await waitFor(() => u.accessLines.find((l) => l.includes('"GET / HTTP/1.1" 200')), 5000);
    assert.match(line, new RegExp(`" 200 - 0 ${body.length} `));
    assert.equal(v1.requests.length, 0);
  } finally {
    await u.close();
    await v1.close();
  }
});

test('access-log fields escape C0, C1 (NEL), U+2028 and DEL', async () => {
  const v1 = await startEchoServer();
  const u = await startTestUmbra({ 'svc.yaml': service('log', v1.port) });
  try {
    // Raw bytes node lets through in a header value: TAB (C0), NEL (0x85, C1), the UTF-8 of U+2028.
    const head = Buffer.concat([
      Buffer.from('GET /l HTTP/1.1\r\nhost: log:8000\r\nuser-agent: a\t', 'latin1'),
      Buffer.from([0x85]),
      Buffer.from('b\u2028c', 'utf8'),
      Buffer.from('\r\n\r\n', 'latin1'),
    ]);
    const { res } = await exchange(u.listener.address.port, head);
    assert.equal(res.status, 200);
    const line = await waitFor(() => u.accessLines.find((l) => l.includes('"GET /l HTTP/1.1"')), 5000);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    assert.match(line, /\\x85/);
  } finally {
    await u.close();
    await v1.close();
  }
  // node refuses DEL and most of C0 in a request head; fields can still carry them (JSON and text alike).
  const out: string[] = [];
  for (const format of ['text', 'json'] as const) {
    const log = new AccessLog((s) => out.push(s), format);
    log.log({
      start: 0,
      method: 'GET',
      path: '/p',
      protocol: 'HTTP/1.1',
      status: 200,
      flags: '-',
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      upstream: '-',
      authority: 'a',
      requestId: 'id\x7f\u0085\u2028\u2029\x1b',
      userAgent: 'x\ny',
      route: 'r',
    });
    log.flush();
  }
  for (const l of out.join('').trimEnd().split('\n'))
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(l, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, l);
});

test('an upstream that never answers a complete request ends as 504 UT, not the client idle timeout', async () => {
  const up = await startRawUpstream(() => undefined);
  const u = await startTestUmbra(
    { 'svc.yaml': service('idle', up.port) },
    {
      downstream: { idleTimeoutMs: 500 },
    },
  );
  try {
    const { res } = await exchange(u.listener.address.port, 'GET / HTTP/1.1\r\nhost: idle:8000\r\n\r\n', {
      timeoutMs: 20_000,
    });
    assert.equal(res.status, 504);
    await waitFor(() => u.accessLines.some((l) => /"GET \/ HTTP\/1.1" 504 UT /.test(l)), 5000);
  } finally {
    await u.close();
    await up.close();
  }
});

test("a chunked request's body bytes are logged on the primary's line", async () => {
  const v1 = await startEchoServer();
  const u = await startTestUmbra({ 'svc.yaml': service('chunky', v1.port) });
  try {
    const { res } = await exchange(
      u.listener.address.port,
      'POST /c HTTP/1.1\r\nhost: chunky:8000\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    assert.equal(res.status, 200);
    const line = await waitFor(() => u.accessLines.find((l) => l.includes('"POST /c HTTP/1.1"')), 5000);
    assert.match(line, /"POST \/c HTTP\/1.1" 200 - 11 /);
  } finally {
    await u.close();
    await v1.close();
  }
});

/** An HTTPS server on 127.0.0.1 with a fresh self-signed certificate (untrusted by anyone). */
async function startSelfSignedHttps(): Promise<{ port: number; close(): Promise<void> }> {
  const dir = scratchDir('umbra-lifecycle-tls-');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
    ].concat(['-out', cert, '-days', '1', '-subj', '/CN=self.signed']),
    { stdio: 'ignore' },
  );
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    req.resume();
    req.on('end', () => res.end('tls'));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          ok();
        });
      }),
  };
}

test("a mirror's TLS failure counts as connect, as the primary's would (one error table)", async () => {
  const v1 = await startEchoServer();
  const v2 = await startSelfSignedHttps(); // its certificate is trusted by nobody
  const mesh = twoVersionService(v1.port, v2.port).replace(
    '  - name: v2\n    labels:\n      version: v2\n',
    '  - name: v2\n    labels:\n      version: v2\n    trafficPolicy:\n      tls:\n        mode: SIMPLE\n',
  );
  assert.ok(mesh.includes('SIMPLE'));
  const u = await startTestUmbra({ 'mesh.yaml': mesh, 'vs.yaml': routeToV1(MIRROR_V2) });
  try {
    const r = await request(`${u.proxyUrl}/tls`, { headers: { host: 'app:8000' } });
    await r.body.text();
    assert.equal(r.statusCode, 200);
    const c = await waitFor(() => {
      const k = u.proxy.mirrors.counters.get(MIRROR);
      return k && k.inFlight === 0 && k.sent === 1 ? k : undefined;
    }, 5000);
    assert.equal(c.failed.connect, 1, JSON.stringify(c.failed));
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

function table(v1Port: number, version: number): RouteTable {
  const { resources } = loadText(`${twoVersionService(v1Port, 18082)}---\n${routeToV1()}`, 'mesh.yaml');
  return buildRouteTable(resources, { ...DEFAULT_BUILD, version }).table;
}

test('endpoint state is pruned when the endpoint leaves: a new pod at the old address starts healthy', async () => {
  const u = new Upstreams();
  const t1 = table(18081, 1);
  const c1 = [...t1.clusters.values()].find((x) => x.subset === 'v1')!;
  const st = u.state(c1, c1.endpoints[0]);
  st.ejections = 3;
  st.ejectedUntil = Date.now() + 60_000;
  u.retain(table(18091, 2)); // the endpoint left
  assert.ok(!u.snapshot().some((s) => s.key.endsWith(':18081')), 'no state left for the old endpoint');
  const t3 = table(18081, 3); // a new pod at the old address
  const c3 = [...t3.clusters.values()].find((x) => x.subset === 'v1')!;
  u.retain(t3);
  const fresh = u.state(c3, c3.endpoints[0]);
  assert.equal(fresh.ejections, 0);
  assert.equal(fresh.ejectedUntil, 0);
  await u.close();
});
