// Hostile and odd clients, byte for byte: every request is written on a raw socket and judged by
// the exact outcome — status line, whether the connection was closed, what (if anything) reached
// an upstream, and the access-log flag. Covers issue 7's "downstream protocol" list.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { startEchoServer, waitFor, type TestServer } from '../helpers/servers.js';
import { twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra, workloadEntry, type TestUmbra } from '../helpers/umbra.js';
import { NODE_REJECTS } from './parser-cases.js';
import { exchange, header, headerCount, RawConnection } from './raw-http.js';

const H = 'Host: app:8000\r\n';

/** /public/* goes to v1, everything else to v2: a path trick that moves a request shows up as the wrong version. */
const ROUTES = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts:
  - app
  http:
  - match:
    - uri:
        prefix: /public
    route:
    - destination:
        host: app
        subset: v1
  - route:
    - destination:
        host: app
        subset: v2
`;

function rawService(port: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: raw
spec:
  ports:
  - name: http
    port: 8000
    targetPort: 80
  selector:
    app: raw
---
${workloadEntry('raw-1', port, { app: 'raw' })}`;
}

/**
 * An upstream that answers from a script, by path, with bytes node's server would never send:
 * a 204 that claims a body, a 304 with the representation's Content-Length.
 */
async function startScriptedUpstream(): Promise<{ port: number; paths: string[]; close(): Promise<void> }> {
  const paths: string[] = [];
  const sockets = new Set<Socket>();
  const replies: Record<string, string> = {
    '/204': 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\nx-from: raw\r\n\r\n',
    '/304': 'HTTP/1.1 304 Not Modified\r\ncontent-length: 1234\r\netag: "v1"\r\n\r\n',
    '/head': 'HTTP/1.1 200 OK\r\ncontent-length: 11\r\ncontent-type: text/plain\r\n\r\n',
    '/ok': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  };
  const server: NetServer = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const path = head.split(' ')[1] ?? '/';
        paths.push(path);
        s.write(replies[path] ?? replies['/ok']);
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    paths,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

let u: TestUmbra;
let v1: TestServer;
let v2: TestServer;
let raw: Awaited<ReturnType<typeof startScriptedUpstream>>;
let port: number;

before(async () => {
  v1 = await startEchoServer();
  v2 = await startEchoServer();
  raw = await startScriptedUpstream();
  u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': ROUTES,
    'raw.yaml': rawService(raw.port),
  });
  port = u.listener.address.port;
});

after(async () => {
  await u.close();
  await v1.close();
  await v2.close();
  await raw.close();
});

const forwarded = () => v1.requests.length + v2.requests.length + raw.paths.length;

/** Time for a request that was (wrongly) forwarded to reach its upstream before we count. */
const settle = () => new Promise((ok) => setTimeout(ok, 50));

/** The access-log line for a path (lines are flushed once per event-loop turn). */
async function accessLine(needle: string): Promise<string> {
  return waitFor(() => u.accessLines.find((l) => l.includes(needle)), 2_000);
}

/** Sends bytes, expects a local reply with `status` that closes the connection and forwards nothing. */
async function refused(bytes: string, status: number, what: string): Promise<void> {
  const before = forwarded();
  const { res, closed } = await exchange(port, bytes);
  assert.equal(res.status, status, `${what}: got ${res.status} ${res.body.toString()}`);
  assert.equal(closed, true, `${what}: connection left open`);
  await settle();
  assert.equal(forwarded(), before, `${what}: reached an upstream`);
}

test('requests node refuses are refused, closed, and never forwarded whole', async () => {
  for (const c of NODE_REJECTS) {
    const [n1, n2, nr] = [v1.requests.length, v2.requests.length, raw.paths.length];
    const { res, closed } = await exchange(port, c.bytes);
    assert.equal(res.status, c.status, `${c.name}: got ${res.status}`);
    assert.equal(closed, true, `${c.name}: connection left open`);
    await settle();
    const reached = [...v1.requests.slice(n1), ...v2.requests.slice(n2)];
    assert.equal(raw.paths.length, nr);
    if (c.stage === 'head') assert.deepEqual(reached, [], `${c.name}: reached an upstream`);
    // A body refused part-way may have started upstream (bodies stream); it must end aborted.
    for (const r of reached) {
      await waitFor(() => r.completed || r.aborted, 2_000).catch(() =>
        assert.fail(`${c.name}: the upstream request neither completed nor aborted: ${JSON.stringify(r)}`),
      );
      assert.equal(r.completed, false, `${c.name}: an upstream received the request complete`);
    }
  }
  assert.match(await accessLine('"GET / HTTP/1.1" 400'), /"GET \/ HTTP\/1.1" 400/);
});

