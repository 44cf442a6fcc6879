// Failing upstreams, each behind its own service, seen from a raw client socket: the local reply's
// status and text, the Envoy response flag in the access log, whether the client's connection
// survives (it must: the upstream's failure is not the client's), and for a failure in the middle
// of a response body, a connection that is cut — never a clean, short response.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import {
  freePort,
  startHungServer,
  startResettingServer,
  waitFor,
  type TestServer,
} from '../helpers/servers.js';
import { singleEndpointService as service, startTestUmbra, type TestUmbra } from '../helpers/umbra.js';
import { RawConnection } from './raw-http.js';

const CONNECT_TIMEOUT = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: blackhole
spec:
  host: blackhole
  trafficPolicy:
    connectionPool:
      tcp:
        connectTimeout: 300ms
`;

const ROUTE_TIMEOUT = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: hung
spec:
  hosts:
  - hung
  http:
  - timeout: 300ms
    route:
    - destination:
        host: hung
`;

/** Answers by path with bytes no well-behaved server sends, then misbehaves with the connection. */
async function startBrokenUpstream(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const rst = (s: Socket) => (typeof s.resetAndDestroy === 'function' ? s.resetAndDestroy() : s.destroy());
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      const path = buf.split(' ')[1];
      buf = '';
      switch (path) {
        case '/garbage':
          return s.end('this is not http\r\n\r\n');
        case '/bad-status':
          return s.end('HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n');
        case '/bad-header':
          return s.end('HTTP/1.1 200 OK\r\nbad header: x\r\ncontent-length: 0\r\n\r\n');
        case '/obs-fold':
          return s.end('HTTP/1.1 200 OK\r\nx-a: b\r\n c\r\ncontent-length: 0\r\n\r\n');
        case '/huge-header':
          return s.end(`HTTP/1.1 200 OK\r\nx-a: ${'a'.repeat(512 * 1024)}\r\ncontent-length: 0\r\n\r\n`);
        case '/both-lengths':
          return s.end(
            'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          );
        case '/close-before-headers':
          return s.end();
        case '/partial-head':
          return s.end('HTTP/1.1 200 OK\r\ncontent-');
        case '/reset-mid-body':
          s.write(`HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n${'x'.repeat(1000)}`);
          return void setTimeout(() => rst(s), 50);
        case '/reset-mid-chunked':
          s.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3e8\r\n${'y'.repeat(1000)}\r\n`);
          return void setTimeout(() => rst(s), 50);
        case '/short-body':
          // Promises 10 bytes, sends 5 and closes cleanly: still a truncated response.
          return s.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
        default:
          return s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

/**
 * A listener whose accept queue is full, so SYNs go unanswered and connects time out (node always
 * accepts, so a python socket that listens and never accepts stands in; loopback only).
 */
async function startBlackhole(): Promise<{ port: number; close(): void }> {
  const py: ChildProcess = spawn(
    'python3',
    [
      '-c',
      'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((ok, fail) => {
    py.once('error', fail);
    py.stdout!.once('data', (d: Buffer) => ok(Number(String(d).trim())));
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    fillers.push(s);
    await new Promise((ok) => setTimeout(ok, 30));
  }
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      py.stdin!.end();
      py.kill();
    },
  };
}

let u: TestUmbra;
let port: number;
let broken: Awaited<ReturnType<typeof startBrokenUpstream>>;
let resetting: TestServer;
let hung: TestServer;
let blackhole: Awaited<ReturnType<typeof startBlackhole>>;

before(async () => {
  broken = await startBrokenUpstream();
  resetting = await startResettingServer();
  hung = await startHungServer();
  blackhole = await startBlackhole();
  u = await startTestUmbra({
    'broken.yaml': service('broken', broken.port),
    'refused.yaml': service('refused', await freePort()),
    'reset.yaml': service('reset', resetting.port),
    'hung.yaml': service('hung', hung.port, ROUTE_TIMEOUT),
    'blackhole.yaml': service('blackhole', blackhole.port, CONNECT_TIMEOUT),
  });
  port = u.listener.address.port;
});

after(async () => {
  await u.close();
  await broken.close();
  await resetting.close();
  await hung.close();
  blackhole.close();
});

async function accessLine(path: string): Promise<string> {
  return waitFor(() => u.accessLines.find((l) => l.includes(` ${path} HTTP/1.1"`)), 3_000);
}

/** A local reply on a connection that stays usable for the next request. */
async function localReply(
  host: string,
  path: string,
  status: number,
  flag: string,
  text: RegExp,
): Promise<void> {
  const c = await RawConnection.open(port);
  try {
    c.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:8000\r\n\r\n`);
    const r = await c.response('GET', 10_000);
    assert.equal(r.status, status, `${host}${path}: ${r.status} ${r.body.toString()}`);
    assert.match(r.body.toString(), text);
    assert.equal(r.complete, true);
    // The upstream failed, not the client: its connection carries on.
    c.write(`OPTIONS * HTTP/1.1\r\nHost: ${host}:8000\r\n\r\n`);
    assert.equal((await c.response()).status, 200, `${host}${path}: connection not reusable`);
  } finally {
    c.close();
  }
  const line = await accessLine(path);
  assert.match(line, new RegExp(`" ${status} [A-Z,]*\\b${flag}\\b`), line);
  // The request id Umbra generated for the attempt is logged, as for any forwarded request.
  assert.match(line, /"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"/, line);
}

test('connection refused and connect timeout are 503 UF', async () => {
  await localReply('refused', '/refused', 503, 'UF', /upstream connect error: connection failure/);
  await localReply('blackhole', '/connect-timeout', 503, 'UF', /connection failure/);
});

test('reset or close before the response head is 503 UC', async () => {
  await localReply('reset', '/reset', 503, 'UC', /reset before headers/);
  assert.ok(resetting.requests.length >= 1);
  await localReply('broken', '/close-before-headers', 503, 'UC', /reset before headers/);
  await localReply('broken', '/partial-head', 503, 'UC', /reset before headers/);
});

test('a malformed response is 502 UPE', async () => {
  for (const path of [
    '/garbage',
    '/bad-status',
    '/bad-header',
    '/obs-fold',
    '/huge-header',
    '/both-lengths',
  ]) {
    await localReply('broken', path, 502, 'UPE', /upstream sent a malformed response/);
  }
});

test('the route timeout is 504 UT', async () => {
  await localReply('hung', '/slow', 504, 'UT', /upstream request timeout/);
  assert.ok(hung.requests.some((r) => r.url === '/slow'));
});

test('a failure in the middle of the response body cuts the client connection', async () => {
  for (const [path, flag] of [
    ['/reset-mid-body', 'UC'],
    ['/reset-mid-chunked', 'UC'],
    ['/short-body', 'UC'],
  ] as const) {
    const c = await RawConnection.open(port);
    try {
      c.write(`GET ${path} HTTP/1.1\r\nHost: broken:8000\r\n\r\n`);
      const r = await c.response('GET', 5_000);
      assert.equal(r.status, 200, path);
      assert.equal(r.complete, false, `${path}: the client saw a complete response`);
      assert.equal(await c.waitClosed(2_000), true, `${path}: connection left open`);
      assert.ok(r.body.length < 100_000);
    } finally {
      c.close();
    }
    assert.match(await accessLine(path), new RegExp(`" 200 ${flag} `));
  }
});
