// The HTTP/2 upstream session pool against a real node:http2 server on loopback: multiplexing,
// maxConcurrentStreams (ours and the server's), maxConnections, maxRequestsPerConnection,
// http2MaxRequests and maxPendingRequests overflow, connect failures and aborts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Stream, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer, type AddressInfo } from 'node:net';
import { H2PoolError, H2SessionPool, type H2PoolSettings } from '../../src/proxy/h2-session-pool.js';

interface Upstream {
  server: Http2Server;
  port: number;
  /** Streams open on the server right now, and the most seen at once. */
  open: number;
  peak: number;
  sessions: number;
  /** Held streams; release() answers them all. */
  held: ServerHttp2Stream[];
  hold: boolean;
  release(): void;
}

async function upstream(settings: http2.Settings = {}): Promise<Upstream> {
  const u: Upstream = {
    server: http2.createServer({ settings }),
    port: 0,
    open: 0,
    peak: 0,
    sessions: 0,
    held: [],
    hold: false,
    release() {
      for (const s of this.held.splice(0)) if (!s.closed) s.respond({ ':status': 200 }, { endStream: true });
    },
  };
  u.server.on('session', () => u.sessions++);
  u.server.on('stream', (stream) => {
    u.open++;
    u.peak = Math.max(u.peak, u.open);
    stream.on('close', () => u.open--);
    stream.resume();
    if (u.hold) u.held.push(stream);
    else stream.respond({ ':status': 200 }, { endStream: true });
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
  u.port = (u.server.address() as AddressInfo).port;
  return u;
}

function pool(u: { port: number }, s: Partial<H2PoolSettings> = {}): H2SessionPool {
  return new H2SessionPool(
    { address: '127.0.0.1', port: u.port },
    {
      maxConnections: 0,
      maxPendingRequests: 0,
      maxRequestsPerConnection: 0,
      idleTimeoutMs: 60_000,
      connectTimeoutMs: 5_000,
      ...s,
    },
  );
}

const GET = { ':method': 'GET', ':path': '/', ':authority': 'echo:9000', ':scheme': 'http' };

function status(stream: ClientHttp2Stream): Promise<number> {
  return new Promise((resolve, reject) => {
    stream.once('response', (h) => resolve(Number(h[':status'])));
    stream.once('error', reject);
    stream.resume();
  });
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

async function stop(p: H2SessionPool, u: Upstream): Promise<void> {
  p.close();
  await new Promise((r) => u.server.close(r));
}

test('streams multiplex on one session', async () => {
  const u = await upstream();
  u.hold = true;
  const p = pool(u);
  const streams = await Promise.all(Array.from({ length: 10 }, () => p.request(GET, { endStream: true })));
  await until(() => u.held.length === 10);
  assert.equal(u.sessions, 1);
  assert.equal(u.peak, 10);
  u.release();
  assert.deepEqual(await Promise.all(streams.map(status)), Array(10).fill(200));
  assert.equal(p.stats.sessionsOpened, 1);
  await stop(p, u);
});

test('maxConcurrentStreams with one connection queues the rest; all complete', async () => {
  const u = await upstream();
  u.hold = true;
  const p = pool(u, { maxConnections: 1, maxConcurrentStreams: 2 });
  const pending = Array.from({ length: 5 }, () => p.request(GET, { endStream: true }).then(status));
  await until(() => u.held.length === 2);
  assert.equal(p.stats.pending, 3);
  while (u.held.length > 0 || p.stats.pending > 0) {
    u.release();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(await Promise.all(pending), Array(5).fill(200));
  assert.equal(u.peak, 2);
  assert.equal(u.sessions, 1);
  await stop(p, u);
});

test("the server's SETTINGS_MAX_CONCURRENT_STREAMS is respected; more sessions open when allowed", async () => {
  const u = await upstream({ maxConcurrentStreams: 1 });
  u.hold = true;
  const p = pool(u);
  const pending = Array.from({ length: 3 }, () => p.request(GET, { endStream: true }).then(status));
  await until(() => u.held.length === 3);
  assert.equal(u.sessions, 3);
  u.release();
  assert.deepEqual(await Promise.all(pending), [200, 200, 200]);
  await stop(p, u);
});

test('maxRequestsPerConnection: a session takes that many streams, then a new one opens', async () => {
  const u = await upstream();
  const p = pool(u, { maxRequestsPerConnection: 3 });
  for (let i = 0; i < 7; i++) assert.equal(await status(await p.request(GET, { endStream: true })), 200);
  assert.equal(p.stats.sessionsOpened, 3);
  assert.equal(u.sessions, 3);
  await stop(p, u);
});

test('http2MaxRequests and maxPendingRequests refuse at once with overflow codes', async () => {
  const u = await upstream();
  u.hold = true;
  const p = pool(u, { maxRequests: 3 });
  const first = await Promise.all([1, 2, 3].map(() => p.request(GET, { endStream: true })));
  await assert.rejects(
    p.request(GET),
    (e: H2PoolError) => e.code === 'H2_OVERFLOW_MAX_REQUESTS' && e.overflow,
  );
  await until(() => u.held.length === 3);
  u.release();
  await Promise.all(first.map(status));

  const q = pool(u, { maxConnections: 1, maxConcurrentStreams: 1, maxPendingRequests: 1 });
  const a = await q.request(GET, { endStream: true });
  const b = q.request(GET, { endStream: true });
  await assert.rejects(q.request(GET), (e: H2PoolError) => e.code === 'H2_OVERFLOW_MAX_PENDING');
  await until(() => u.held.length === 1);
  u.release();
  assert.equal(await status(a), 200);
  await until(() => u.held.length === 1);
  u.release();
  assert.equal(await status(await b), 200);
  q.close();
  await stop(p, u);
});

test('an abort while waiting leaves the queue; a refused connection fails with a connect error', async () => {
  const u = await upstream();
  u.hold = true;
  const p = pool(u, { maxConnections: 1, maxConcurrentStreams: 1 });
  const a = await p.request(GET, { endStream: true });
  const ac = new AbortController();
  const waiting = p.request(GET, { signal: ac.signal });
  ac.abort();
  await assert.rejects(waiting, (e: H2PoolError) => e.code === 'H2_ABORTED');
  assert.equal(p.stats.pending, 0);
  await until(() => u.held.length === 1);
  u.release();
  assert.equal(await status(a), 200);
  await stop(p, u);

  // A port nothing listens on: take one and close it.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const dead = pool({ port });
  await assert.rejects(dead.request(GET), (e: H2PoolError) => e.code === 'H2_CONNECT_FAILED');
  dead.close();
});