test('HTTP/0.9, HTTP/2.0 in HTTP/1 framing, and HTTP/1.0 without Host', async () => {
  await refused('GET /public/x\r\n\r\n', 400, 'HTTP/0.9');
  await refused(`GET /public/x HTTP/2.0\r\n${H}\r\n`, 505, 'HTTP/2.0');
  await refused('GET /public/x HTTP/1.0\r\n\r\n', 400, 'HTTP/1.0 without Host');
  assert.match(await accessLine('"GET /public/x HTTP/1.0" 400'), /" 400 DPE /);

  // HTTP/1.0 with Host is served (and closed: no keep-alive asked for).
  const ok = await exchange(port, `GET /public/ten HTTP/1.0\r\n${H}\r\n`);
  assert.equal(ok.res.status, 200);
  assert.equal(ok.closed, true);
  assert.equal(v1.requests.at(-1)?.url, '/public/ten');
  // An HTTP/1.0 absolute-form target names its own authority: no Host needed.
  const abs = await exchange(port, 'GET http://app:8000/public/abs10 HTTP/1.0\r\n\r\n');
  assert.equal(abs.res.status, 200);
  assert.equal(v1.requests.at(-1)?.url, '/public/abs10');
  assert.equal(v1.requests.at(-1)?.headers.host, 'app:8000');
});

test('Host missing, duplicated or malformed is 400', async () => {
  await refused('GET /public/x HTTP/1.1\r\n\r\n', 400, 'no Host');
  await refused('GET http://app:8000/public/x HTTP/1.1\r\n\r\n', 400, 'HTTP/1.1 absolute-form without Host');
  await refused(`GET /public/x HTTP/1.1\r\n${H}${H}\r\n`, 400, 'same Host twice');
  await refused(`GET /public/x HTTP/1.1\r\n${H}Host: evil:8000\r\n\r\n`, 400, 'two different Hosts');
  for (const bad of [
    'app:8000@evil',
    'evil@app:8000',
    'app:8000/x',
    'app:99999',
    'app:0',
    'app:8000, evil',
    '[::1',
    'app:8000:1',
    '',
  ]) {
    await refused(`GET /public/x HTTP/1.1\r\nHost: ${bad}\r\n\r\n`, 400, `Host: ${JSON.stringify(bad)}`);
  }
  await refused(`GET http://evil@app:8000/public/x HTTP/1.1\r\n${H}\r\n`, 400, 'userinfo in the target');
  // A scheme the connection does not have: x-forwarded-proto would say https to the upstream.
  await refused(`GET https://app:8000/public/x HTTP/1.1\r\n${H}\r\n`, 400, 'https target on plaintext');
  await refused(`GET ftp://app:8000/public/x HTTP/1.1\r\n${H}\r\n`, 400, 'ftp target');
});

test('request targets: absolute-form routes by its own authority; "//", "*", fragments change nothing', async () => {
  // Absolute-form wins over Host (RFC 9112 §3.2.2); the upstream gets the target's authority.
  let r = await exchange(port, 'GET http://app:8000/public/abs?q=1 HTTP/1.1\r\nHost: elsewhere:9\r\n\r\n');
  assert.equal(r.res.status, 200);
  assert.equal(v1.requests.at(-1)?.url, '/public/abs?q=1');
  assert.equal(v1.requests.at(-1)?.headers.host, 'app:8000');

  // "//evil/x" is a path on the Host's service, never an authority.
  const before = forwarded();
  r = await exchange(port, `GET //evil/x HTTP/1.1\r\n${H}\r\n`);
  assert.equal(r.res.status, 200);
  assert.equal(forwarded(), before + 1);
  assert.equal(v2.requests.at(-1)?.url, '//evil/x');
  assert.equal(v2.requests.at(-1)?.headers.host, 'app:8000');

  // OPTIONS * is about Umbra itself: answered here, connection kept.
  const c = await RawConnection.open(port);
  try {
    c.write(`OPTIONS * HTTP/1.1\r\n${H}\r\n`);
    const o = await c.response();
    assert.equal(o.status, 200);
    assert.match(header(o, 'allow') ?? '', /GET/);
    c.write(`GET /public/after-star HTTP/1.1\r\n${H}\r\n`);
    assert.equal((await c.response()).status, 200);
  } finally {
    c.close();
  }
  assert.equal(forwarded(), before + 2);
  await refused(`GET * HTTP/1.1\r\n${H}\r\n`, 400, 'GET *');
  await refused(`GET /public/a#frag HTTP/1.1\r\n${H}\r\n`, 400, 'fragment');
  await refused(`GET http://app:8000/public/a#frag HTTP/1.1\r\n${H}\r\n`, 400, 'fragment in absolute-form');
  await refused(`GET /public/%00 HTTP/1.1\r\n${H}\r\n`, 400, '%00');
  await refused(`CONNECT app:8000 HTTP/1.1\r\n${H}\r\n`, 405, 'CONNECT');
  assert.match(await accessLine('"CONNECT app:8000 HTTP/1.1"'), /" 405 DPE /);
});

test('one path normalisation for matching and forwarding (Istio BASE)', async () => {
  const cases: [string, 'v1' | 'v2', string][] = [
    ['/public/../private', 'v2', '/private'], // the classic bypass: matched and sent as /private
    ['/public/./a/../b', 'v1', '/public/b'],
    ['/%70ublic/x', 'v1', '/public/x'], // unreserved characters are decoded once
    ['/%2570ublic', 'v2', '/%2570ublic'], // "%25" is not unreserved: never decoded, so never twice
    ['/public\\x', 'v1', '/public/x'], // backslash is a slash
    ['/public%2F..%2Fprivate', 'v1', '/public%2F..%2Fprivate'], // encoded slashes stay (not MERGE_SLASHES/DECODE)
    ['/public//x', 'v1', '/public//x'], // slashes are not merged by default
    ['/..', 'v2', '/'],
    ['/public/x?a=../b&c=%2e', 'v1', '/public/x?a=../b&c=%2e'], // the query is untouched
  ];
  for (const [sent, version, seen] of cases) {
    const server = version === 'v1' ? v1 : v2;
    const before = server.requests.length;
    const { res } = await exchange(port, `GET ${sent} HTTP/1.1\r\n${H}\r\n`);
    assert.equal(res.status, 200, sent);
    assert.equal(server.requests.length, before + 1, `${sent} should reach ${version}`);
    assert.equal(server.requests.at(-1)?.url, seen, sent);
  }
});

test('transfer codings other than chunked are 501; Transfer-Encoding in HTTP/1.0 is 400', async () => {
  await refused(
    `POST /public/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    501,
    'gzip, chunked',
  );
  await refused(
    `POST /public/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    501,
    'two TE lines',
  );
  await refused(`POST /public/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nhello`, 501, 'gzip alone');
  await refused(`POST /public/x HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, 501, 'identity');
  await refused(
    `POST /public/x HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    400,
    'TE in HTTP/1.0',
  );
  assert.match(await accessLine('" 501 DPE'), /"POST \/public\/x HTTP\/1.1" 501 DPE/);
  // Plain chunked is fine, in any case.
  const r = await exchange(
    port,
    `POST /public/chunked HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
  );
  assert.equal(r.res.status, 200);
  assert.equal(v1.requests.at(-1)?.bodyBytes, 5);
});

test('header count and size limits answer 431 and close; nothing is truncated silently', async () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `x-h-${i}: ${i}\r\n`).join('');
  // 100 lines (Host + 99) is the limit: served with every header intact.
  const r = await exchange(port, `GET /public/hundred HTTP/1.1\r\n${H}${lines(99)}\r\n`);
  assert.equal(r.res.status, 200);
  assert.equal(v1.requests.at(-1)?.headers['x-h-98'], '98');
  await refused(`GET /public/x HTTP/1.1\r\n${H}${lines(100)}\r\n`, 431, '101 header lines');
  await refused(`GET /public/x HTTP/1.1\r\n${H}${lines(3000)}\r\n`, 431, '3001 header lines');
  await refused(
    `GET /public/x HTTP/1.1\r\n${H}x-big: ${'b'.repeat(65 * 1024)}\r\n\r\n`,
    431,
    '65 KiB header',
  );
});

test('duplicate singleton headers with different values are 400; identical repeats pass', async () => {
  await refused(
    `GET /public/x HTTP/1.1\r\n${H}Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n`,
    400,
    'two Authorizations',
  );
  await refused(
    `GET /public/x HTTP/1.1\r\n${H}Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n`,
    400,
    'two Content-Types',
  );
  await refused(
    `GET /public/x HTTP/1.1\r\n${H}User-Agent: a\r\nuser-agent: b\r\n\r\n`,
    400,
    'two User-Agents',
  );
  const r = await exchange(port, `GET /public/same HTTP/1.1\r\n${H}User-Agent: a\r\nUser-Agent: a\r\n\r\n`);
  assert.equal(r.res.status, 200);
  // List-valued fields may repeat freely.
  const l = await exchange(port, `GET /public/list HTTP/1.1\r\n${H}Accept: a/b\r\nAccept: c/d\r\n\r\n`);
  assert.equal(l.res.status, 200);
  assert.equal(v1.requests.at(-1)?.headers.accept, 'a/b, c/d');
});

test('Expect: 100-continue is answered by Umbra and the body still streams', async () => {
  const c = await RawConnection.open(port);
  try {
    const before = v1.requests.length;
    c.write(`POST /public/upload HTTP/1.1\r\n${H}Content-Length: 10\r\nExpect: 100-continue\r\n\r\n`);
    const interim = await c.response('POST');
    assert.equal(interim.status, 100);
    c.write('hello');
    // The first half reaches v1 before the second is even sent: streamed, not buffered.
    const rec = await waitFor(
      () =>
        v1.requests.length > before && v1.requests.at(-1)!.bodyBytes === 5 ? v1.requests.at(-1) : undefined,
      2_000,
    );
    assert.equal(rec.completed, false);
    assert.equal(rec.headers.expect, undefined, 'Expect is hop-by-hop here');
    c.write('world');
    const final = await c.response('POST');
    assert.equal(final.status, 200);
    await waitFor(() => rec.completed, 2_000);
    assert.equal(rec.bodySha256, createHash('sha256').update('helloworld').digest('hex'));
  } finally {
    c.close();
  }
  // Any other expectation: 417 from node, nothing forwarded.
  const before = forwarded();
  const { res } = await exchange(
    port,
    `POST /public/x HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: something\r\n\r\nhello`,
  );
  assert.equal(res.status, 417);
  await settle();
  assert.equal(forwarded(), before);
});

test('request trailers are dropped (as Envoy does for HTTP/1), the body arrives, keep-alive survives', async () => {
  const c = await RawConnection.open(port);
  try {
    c.write(
      `POST /public/trailers HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n`,
    );
    const r = await c.response('POST');
    assert.equal(r.status, 200);
    const rec = v1.requests.at(-1)!;
    assert.equal(rec.url, '/public/trailers');
    assert.equal(rec.bodyBytes, 11);
    assert.equal(rec.headers.trailer, undefined);
    assert.equal(rec.headers['x-checksum'], undefined);
    c.write(`GET /public/next HTTP/1.1\r\n${H}\r\n`);
    assert.equal((await c.response()).status, 200);
    assert.equal(c.closed, false);
  } finally {
    c.close();
  }
});

test('HEAD, 204 and 304 responses carry no body, and the connection stays usable', async () => {
  const c = await RawConnection.open(port);
  try {
    // HEAD through to node's echo server: its Content-Length is kept, no body follows.
    c.write(`HEAD /public/head HTTP/1.1\r\n${H}\r\n`);
    const h = await c.response('HEAD');
    assert.equal(h.status, 200);
    assert.ok(Number(header(h, 'content-length')) > 0);
    // HEAD to an upstream that declares a length (and sends nothing).
    c.write('HEAD /head HTTP/1.1\r\nHost: raw:8000\r\n\r\n');
    const h2 = await c.response('HEAD');
    assert.equal(h2.status, 200);
    assert.equal(header(h2, 'content-length'), '11');
    // A 204 that claims a body: sent without Content-Length (RFC 9110 §8.6) and without a body.
    c.write('GET /204 HTTP/1.1\r\nHost: raw:8000\r\n\r\n');
    const n = await c.response();
    assert.equal(n.status, 204);
    assert.equal(headerCount(n, 'content-length'), 0);
    assert.equal(header(n, 'x-from'), 'raw');
    // A 304 with the representation's length: complete, length kept.
    c.write('GET /304 HTTP/1.1\r\nHost: raw:8000\r\n\r\n');
    const nm = await c.response();
    assert.equal(nm.status, 304);
    assert.equal(header(nm, 'content-length'), '1234');
    assert.equal(header(nm, 'etag'), '"v1"');
    // Whatever the framing said, the next response on this connection parses cleanly.
    c.write(`GET /public/after HTTP/1.1\r\n${H}\r\n`);
    const after = await c.response();
    assert.equal(after.status, 200);
    assert.equal(JSON.parse(after.body.toString()).path, '/public/after');
    assert.equal(c.unread(), '', 'no stray bytes on the connection');
    assert.equal(c.closed, false);
  } finally {
    c.close();
  }
  assert.match(await accessLine('"GET /304 HTTP/1.1" 304'), /" 304 - /);
});

test('client-supplied internal headers are stripped; X-Forwarded-For is appended, X-Forwarded-Proto set', async () => {
  const r = await exchange(
    port,
    `GET /public/internal HTTP/1.1\r\n${H}x-envoy-attempt-count: 7\r\nx-envoy-upstream-rq-timeout-ms: 1\r\nx-envoy-retry-on: 5xx\r\nx-forwarded-proto: https\r\nx-forwarded-for: 203.0.113.9\r\nx-request-id: abc-123\r\n\r\n`,
  );
  assert.equal(r.res.status, 200);
  const h = v1.requests.at(-1)!.headers;
  assert.equal(h['x-envoy-upstream-rq-timeout-ms'], undefined);
  assert.equal(h['x-envoy-retry-on'], undefined);
  assert.equal(h['x-envoy-attempt-count'], '1', "Umbra's own count, not the client's");
  assert.equal(h['x-forwarded-proto'], 'http', 'untrusted client: scheme of the connection');
  assert.equal(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  assert.equal(h['x-request-id'], 'abc-123');
  // Connection-nominated headers are hop-by-hop too; a WebSocket upgrade is tunnelled (issue 14),
  // carrying only the upgrade itself on this hop.
  await exchange(
    port,
    `GET /public/upgrade HTTP/1.1\r\n${H}Connection: upgrade, x-secret\r\nUpgrade: websocket\r\nx-secret: s\r\n\r\n`,
  );
  const u2 = v1.requests.at(-1)!.headers;
  assert.equal(u2.upgrade, 'websocket');
  assert.equal(u2['x-secret'], undefined);
});

test('X-Forwarded-For with trusted hops (Envoy xff_num_trusted_hops)', async () => {
  const t = await startTestUmbra(
    { 'mesh.yaml': twoVersionService(v1.port, v2.port), 'vs.yaml': ROUTES },
    { downstream: { xffTrustedHops: 1 } },
  );
  try {
    const r = await exchange(
      t.listener.address.port,
      `GET /public/hops HTTP/1.1\r\n${H}x-forwarded-for: 198.51.100.1, 203.0.113.9\r\nx-forwarded-proto: https\r\n\r\n`,
    );
    assert.equal(r.res.status, 200);
    const h = v1.requests.at(-1)!.headers;
    assert.equal(h['x-forwarded-for'], '198.51.100.1, 203.0.113.9, 127.0.0.1');
    assert.equal(
      h['x-forwarded-proto'],
      'https',
      'a trusted proxy in front says which scheme the client used',
    );
  } finally {
    await t.close();
  }
});
