// The built-in httpbin against real requests: httpbin's JSON shapes and bytes, the gunicorn-style
// access log with host=, statuses, delays, bodies of any size and keep-alive.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { Client, request } from 'undici';
import { startHttpbin, type Httpbin } from '../../src/workloads/httpbin.js';
import { waitFor } from '../helpers/servers.js';

let hb: Httpbin;
const lines: string[] = [];

before(async () => {
  hb = await startHttpbin({ name: 'httpbin-test', log: (l) => lines.push(l) });
});
after(() => hb.close());

const LOG_LINE =
  /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "(\S+) (\S+) HTTP\/1\.1" (\d{3}) (\d+) "([^"]*)" "([^"]*)" host=(\S+)$/;

/** The access-log line of the request with this unique path. */
function logFor(path: string): Promise<RegExpExecArray> {
  return waitFor(() => {
    for (const l of lines) {
      const m = LOG_LINE.exec(l);
      if (m && m[2] === path) return m;
    }
    return undefined;
  }, 2000);
}

/** Sends exactly these request headers (clients add their own) and returns the response's body. */
function rawGet(path: string, headers: [string, string][]): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(hb.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
      if (buf.length - end - 4 < length) return;
      sock.destroy();
      resolve({ head, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') });
    });
    sock.on('error', reject);
    sock.write(`GET ${path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  });
}

test('/headers answers like httpbin, title-cased and pretty-printed, and logs one gunicorn line', async () => {
  const { head, body } = await rawGet('/headers', [
    ['Host', 'httpbin:8000'],
    ['User-Agent', 'curl/7.35.0'],
    ['Accept', '*/*'],
  ]);
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nContent-Type: application\/json\r\n/);
  assert.equal(
    body,
    '{\n  "headers": {\n    "Accept": "*/*", \n    "Host": "httpbin:8000", \n    "User-Agent": "curl/7.35.0"\n  }\n}\n',
  );
  const m = await logFor('/headers');
  assert.deepEqual(m.slice(1), [
    'GET',
    '/headers',
    '200',
    String(Buffer.byteLength(body)),
    '-',
    'curl/7.35.0',
    'httpbin:8000',
  ]);
});

test("the seed's request through Envoy has the seed's size (321 bytes) and -shadow host shows in the log", async () => {
  // What the seed's curl sent through the Istio 0.x sidecar; the seed logs 321 bytes for it.
  const istio: [string, string][] = [
    ['accept', '*/*'],
    ['content-length', '0'],
    ['user-agent', 'curl/7.35.0'],
    ['x-b3-sampled', '1'],
    ['x-b3-spanid', 'eca3d7ed8f2e6a0a'],
    ['x-b3-traceid', 'eca3d7ed8f2e6a0a'],
    ['x-ot-span-context', 'eca3d7ed8f2e6a0a;eca3d7ed8f2e6a0a;0000000000000000'],
    // httpbin hides these hosting headers unless ?show_env is given
    ['x-request-id', '2f2e9a5d-8b4c-4a55-9d24-cf5e5b3e61d2'],
    ['x-forwarded-proto', 'http'],
  ];
  const v1 = await rawGet('/headers?v1', [['host', 'httpbin:8000'], ...istio]);
  assert.equal(Buffer.byteLength(v1.body), 321);
  assert.equal((await logFor('/headers?v1'))[4], '321');
  const v2 = await rawGet('/headers?v2', [['host', 'httpbin-shadow:8000'], ...istio]);
  const body = JSON.parse(v2.body) as { headers: Record<string, string> };
  assert.equal(body.headers['Host'], 'httpbin-shadow:8000');
  assert.equal(body.headers['X-B3-Traceid'], 'eca3d7ed8f2e6a0a');
  assert.equal(body.headers['X-Request-Id'], undefined);
  const m = await logFor('/headers?v2');
  assert.equal(m[7], 'httpbin-shadow:8000');
  assert.equal(m[4], '328');
});

test('/get reports args (lists for repeats), headers, origin and url', async () => {
  const res = await request(`${hb.url}/get?a=1&a=2&b=x%20y`, {
    headers: { host: 'httpbin:8000', 'x-forwarded-for': '10.1.2.3', 'x-dup': ['p', 'q'] },
  });
  const body = JSON.parse(await res.body.text()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['args', 'headers', 'origin', 'url']);
  assert.deepEqual(body.args, { a: ['1', '2'], b: 'x y' });
  assert.equal(body.origin, '10.1.2.3');
  assert.equal(body.url, 'http://httpbin:8000/get?a=1&a=2&b=x%20y');
  assert.equal((body.headers as Record<string, string>)['X-Dup'], 'p,q');
});

test('POST /post echoes data and json; forms are parsed; /anything reports the method', async () => {
  const res = await request(`${hb.url}/post?q=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"hello": ["wörld", 1]}',
  });
  assert.equal(res.statusCode, 200);
  const body = JSON.parse(await res.body.text()) as Record<string, unknown>;
  assert.equal(body.data, '{"hello": ["wörld", 1]}');
  assert.deepEqual(body.json, { hello: ['wörld', 1] });
  assert.deepEqual(body.args, { q: '1' });
  assert.deepEqual(body.form, {});

  const form = await request(`${hb.url}/anything/x/y`, {
    method: 'PUT',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a=1&a=2&b=%C3%A9',
  });
  const f = JSON.parse(await form.body.text()) as Record<string, unknown>;
  assert.equal(f.method, 'PUT');
  assert.deepEqual(f.form, { a: ['1', '2'], b: 'é' });
  assert.equal(f.data, '');
  assert.equal(f.json, null);

  const bin = await request(`${hb.url}/anything`, { method: 'PATCH', body: Buffer.from([0xff, 0x00]) });
  const b = JSON.parse(await bin.body.text()) as Record<string, unknown>;
  assert.equal(b.data, 'data:application/octet-stream;base64,/wA=');
});

