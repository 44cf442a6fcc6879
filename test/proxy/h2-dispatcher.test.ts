// undici's dispatch API on HTTP/2 sessions, against a real node:http2 server: head mapping
// (Host → :authority, connection fields dropped, te: trailers kept), streamed bodies, trailers,
// back-pressure, and a body that fails mid-way resetting the stream instead of ending it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import { H2Dispatcher, h2RequestHeaders } from '../../src/proxy/h2-dispatcher.js';
import { H2SessionPool } from '../../src/proxy/h2-session-pool.js';

interface Seen {
  headers: IncomingHttpHeaders;
  body: Buffer;
  complete: boolean;
  rstCode?: number;
}

async function server(): Promise<{ port: number; seen: Promise<Seen>[]; close(): Promise<void> }> {
  const seen: Promise<Seen>[] = [];
  const s = http2.createServer();
  s.on('stream', (stream, headers) => {
    seen.push(
      new Promise((resolve) => {
        const chunks: Buffer[] = [];
        let complete = false;
        let aborted = false;
        stream.on('aborted', () => (aborted = true));
        stream.on('error', () => {}); // the reset this test provokes
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          complete = !aborted;
          stream.respond({ ':status': 201, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () =>
            stream.sendTrailers({ 'grpc-status': '5', 'grpc-message': 'nope' }),
          );
          stream.end(Buffer.concat(chunks));
        });
        stream.on('close', () =>
          resolve({ headers, body: Buffer.concat(chunks), complete, rstCode: stream.rstCode }),
        );
      }),
    );
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    port: (s.address() as AddressInfo).port,
    seen,
    close: () => new Promise((r) => s.close(() => r())),
  };
}

interface Result {
  status?: number;
  headers?: IncomingHttpHeaders;
  body: Buffer[];
  trailers?: IncomingHttpHeaders;
  error?: Error;
}

function send(d: H2Dispatcher, opts: Dispatcher.DispatchOptions): Promise<Result> {
  return new Promise((resolve) => {
    const r: Result = { body: [] };
    d.dispatch(opts, {
      onResponseStart: (_c, status, headers) => {
        r.status = status;
        r.headers = headers;
      },
      onResponseData: (_c, chunk) => r.body.push(chunk),
      onResponseEnd: (_c, trailers) => {
        r.trailers = trailers;
        resolve(r);
      },
      onResponseError: (_c, error) => {
        r.error = error;
        resolve(r);
      },
    });
  });
}

function dispatcher(port: number): H2Dispatcher {
  return new H2Dispatcher(
    new H2SessionPool(
      { address: '127.0.0.1', port },
      {
        maxConnections: 0,
        maxPendingRequests: 0,
        maxRequestsPerConnection: 0,
        idleTimeoutMs: 60_000,
        connectTimeoutMs: 5_000,
      },
    ),
  );
}

test('request heads become h2 pseudo-headers; connection fields are dropped, te: trailers kept', () => {
  assert.deepEqual(
    h2RequestHeaders(
      'POST',
      '/a.B/Get',
      ['host', 'echo:9000', 'connection', 'keep-alive', 'te', 'trailers', 'x-a', '1', 'x-a', '2'],
      'http',
    ),
    {
      ':method': 'POST',
      ':path': '/a.B/Get',
      ':scheme': 'http',
      ':authority': 'echo:9000',
      'x-a': ['1', '2'],
      te: 'trailers',
    },
  );
  assert.equal(h2RequestHeaders('GET', '/', ['te', 'gzip'], 'https').te, undefined);
});

test('a streamed body arrives whole; status, headers, body and trailers come back', async () => {
  const s = await server();
  const d = dispatcher(s.port);
  const body = new PassThrough();
  const done = send(d, {
    method: 'POST',
    path: '/x',
    headers: ['host', 'echo:9000', 'te', 'trailers'],
    body,
  });
  body.write('hello ');
  setTimeout(() => body.end('world'), 20);
  const r = await done;
  assert.equal(r.error, undefined);
  assert.equal(r.status, 201);
  assert.equal(r.headers?.['content-type'], 'application/grpc');
  assert.equal(Buffer.concat(r.body).toString(), 'hello world');
  assert.deepEqual(r.trailers, { 'grpc-status': '5', 'grpc-message': 'nope' });
  const seen = await s.seen[0];
  assert.equal(seen.headers[':authority'], 'echo:9000');
  assert.equal(seen.headers.te, 'trailers');
  assert.equal(seen.complete, true);
  d.pool.close();
  await s.close();
});

test('a body that fails mid-way resets the stream: the upstream never sees it complete', async () => {
  const s = await server();
  const d = dispatcher(s.port);
  const body = new PassThrough();
  const done = send(d, { method: 'POST', path: '/x', headers: ['host', 'echo:9000'], body });
  body.write('part');
  await new Promise((r) => setTimeout(r, 20));
  body.destroy(new Error('copy fell behind'));
  const r = await done;
  assert.match(String(r.error?.message), /copy fell behind/);
  while (s.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
  const seen = await s.seen[0];
  assert.equal(seen.complete, false);
  assert.equal(seen.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);
  d.pool.close();
  await s.close();
});
