// The real httpbin under gunicorn as a test upstream: it starts on a free port, logs the Host it got
// (host=httpbin-shadow:8000 for a mirror), and the built-in workload answers the same as it does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { gunicornAvailable, startGunicornHttpbin } from './gunicorn.js';
import { startHttpbin } from '../../src/workloads/httpbin.js';

test('gunicorn httpbin logs the -shadow Host it receives', async (t) => {
  if (!gunicornAvailable()) return t.skip('gunicorn not installed');
  const g = await startGunicornHttpbin();
  try {
    const res = await request(`${g.url}/headers`, {
      headers: { host: 'httpbin-shadow:8000', 'user-agent': 'curl/7.35.0', accept: '*/*' },
    });
    assert.equal(res.statusCode, 200);
    const body = JSON.parse(await res.body.text()) as { headers: Record<string, string> };
    assert.equal(body.headers['Host'], 'httpbin-shadow:8000');
    const line = await g.waitForLog((l) => l.includes('host=httpbin-shadow:8000'), 5000);
    assert.match(
      line,
      /^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/headers HTTP\/1\.1" 200 \d+ "-" "curl\/7\.35\.0" host=httpbin-shadow:8000$/,
    );
    // the readiness probe is not among the logs
    assert.deepEqual(g.logs(), [line]);
  } finally {
    await g.close();
  }
  // close() stopped the process it started
  assert.throws(() => process.kill(g.pid, 0));
});

test('the built-in httpbin answers like the real one', async (t) => {
  if (!gunicornAvailable()) return t.skip('gunicorn not installed');
  const [g, b] = await Promise.all([startGunicornHttpbin(), startHttpbin({ log: () => {} })]);
  try {
    const cases: { method: string; path: string; headers?: Record<string, string>; body?: string }[] = [
      {
        method: 'GET',
        path: '/headers',
        headers: { 'x-b3-traceid': 'abc', 'x-request-id': 'r', x_under: 'u' },
      },
      { method: 'GET', path: '/get?a=1&a=2&b=%20', headers: { 'x-forwarded-for': '1.2.3.4' } },
      {
        method: 'POST',
        path: '/post?x=y',
        headers: { 'content-type': 'application/json' },
        body: '{"k": [1, "é"]}',
      },
      {
        method: 'PUT',
        path: '/put',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=1&a=2',
      },
      { method: 'PATCH', path: '/anything/a/b', body: 'plain' },
      { method: 'DELETE', path: '/delete' },
      { method: 'GET', path: '/bytes/64?seed=7' },
      { method: 'GET', path: '/stream-bytes/64?seed=7' },
      { method: 'GET', path: '/status/418' },
      { method: 'POST', path: '/status/307' },
      { method: 'GET', path: '/response-headers?X-A=1&X-A=2' },
      { method: 'GET', path: '/base64/SFRUUEJJTiBpcyBhd2Vzb21l' },
      { method: 'GET', path: '/user-agent', headers: { 'user-agent': 'ua/1' } },
      { method: 'GET', path: '/nothing-here' },
      { method: 'GET', path: '/post' },
    ];
    for (const c of cases) {
      const send = async (base: string) => {
        const res = await request(`${base}${c.path}`, {
          method: c.method as 'GET',
          headers: { host: 'httpbin:8000', connection: 'close', ...c.headers },
          body: c.body,
        });
        const raw = Buffer.from(await res.body.arrayBuffer());
        let body: unknown = raw.toString('latin1');
        if (String(res.headers['content-type']).startsWith('application/json'))
          body = JSON.parse(raw.toString());
        return { status: res.statusCode, body, location: res.headers.location };
      };
      const [want, got] = await Promise.all([send(g.url), send(b.url)]);
      if (c.path === '/status/418') {
        // the teapot's ASCII art is httpbin's own; only the status matters
        assert.equal(got.status, want.status);
        continue;
      }
      if (c.path === '/response-headers?X-A=1&X-A=2') {
        // Content-Length differs by design: the real one prints compact JSON, the built-in the seed's pretty JSON
        delete (want.body as Record<string, unknown>)['Content-Length'];
        delete (got.body as Record<string, unknown>)['Content-Length'];
      }
      assert.deepEqual(got, want, `${c.method} ${c.path}`);
    }
  } finally {
    await Promise.all([g.close(), b.close()]);
  }
});
