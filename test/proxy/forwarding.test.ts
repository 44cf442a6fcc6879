// What the primary request looks like upstream and what the client gets back: host name forms,
// hop-by-hop headers, x-request-id, x-forwarded-*, trace headers, local replies with flags, and
// the access log lines for requests and their copies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { get as nodeGet, type OutgoingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { freePort, startEchoServer, startRecordingServer, waitFor } from '../helpers/servers.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra } from '../helpers/umbra.js';

interface Echo {
  path: string;
  headers: Record<string, string>;
}

test('host name forms, headers both ways, and local replies', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  try {
    for (const host of [
      'app',
      'app:8000',
      'app.default',
      'app.default:8000',
      'app.default.svc',
      'app.default.svc.cluster.local:8000',
      'APP.Default.svc.cluster.local.',
    ]) {
      const r = await request(`${u.proxyUrl}/h?x=1`, { headers: { host } });
      assert.equal(r.statusCode, 200, host);
      const echo = (await r.body.json()) as Echo;
      assert.equal(echo.path, '/h?x=1');
    }
    assert.equal(v1.requests.length, 7);

    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    // node:http, because undici refuses to send hop-by-hop headers at all.
    const echo = (await httpGet(u.listener.address.port, '/headers', {
      host: 'app:8000',
      connection: 'keep-alive, x-drop-me',
      'x-drop-me': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'x-request-id': 'given-id-1',
      'x-forwarded-for': '203.0.113.7',
      traceparent,
      'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
      'x-envoy-attempt-count': '9',
    })) as Echo;
    const h = echo.headers;
    assert.equal(h.host, 'app:8000');
    assert.equal(h['x-drop-me'], undefined, 'Connection-nominated header removed');
    assert.equal(h['keep-alive'], undefined);
    assert.equal(h['proxy-authorization'], undefined);
    // The client's value is dropped; Umbra sends its own attempt count, as Istio's sidecar does (issue 4).
    assert.equal(h['x-envoy-attempt-count'], '1', 'client-supplied internal header replaced');
    assert.equal(h['x-request-id'], 'given-id-1');
    assert.equal(h['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h.traceparent, traceparent);
    assert.equal(h['x-b3-traceid'], '80f198ee56343ba864fe8b2a57d3eff7');
    // The copy carries the same request id and trace context, a -shadow host and the marker.
    const copy = await waitFor(
      () => v2.requests.find((x) => x.headers['x-request-id'] === 'given-id-1'),
      3000,
    );
    assert.equal(copy.headers.host, 'app-shadow:8000');
    assert.equal(copy.headers.traceparent, traceparent);
    assert.equal(copy.headers['x-umbra-mirror'], 'app.default|v2');

    // Without an x-request-id, one is generated and logged on both lines.
    await request(`${u.proxyUrl}/gen`, { headers: { host: 'app:8000' } }).then((x) => x.body.text());
    const generated = v1.requests.at(-1)!.headers['x-request-id'] as string;
    assert.match(generated, /^[0-9a-f-]{36}$/);
    await waitFor(() => u.accessLines.filter((l) => l.includes(generated)).length === 2, 3000);
    const [primary, mirror] = [
      u.accessLines.find((l) => l.includes(generated) && !l.includes('mirror='))!,
      u.accessLines.find((l) => l.includes(generated) && l.includes('mirror='))!,
    ];
    assert.match(
      primary,
      /"GET \/gen HTTP\/1\.1" 200 - 0 \d+ \d+ "-" "[0-9a-f-]{36}" "app:8000" "127\.0\.0\.1:\d+" route=default\/app#0$/,
    );
    assert.match(
      mirror,
      /"GET \/gen HTTP\/1\.1" 200 - 0 \d+ \d+ "-" "[0-9a-f-]{36}" "app-shadow:8000" "127\.0\.0\.1:\d+" route=- mirror=app\.default\|v2$/,
    );

    // A body: both lines count its bytes in — the primary's from the client, the copy's to the mirror.
    await request(`${u.proxyUrl}/post`, {
      method: 'POST',
      headers: { host: 'app:8000', 'x-request-id': 'body-1' },
      body: 'x'.repeat(12345),
    }).then((x) => x.body.text());
    await waitFor(() => u.accessLines.filter((l) => l.includes('"body-1"')).length === 2, 3000);
    for (const line of u.accessLines.filter((l) => l.includes('"body-1"')))
      assert.match(line, /"POST \/post HTTP\/1\.1" 200 - 12345 \d+ /);

    // Unknown host: 404 NR, never an open proxy.
    const unknown = await request(`${u.proxyUrl}/`, { headers: { host: 'example.com' } });
    assert.equal(unknown.statusCode, 404);
    assert.match(await unknown.body.text(), /no service or route for host "example\.com"/);
    const abs = await rawRequest(
      u.listener.address.port,
      'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n',
    );
    assert.match(abs, /^HTTP\/1\.1 404/);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test('an unreachable endpoint gets 503 UF; a subset with no endpoints gets 503 UH', async () => {
  const down = await freePort();
  const v2 = await startRecordingServer((req, res) => req.on('end', () => res.end('v2')));
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(down, v2.port),
    'vs.yaml': routeToV1(),
    'empty.yaml': `apiVersion: v1
kind: Service
metadata:
  name: empty
spec:
  ports:
  - name: http
    port: 80
  selector:
    app: nothing
`,
  });
  try {
    const r = await request(`${u.proxyUrl}/`, { headers: { host: 'app:8000' } });
    assert.equal(r.statusCode, 503);
    assert.equal(await r.body.text(), 'upstream connect error: connection failure\n');
    const e = await request(`${u.proxyUrl}/`, { headers: { host: 'empty' } });
    assert.equal(e.statusCode, 503);
    assert.equal(await e.body.text(), 'no healthy upstream\n');
    // Istio's default retry policy retried the connect failure twice first: Envoy flags that UF,URX.
    await waitFor(
      () =>
        u.accessLines.some((l) => / 503 UF,URX /.test(l)) && u.accessLines.some((l) => / 503 UH /.test(l)),
      2000,
    );
  } finally {
    await u.close();
    await v2.close();
  }
});

function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((ok, fail) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      out += d;
      if (out.includes('\r\n\r\n')) s.end();
    });
    s.on('end', () => ok(out));
    s.on('error', fail);
  });
}

function httpGet(port: number, path: string, headers: OutgoingHttpHeaders): Promise<unknown> {
  return new Promise((ok, fail) => {
    nodeGet({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => ok(JSON.parse(body)));
    }).on('error', fail);
  });
}