test('a 5 MiB streamed POST is read to the end, counted, answered, and its echo capped at 1 MiB', async () => {
  const size = 5 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const res = await request(`${hb.url}/post?big`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += chunk.length) yield chunk;
      })(),
    ),
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-umbra-echo-truncated'], 'true');
  const body = JSON.parse(await res.body.text()) as { data: string; headers: Record<string, string> };
  assert.equal(body.data.length, 1024 * 1024);
  assert.equal(body.headers['Transfer-Encoding'], 'chunked');
  const m = await logFor('/post?big');
  assert.equal(m[3], '200');

  // /status does not echo: the body is only drained, and the connection stays usable.
  const st = await request(`${hb.url}/status/201`, { method: 'PUT', body: Buffer.alloc(size) });
  assert.equal(st.statusCode, 201);
  assert.equal(st.headers['x-umbra-echo-truncated'], undefined);
  await st.body.dump();
});

test('/status/N, 3xx Location, random picks, invalid codes', async () => {
  const teapot = await request(`${hb.url}/status/418`);
  assert.equal(teapot.statusCode, 418);
  assert.equal(teapot.headers['x-more-info'], 'http://tools.ietf.org/html/rfc2324');
  await teapot.body.dump();

  const r = await request(`${hb.url}/status/302`, { method: 'POST', body: 'x' });
  assert.equal(r.statusCode, 302);
  assert.equal(r.headers.location, '/redirect/1');
  await r.body.dump();

  const seen = new Set<number>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const s = await request(`${hb.url}/status/200,404`);
    seen.add(s.statusCode);
    await s.body.dump();
  }
  assert.deepEqual([...seen].sort(), [200, 404]);

  const weighted = await request(`${hb.url}/status/503:1,200:0`);
  assert.equal(weighted.statusCode, 503);
  await weighted.body.dump();

  const bad = await request(`${hb.url}/status/abc`);
  assert.equal(bad.statusCode, 400);
  assert.equal(await bad.body.text(), 'Invalid status code');

  const noContent = await request(`${hb.url}/status/204`);
  assert.equal(noContent.statusCode, 204);
  await noContent.body.dump();
  const m = await logFor('/status/204');
  assert.equal(m[4], '0');
});

test('/bytes/N returns N bytes, the same as real httpbin for a seed; /stream-bytes is chunked', async () => {
  const res = await request(`${hb.url}/bytes/1000`);
  assert.equal(res.headers['content-type'], 'application/octet-stream');
  assert.equal(Buffer.from(await res.body.arrayBuffer()).length, 1000);

  const seeded = await request(`${hb.url}/bytes/16?seed=3`);
  // python3 -c "import random; random.seed(3); print(bytes(random.randint(0,255) for _ in range(16)).hex())"
  assert.equal(
    Buffer.from(await seeded.body.arrayBuffer()).toString('hex'),
    '7942bdf22106f0847762f0f3cb4d764d',
  );

  const capped = await request(`${hb.url}/bytes/999999`);
  assert.equal(Buffer.from(await capped.body.arrayBuffer()).length, 100 * 1024);

  const stream = await request(`${hb.url}/stream-bytes/3000?chunk_size=1000&seed=3`);
  assert.equal(stream.headers['transfer-encoding'], 'chunked');
  const data = Buffer.from(await stream.body.arrayBuffer());
  assert.equal(data.length, 3000);
  assert.equal(data.subarray(0, 16).toString('hex'), '7942bdf22106f0847762f0f3cb4d764d');
  const m = await logFor('/stream-bytes/3000?chunk_size=1000&seed=3');
  assert.equal(m[4], '3000');
});

