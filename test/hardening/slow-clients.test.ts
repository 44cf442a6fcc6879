// Slow and greedy clients against an Umbra with short limits: header and body timeouts (408 and
// close), idle timeouts, keep-alive expiry, a connection cap, a request cap per connection, and a
// client that does not read a large response (the upstream is held back; memory stays bounded).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { startEchoServer, waitFor, type TestServer } from '../helpers/servers.js';
import { singleEndpointService as service, startTestUmbra, type TestUmbra } from '../helpers/umbra.js';
import { exchange, header, RawConnection } from './raw-http.js';

// Short, but not so short that a busy CI machine trips them between two requests of one test.
const LIMITS = {
  headersTimeoutMs: 500,
  requestTimeoutMs: 1_500,
  idleTimeoutMs: 1_500,
  keepAliveTimeoutMs: 1_000,
  maxRequestsPerConnection: 3,
  timeoutCheckIntervalMs: 100,
};

const BIG = 96 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'z');

/** Streams BIG bytes, honouring back-pressure, and counts what its socket has accepted. */
async function startBigUpstream(): Promise<{ port: number; written: () => number; close(): Promise<void> }> {
  let written = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG });
    let sent = 0;
    const pump = () => {
      while (sent < BIG) {
        sent += CHUNK.length;
        const ok = res.write(CHUNK, () => (written += CHUNK.length));
        if (!ok) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    written: () => written,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Accepts, reads, never answers; counts connections the proxy has given up on (closed). */
async function startSilentUpstream(): Promise<{
  port: number;
  requests: () => string;
  closed: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let data = '';
  let closed = 0;
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      sockets.delete(s);
      closed++;
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => data,
    closed: () => closed,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

let u: TestUmbra;
let port: number;
let echo: TestServer;
let hung: Awaited<ReturnType<typeof startSilentUpstream>>;
let big: Awaited<ReturnType<typeof startBigUpstream>>;

before(async () => {
  echo = await startEchoServer();
  hung = await startSilentUpstream();
  big = await startBigUpstream();
  u = await startTestUmbra(
    {
      'app.yaml': service('app', echo.port),
      'hung.yaml': service('hung', hung.port),
      'big.yaml': service('big', big.port),
    },
    { downstream: LIMITS },
  );
  port = u.listener.address.port;
});

after(async () => {
  await u.close();
  await echo.close();
  await hung.close();
  await big.close();
});

test('a request head that never finishes gets 408 and the connection is closed', async () => {
  const before = echo.requests.length;
  const c = await RawConnection.open(port);
  try {
    c.write('GET /slowloris HTTP/1.1\r\nHost: app:8000\r\n');
    // Trickling header lines does not extend the head timeout.
    const trickle = setInterval(() => c.write('x-more: 1\r\n'), 100);
    const r = await c.response('GET', 5_000).finally(() => clearInterval(trickle));
    assert.equal(r.status, 408);
    assert.equal(await c.waitClosed(), true);
  } finally {
    c.close();
  }
  assert.equal(echo.requests.length, before, 'nothing forwarded');
  assert.ok(u.accessLines.some((l) => / 408 SI /.test(l)));
});

test('a request body that stalls gets 408, and the upstream sees the request aborted', async () => {
  const c = await RawConnection.open(port);
  try {
    c.write('POST /slow-body HTTP/1.1\r\nHost: app:8000\r\nContent-Length: 100\r\n\r\n0123456789');
    const rec = await waitFor(
      () => echo.requests.find((r) => r.url === '/slow-body' && r.bodyBytes === 10),
      2_000,
    );
    const r = await c.response('POST', 5_000);
    assert.equal(r.status, 408);
    assert.equal(await c.waitClosed(), true);
    await waitFor(() => rec.aborted, 2_000);
    assert.equal(rec.completed, false);
    // Logged as what the client got (408, client too slow), not as a client abort.
    await waitFor(() => u.accessLines.some((l) => l.includes('"POST /slow-body HTTP/1.1" 408 SI ')), 2_000);
  } finally {
    c.close();
  }
});

test('a whole request whose upstream stays silent past the idle timeout gets 504 UT (the upstream was idle, not the client)', async () => {
  const c = await RawConnection.open(port);
  try {
    c.write('GET /never HTTP/1.1\r\nHost: hung:8000\r\n\r\n');
    const r = await c.response('GET', 5_000);
    assert.equal(r.status, 504);
    await waitFor(() => u.accessLines.some((l) => l.includes('"GET /never HTTP/1.1" 504 UT ')), 2_000);
  } finally {
    c.close();
  }
  assert.match(hung.requests(), /^GET \/never HTTP\/1.1/);
  // The upstream request is abandoned with the client (its connection closed), not left hanging.
  await waitFor(() => hung.closed() === 1, 2_000);
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const c = await RawConnection.open(port);
  try {
    c.write('GET /once HTTP/1.1\r\nHost: app:8000\r\n\r\n');
    assert.equal((await c.response()).status, 200);
    assert.equal(c.closed, false);
    assert.equal(await c.waitClosed(5_000), true);
    assert.equal(c.unread(), '', 'closed without another byte');
  } finally {
    c.close();
  }
});

test('max requests per connection: the last one says Connection: close and the connection ends', async () => {
  const c = await RawConnection.open(port);
  try {
    for (let i = 1; i <= 3; i++) {
      c.write(`GET /n${i} HTTP/1.1\r\nHost: app:8000\r\n\r\n`);
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.equal(header(r, 'connection'), i < 3 ? 'keep-alive' : 'close', `request ${i}`);
    }
    // Closed by Umbra right after that response (well before the 1 s keep-alive timeout).
    assert.equal(await c.waitClosed(500), true);
  } finally {
    c.close();
  }
});

test('max requests per connection: requests pipelined behind the last one are not forwarded', async () => {
  const c = await RawConnection.open(port);
  try {
    c.write(
      [1, 2, 3, 4, 5]
        .map((i) => `POST /p${i} HTTP/1.1\r\nHost: app:8000\r\nContent-Length: 0\r\n\r\n`)
        .join(''),
    );
    for (let i = 1; i <= 3; i++) assert.equal((await c.response('POST')).status, 200, `request ${i}`);
    assert.equal(await c.waitClosed(1_000), true);
  } finally {
    c.close();
  }
  await new Promise((ok) => setTimeout(ok, 200));
  const urls = echo.requests.map((r) => r.url).filter((u) => /^\/p\d$/.test(u));
  assert.deepEqual(urls, ['/p1', '/p2', '/p3'], 'nothing behind the closing request reached the upstream');
});

test('max connections: one more is closed at once; a freed slot is usable again', async () => {
  const t = await startTestUmbra(
    { 'app.yaml': service('app', echo.port) },
    { downstream: { maxConnections: 2 } },
  );
  const p = t.listener.address.port;
  const open: RawConnection[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const c = await RawConnection.open(p);
      c.write(`GET /held${i} HTTP/1.1\r\nHost: app:8000\r\n\r\n`);
      assert.equal((await c.response()).status, 200);
      open.push(c);
    }
    const extra = await RawConnection.open(p);
    extra.write('GET /extra HTTP/1.1\r\nHost: app:8000\r\n\r\n');
    assert.equal(await extra.waitClosed(), true, 'the third connection was served');
    assert.equal(extra.received(), '');
    extra.close();
    assert.equal(
      echo.requests.some((r) => r.url === '/extra'),
      false,
    );
    open.shift()!.close();
    // The server learns of the close asynchronously; then a new connection is served.
    const served = await waitFor(async () => {
      const r = await exchange(p, 'GET /after HTTP/1.1\r\nHost: app:8000\r\n\r\n', { closeWaitMs: 0 }).catch(
        () => undefined,
      );
      return r?.res.status === 200;
    }, 3_000);
    assert.equal(served, true);
  } finally {
    for (const c of open) c.close();
    await t.close();
  }
});

test('a client that does not read holds the upstream back; the response then arrives whole', async () => {
  const s: Socket = connect(port, '127.0.0.1');
  await new Promise((ok) => s.once('connect', ok));
  s.pause();
  s.write('GET /big HTTP/1.1\r\nHost: big:8000\r\n\r\n');
  // Wait until the upstream cannot write any more: every buffer on the way is full.
  let last = -1;
  await waitFor(async () => {
    await new Promise((ok) => setTimeout(ok, 300));
    const w = big.written();
    const stalled = w > 0 && w === last;
    last = w;
    return stalled;
  }, 20_000);
  const inFlight = big.written();
  assert.ok(
    inFlight < BIG / 2,
    `the upstream wrote ${(inFlight / 1048576).toFixed(1)} MiB of ${BIG / 1048576} MiB with nobody reading`,
  );
  process.stdout.write(`# stalled with ${(inFlight / 1048576).toFixed(1)} MiB written by the upstream\n`);
  // Now read it all: nothing lost, nothing reordered.
  const hash = createHash('sha256');
  let bytes = 0;
  let head = '';
  await new Promise<void>((ok, fail) => {
    s.on('data', (d: Buffer) => {
      if (bytes === 0 && !head.includes('\r\n\r\n')) {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        head = head.slice(0, end + 4);
        d = rest;
      }
      bytes += d.length;
      hash.update(d);
      if (bytes >= BIG) ok();
    });
    s.once('error', fail);
    s.once('close', () => (bytes >= BIG ? ok() : fail(new Error(`closed after ${bytes} bytes`))));
    s.resume();
  });
  s.destroy();
  assert.match(head, /^HTTP\/1.1 200 /);
  assert.equal(bytes, BIG);
  const expected = createHash('sha256');
  for (let i = 0; i < BIG / CHUNK.length; i++) expected.update(CHUNK);
  assert.equal(hash.digest('hex'), expected.digest('hex'));
});
