// Head first on HTTP/1.1 upstreams (docs/request-lifecycle.md): a request whose body has not begun
// reaches the primary and its copy as a head at once, so an upstream can answer before the upload
// (Envoy forwards a decoded head at once, shadow included). Raw client sockets; node HTTP upstreams,
// whose 'request' event fires on the head alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { freePort, waitFor } from '../helpers/servers.js';
import { mirroredUpload } from '../helpers/mesh-yaml.js';
import { singleEndpointService, startTestUmbra } from '../helpers/umbra.js';
import { startRawUpstream } from './lifecycle-helpers.js';

interface Seen {
  head: http.IncomingHttpHeaders;
  body: string;
  ended: boolean;
  /** The connection closed before the body was whole. */
  cut: boolean;
}

/**
 * A node HTTP upstream that notes each request on its head. `early`: it answers 401 on the head and
 * never reads the body; otherwise it reads the body and answers its length.
 */
async function upstream(
  early = false,
): Promise<{ port: number; seen: Seen[]; connections(): number; close(): Promise<void> }> {
  const seen: Seen[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const s: Seen = { head: req.headers, body: '', ended: false, cut: false };
    seen.push(s);
    req.on('close', () => (s.cut = !s.ended));
    if (early) {
      res.writeHead(401, { 'content-type': 'text/plain', 'content-length': '6' });
      res.end('denied');
      return;
    }
    req.setEncoding('latin1');
    req.on('data', (c: string) => (s.body += c));
    req.on('end', () => {
      s.ended = true;
      res.end(String(s.body.length));
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function rawClient(port: number): Promise<{ sock: Socket; answer: () => string }> {
  const sock = connect(port, '127.0.0.1');
  let answer = '';
  sock.setEncoding('latin1').on('data', (d: string) => (answer += d));
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  return { sock, answer: () => answer };
}

test('HTTP/1.1 upstreams: the primary and its copy get the head before the client sends any body', async () => {
  const v1 = await upstream();
  const v2 = await upstream();
  const u = await startTestUmbra({ 'mesh.yaml': mirroredUpload(v1.port, v2.port, 'http') });
  const c = await rawClient(u.listener.address.port);
  try {
    for (const [framing, body] of [
      ['Content-Length: 5', 'hello'],
      ['Transfer-Encoding: chunked', '5\r\nhello\r\n0\r\n\r\n'],
    ]) {
      const before = v1.seen.length;
      const answered = c.answer().length;
      c.sock.write(`POST /up HTTP/1.1\r\nHost: upload:8000\r\n${framing}\r\n\r\n`);
      // No body byte has left the client: both upstreams must already have the request.
      await waitFor(() => v1.seen.length === before + 1 && v2.seen.length === before + 1, 10_000);
      const [p, copy] = [v1.seen[before], v2.seen[before]];
      assert.equal(p.body, '');
      assert.equal(copy.body, '');
      assert.equal(copy.head.host, 'upload-shadow:8000', 'the copy is a copy');
      assert.equal(c.answer().length, answered, 'nothing answered before the body');
      c.sock.write(body);
      await waitFor(() => /\r\n\r\n(5|1\r\n5\r\n0\r\n\r\n)$/.test(c.answer().slice(answered)), 10_000);
      assert.match(c.answer().slice(answered), /^HTTP\/1\.1 200 /);
      assert.equal(p.body, 'hello', framing);
      await waitFor(() => copy.ended, 10_000);
      assert.equal(copy.body, 'hello', framing);
    }
  } finally {
    c.sock.destroy();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('HTTP/1.1: an upstream that answers on the head reaches the client before it uploads a byte', async () => {
  const v1 = await upstream(true);
  const v2 = await upstream();
  const u = await startTestUmbra({ 'mesh.yaml': mirroredUpload(v1.port, v2.port, 'http') });
  const c = await rawClient(u.listener.address.port);
  try {
    c.sock.write('PUT /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 1048576\r\n\r\n');
    await waitFor(() => /\r\n\r\ndenied$/.test(c.answer()), 10_000);
    assert.match(c.answer(), /^HTTP\/1\.1 401 /);
    // The copy got its head too and is waiting for the body, which the client may still send:
    // the answer does not stop it (the primary's fate is not the copy's).
    await waitFor(() => v2.seen.length === 1, 10_000);
    c.sock.write(Buffer.alloc(1024 * 1024, 0x61));
    await waitFor(() => v2.seen[0].ended, 10_000);
    assert.equal(v2.seen[0].body.length, 1024 * 1024);
  } finally {
    c.sock.destroy();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('HTTP/1.1 head first: a client that breaks off its upload leaves neither upstream a whole body', async () => {
  const v1 = await upstream();
  const v2 = await upstream();
  const u = await startTestUmbra({ 'mesh.yaml': mirroredUpload(v1.port, v2.port, 'http') });
  const c = await rawClient(u.listener.address.port);
  try {
    c.sock.write('POST /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 10\r\n\r\n');
    await waitFor(() => v1.seen.length === 1 && v2.seen.length === 1, 10_000);
    c.sock.write('hel');
    await waitFor(() => v1.seen[0].body === 'hel' && v2.seen[0].body === 'hel', 10_000);
    c.sock.destroy();
    // Cut, never ended: the upstreams' parsers would take a short body closed cleanly as an error anyway,
    // but a chunked one would be whole at its last chunk, so the connection itself must go.
    await waitFor(() => v1.seen[0].cut && v2.seen[0].cut, 10_000);
    assert.equal(v1.seen[0].ended, false);
    assert.equal(v2.seen[0].ended, false);
    // The copy ended as the client's doing, which says nothing of v2's health.
    const counters = u.proxy.mirrors.counters.get('upload.default|v2')!;
    await waitFor(() => counters.inFlight === 0, 10_000);
    assert.equal(counters.failed.client_abort, 1, JSON.stringify(counters));
  } finally {
    c.sock.destroy();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('HTTP/1.1 head first: v1 down is answered 503 at once and the copy to v2 still gets the whole body', async () => {
  const down = await freePort();
  const v2 = await upstream();
  const u = await startTestUmbra({ 'mesh.yaml': mirroredUpload(down, v2.port, 'http') });
  const c = await rawClient(u.listener.address.port);
  try {
    c.sock.write('POST /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 5\r\n\r\n');
    await waitFor(() => /\r\n\r\n[^]+/.test(c.answer()), 10_000);
    assert.match(c.answer(), /^HTTP\/1\.1 503 /);
    c.sock.write('hello');
    await waitFor(() => v2.seen.length === 1 && v2.seen[0].ended, 10_000);
    assert.equal(v2.seen[0].body, 'hello');
    const counters = u.proxy.mirrors.counters.get('upload.default|v2')!;
    await waitFor(() => counters.inFlight === 0, 10_000);
    assert.equal(counters.completed['2xx'], 1, JSON.stringify(counters));
  } finally {
    c.sock.destroy();
    await u.close();
    await v2.close();
  }
});

test('HTTP/1.1 head first: maxRequestsPerConnection closes a connection after exactly N requests', async () => {
  const v1 = await upstream();
  const v2 = await upstream();
  const u = await startTestUmbra({
    'mesh.yaml': mirroredUpload(v1.port, v2.port, 'http').replace(
      'subsets: [',
      'trafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: 2}}}\n  subsets: [',
    ),
  });
  const c = await rawClient(u.listener.address.port);
  try {
    for (let i = 1; i <= 4; i++) {
      const answered = c.answer().length;
      c.sock.write('POST /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 5\r\n\r\n');
      await waitFor(() => v1.seen.length === i, 10_000);
      c.sock.write('hello');
      await waitFor(() => /\r\n\r\n(5|1\r\n5\r\n0\r\n\r\n)$/.test(c.answer().slice(answered)), 10_000);
    }
    assert.equal(v1.connections(), 2);
  } finally {
    c.sock.destroy();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('HTTP/1.1 head first: a 101 to a plain request is 502 UPE, a 103 is not the answer, a cut answer is cut', async () => {
  const cases: { answer: string; expect: (a: string, closed: boolean) => void }[] = [
    {
      answer: 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
      expect: (a) => assert.match(a, /^HTTP\/1\.1 502 /),
    },
    {
      answer:
        'HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal',
      expect: (a) => assert.match(a, /^HTTP\/1\.1 200 [^]*\r\n\r\nfinal$/),
    },
    {
      // Ten bytes promised, four sent, then the connection closes: the client's must not end cleanly.
      answer: 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nfour',
      expect: (a, closed) => {
        assert.match(a, /^HTTP\/1\.1 200 [^]*\r\n\r\nfour$/);
        assert.ok(closed, 'the client connection is closed, so the short body shows');
      },
    },
  ];
  for (const [i, k] of cases.entries()) {
    const up = await startRawUpstream((_head, sock) => {
      // Reads the body first, so the request is whole upstream; then answers (and, for the cut one, closes).
      sock.once('data', () => {
        sock.write(k.answer);
        if (i === 2) sock.end();
      });
      return undefined;
    });
    const u = await startTestUmbra({ 'svc.yaml': singleEndpointService('hf', up.port) });
    const c = await rawClient(u.listener.address.port);
    let closed = false;
    c.sock.on('close', () => (closed = true));
    try {
      c.sock.write('POST / HTTP/1.1\r\nhost: hf:8000\r\ncontent-length: 5\r\n\r\n');
      await waitFor(() => up.heads.length === 1, 10_000);
      c.sock.write('hello');
      await waitFor(() => (i === 2 ? closed : /\r\n\r\n[^]+/.test(c.answer())), 10_000);
      if (i === 1) await waitFor(() => c.answer().endsWith('final'), 10_000);
      k.expect(c.answer(), closed);
      if (i === 0) await waitFor(() => u.accessLines.some((l) => / 502 UPE /.test(l)), 5000);
    } finally {
      c.sock.destroy();
      await u.close();
      await up.close();
    }
  }
});

test('HTTP/2 client, HTTP/1.1 upstreams: the head goes first there too, primary and copy', async () => {
  const v1 = await upstream();
  const v2 = await upstream();
  const u = await startTestUmbra({ 'mesh.yaml': mirroredUpload(v1.port, v2.port, 'http') });
  const session = http2.connect(`http://127.0.0.1:${u.listener.address.port}`);
  session.on('error', () => undefined);
  try {
    const req = session.request({
      ':method': 'POST',
      ':path': '/up',
      ':authority': 'upload:8000',
      'content-length': '5',
    });
    req.on('error', () => undefined);
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    const ended = new Promise<void>((r) => req.on('end', () => r()));
    await waitFor(() => v1.seen.length === 1 && v2.seen.length === 1, 10_000);
    assert.equal(v1.seen[0].body, '');
    assert.equal(v2.seen[0].body, '');
    req.end('hello');
    await ended;
    assert.equal(status, 200);
    assert.equal(body, '5');
    await waitFor(() => v2.seen[0].ended, 10_000);
    assert.equal(v1.seen[0].body, 'hello');
    assert.equal(v2.seen[0].body, 'hello');
  } finally {
    session.close();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});