test('/delay/N waits N seconds (capped at 10) and echoes the request', async () => {
  const t0 = Date.now();
  const res = await request(`${hb.url}/delay/0.2`, { method: 'POST', body: 'hi' });
  const body = JSON.parse(await res.body.text()) as Record<string, unknown>;
  assert.ok(Date.now() - t0 >= 190, `answered after ${Date.now() - t0} ms`);
  assert.equal(body.data, 'hi');
  assert.equal(body.json, undefined);
});

test('/drip sends numbytes over duration; /uuid, /ip, /user-agent, /base64, /response-headers', async () => {
  const t0 = Date.now();
  const drip = await request(`${hb.url}/drip?numbytes=4&duration=0.3&code=201`);
  assert.equal(drip.statusCode, 201);
  assert.equal(await drip.body.text(), '****');
  assert.ok(Date.now() - t0 >= 200);

  const uuid = JSON.parse(await (await request(`${hb.url}/uuid`)).body.text()) as { uuid: string };
  assert.match(uuid.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(JSON.parse(await (await request(`${hb.url}/ip`)).body.text()), { origin: '127.0.0.1' });
  const ua = await request(`${hb.url}/user-agent`, { headers: { 'user-agent': 'tester/1' } });
  assert.equal(await ua.body.text(), '{\n  "user-agent": "tester/1"\n}\n');
  assert.equal(
    await (await request(`${hb.url}/base64/SFRUUEJJTiBpcyBhd2Vzb21l`)).body.text(),
    'HTTPBIN is awesome',
  );

  const rh = await request(`${hb.url}/response-headers?X-Version=v2&X-Version=v3`);
  assert.deepEqual(rh.headers['x-version'], ['v2', 'v3']);
  const text = await rh.body.text();
  const echoed = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(echoed['X-Version'], ['v2', 'v3']);
  assert.equal(echoed['Content-Length'], String(Buffer.byteLength(text)));
});

test('unknown paths get 404, wrong methods 405 with Allow, HEAD has no body, / a text page', async () => {
  const nf = await request(`${hb.url}/no/such/thing`);
  assert.equal(nf.statusCode, 404);
  assert.match(await nf.body.text(), /404 Not Found/);

  const na = await request(`${hb.url}/post`);
  assert.equal(na.statusCode, 405);
  assert.equal(na.headers.allow, 'OPTIONS, POST');
  await na.body.dump();

  const head = await request(`${hb.url}/get`, { method: 'HEAD' });
  assert.equal(head.statusCode, 200);
  assert.ok(Number(head.headers['content-length']) > 0);
  assert.equal((await head.body.arrayBuffer()).byteLength, 0);

  const landing = await request(`${hb.url}/`);
  assert.match(landing.headers['content-type'] as string, /^text\/plain/);
  assert.match(await landing.body.text(), /httpbin-test/);
});

test('keep-alive: several requests (with bodies) share one connection', async () => {
  const client = new Client(hb.url, { pipelining: 1 });
  let connects = 0;
  client.on('connect', () => connects++);
  try {
    for (let i = 0; i < 5; i++) {
      const body = Buffer.alloc(10_000 * (i + 1), i);
      const res = await client.request({ path: `/anything/ka${i}`, method: 'POST', body });
      const echo = JSON.parse(await res.body.text()) as { data: string };
      assert.equal(
        createHash('sha256').update(echo.data).digest('hex'),
        createHash('sha256').update(body).digest('hex'),
      );
      assert.equal(res.headers.connection, 'keep-alive');
    }
    assert.equal(connects, 1);
  } finally {
    await client.close();
  }
});

test('one access-log line per request; Basic users and referers are logged like gunicorn', async () => {
  const before = hb.requests;
  const res = await request(`${hb.url}/get?user`, {
    headers: {
      authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}`,
      referer: 'http://r/',
      'user-agent': 'undici',
    },
  });
  await res.body.dump();
  const line = await waitFor(() => lines.find((l) => l.includes('"GET /get?user HTTP/1.1"')), 2000);
  assert.match(line, /^127\.0\.0\.1 - alice \[/);
  assert.match(line, /" 200 \d+ "http:\/\/r\/" "undici" host=127\.0\.0\.1:\d+$/);
  assert.equal(lines.filter((l) => l.includes('/get?user ')).length, 1);
  assert.equal(hb.requests, before + 1);
});

test('close() ends pending delays and open connections promptly', async () => {
  const other = await startHttpbin({ log: () => {} });
  const pending = request(`${other.url}/delay/10`).then(
    () => 'answered',
    () => 'failed',
  );
  await waitFor(() => other.requests === 1, 2000);
  const t0 = Date.now();
  await other.close();
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(await pending, 'failed');
});
