// Head first on HTTP/1.1 upstreams (docs/request-lifecycle.md): a request whose body has not begun
// reaches the primary and its copy as a head at once, so an upstream can answer before the upload
// (Envoy forwards a decoded head at once, shadow included). Raw client sockets; node HTTP upstreams,
// whose 'request' event fires on the head alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { RawConnection } from '../hardening/raw-http.js';
import { h2Request } from '../helpers/h2-request.js';
import { waitFor } from '../helpers/servers.js';
import { mirroredUpload } from '../helpers/mesh-yaml.js';
import { singleEndpointService, startTestUmbra, type TestUmbra } from '../helpers/umbra.js';
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
interface Upstream {
  readonly port: number;
  readonly seen: Seen[];
  connections(): number;
  close(): Promise<void>;
}

async function upstream(early = false): Promise<Upstream> {
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

interface Rig {
  readonly v1: Upstream;
  readonly v2: Upstream;
  readonly u: TestUmbra;
  /** A raw client connection to Umbra's listener. */
  readonly c: RawConnection;
}

/**
 * Upstreams v1 and v2 of the "upload" service, Umbra routing it to v1 and mirroring to v2, and a raw
 * client; all closed after `fn`. `v1`: it answers 401 on the head ('early'), or is not listening
 * ('down'); `yaml` edits the resources.
 */
async function withMirroredUpload(
  opts: { v1?: 'early' | 'down'; yaml?: (yaml: string) => string },
  fn: (r: Rig) => Promise<void>,
): Promise<void> {
  const v1 = await upstream(opts.v1 === 'early');
  if (opts.v1 === 'down') await v1.close();
  const v2 = await upstream();
  const yaml = mirroredUpload(v1.port, v2.port, 'http');
  const u = await startTestUmbra({ 'mesh.yaml': opts.yaml ? opts.yaml(yaml) : yaml });
  const c = await RawConnection.open(u.listener.address.port);
  try {
    await fn({ v1, v2, u, c });
  } finally {
    c.close();
    await u.close();
    await Promise.all([opts.v1 === 'down' ? undefined : v1.close(), v2.close()]);
  }
}

test('HTTP/1.1 upstreams: the primary and its copy get the head before the client sends any body', async () => {
  await withMirroredUpload({}, async ({ v1, v2, c }) => {
    for (const [framing, body] of [
      ['Content-Length: 5', 'hello'],
      ['Transfer-Encoding: chunked', '5\r\nhello\r\n0\r\n\r\n'],
    ]) {
      const before = v1.seen.length;
      const answered = c.received().length;
      c.write(`POST /up HTTP/1.1\r\nHost: upload:8000\r\n${framing}\r\n\r\n`);
      // No body byte has left the client: both upstreams must already have the request.
      await waitFor(() => v1.seen.length === before + 1 && v2.seen.length === before + 1, 10_000);
      const [p, copy] = [v1.seen[before], v2.seen[before]];
      assert.equal(p.body, '');
      assert.equal(copy.body, '');
      assert.equal(copy.head.host, 'upload-shadow:8000', 'the copy is a copy');
      assert.equal(c.received().length, answered, 'nothing answered before the body');
      c.write(body);
      await waitFor(() => /\r\n\r\n(5|1\r\n5\r\n0\r\n\r\n)$/.test(c.received().slice(answered)), 10_000);
      assert.match(c.received().slice(answered), /^HTTP\/1\.1 200 /);
      assert.equal(p.body, 'hello', framing);
      await waitFor(() => copy.ended, 10_000);
      assert.equal(copy.body, 'hello', framing);
    }
  });
});

test('HTTP/1.1: an upstream that answers on the head reaches the client before it uploads a byte', async () => {
  await withMirroredUpload({ v1: 'early' }, async ({ v2, c }) => {
    c.write('PUT /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 1048576\r\n\r\n');
    await waitFor(() => /\r\n\r\ndenied$/.test(c.received()), 10_000);
    assert.match(c.received(), /^HTTP\/1\.1 401 /);
    // The copy got its head too and is waiting for the body, which the client may still send:
    // the answer does not stop it (the primary's fate is not the copy's).
    await waitFor(() => v2.seen.length === 1, 10_000);
    c.write(Buffer.alloc(1024 * 1024, 0x61));
    await waitFor(() => v2.seen[0].ended, 10_000);
    assert.equal(v2.seen[0].body.length, 1024 * 1024);
  });
});

test('HTTP/1.1 head first: a client that breaks off its upload leaves neither upstream a whole body', async () => {
  await withMirroredUpload({}, async ({ v1, v2, u, c }) => {
    c.write('POST /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 10\r\n\r\n');
    await waitFor(() => v1.seen.length === 1 && v2.seen.length === 1, 10_000);
    c.write('hel');
    await waitFor(() => v1.seen[0].body === 'hel' && v2.seen[0].body === 'hel', 10_000);
    c.close();
    // Cut, never ended: the upstreams' parsers would take a short body closed cleanly as an error anyway,
    // but a chunked one would be whole at its last chunk, so the connection itself must go.
    await waitFor(() => v1.seen[0].cut && v2.seen[0].cut, 10_000);
    assert.equal(v1.seen[0].ended, false);
    assert.equal(v2.seen[0].ended, false);
    // The copy ended as the client's doing, which says nothing of v2's health.
    const counters = u.proxy.mirrors.counters.get('upload.default|v2')!;
    await waitFor(() => counters.inFlight === 0, 10_000);
    assert.equal(counters.failed.client_abort, 1, JSON.stringify(counters));
  });
});

test('HTTP/1.1 head first: v1 down is answered 503 at once and the copy to v2 still gets the whole body', async () => {
  await withMirroredUpload({ v1: 'down' }, async ({ v2, u, c }) => {
    c.write('POST /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 5\r\n\r\n');
    await waitFor(() => /\r\n\r\n[^]+/.test(c.received()), 10_000);
    assert.match(c.received(), /^HTTP\/1\.1 503 /);
    c.write('hello');
    await waitFor(() => v2.seen.length === 1 && v2.seen[0].ended, 10_000);
    assert.equal(v2.seen[0].body, 'hello');
    const counters = u.proxy.mirrors.counters.get('upload.default|v2')!;
    await waitFor(() => counters.inFlight === 0, 10_000);
    assert.equal(counters.completed['2xx'], 1, JSON.stringify(counters));
  });
});

test('HTTP/1.1 head first: maxRequestsPerConnection closes a connection after exactly N requests', async () => {
  const yaml = (y: string) =>
    y.replace(
      'subsets: [',
      'trafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: 2}}}\n  subsets: [',
    );
  await withMirroredUpload({ yaml }, async ({ v1, c }) => {
    for (let i = 1; i <= 4; i++) {
      const answered = c.received().length;
      c.write('POST /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 5\r\n\r\n');
      await waitFor(() => v1.seen.length === i, 10_000);
      c.write('hello');
      await waitFor(() => /\r\n\r\n(5|1\r\n5\r\n0\r\n\r\n)$/.test(c.received().slice(answered)), 10_000);
    }
    assert.equal(v1.connections(), 2);
  });
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
    const c = await RawConnection.open(u.listener.address.port);
    try {
      c.write('POST / HTTP/1.1\r\nhost: hf:8000\r\ncontent-length: 5\r\n\r\n');
      await waitFor(() => up.heads.length === 1, 10_000);
      c.write('hello');
      await waitFor(() => (i === 2 ? c.closed : /\r\n\r\n[^]+/.test(c.received())), 10_000);
      if (i === 1) await waitFor(() => c.received().endsWith('final'), 10_000);
      k.expect(c.received(), c.closed);
      if (i === 0) await waitFor(() => u.accessLines.some((l) => / 502 UPE /.test(l)), 5000);
    } finally {
      c.close();
      await u.close();
      await up.close();
    }
  }
});

test('HTTP/2 client, HTTP/1.1 upstreams: the head goes first there too, primary and copy', async () => {
  await withMirroredUpload({}, async ({ v1, v2, u }) => {
    const session = http2.connect(`http://127.0.0.1:${u.listener.address.port}`);
    session.on('error', () => undefined);
    try {
      let req: http2.ClientHttp2Stream | undefined;
      const answer = h2Request(
        session,
        { ':method': 'POST', ':path': '/up', ':authority': 'upload:8000', 'content-length': '5' },
        (r) => (req = r),
      );
      await waitFor(() => v1.seen.length === 1 && v2.seen.length === 1, 10_000);
      assert.equal(v1.seen[0].body, '');
      assert.equal(v2.seen[0].body, '');
      req!.end('hello');
      const a = await answer;
      assert.equal(a.status, 200);
      assert.equal(a.body.toString(), '5');
      await waitFor(() => v2.seen[0].ended, 10_000);
      assert.equal(v1.seen[0].body, 'hello');
      assert.equal(v2.seen[0].body, 'hello');
    } finally {
      session.close();
    }
  });
});

test('HTTP/1.1 head first: an upload head pipelined behind a refusal reaches neither upstream', async () => {
  await withMirroredUpload({}, async ({ v1, v2, c }) => {
    // 501 for a transfer coding Umbra does not decode, then the head of an upload whose body has not
    // begun: the kind of request that would now leave at once.
    c.write(
      'POST /refused HTTP/1.1\r\nHost: upload:8000\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' +
        'POST /smuggled HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 5\r\n\r\n',
    );
    const r = await c.response('POST', 10_000);
    assert.equal(r.status, 501);
    assert.ok(await c.waitClosed(10_000), 'connection closed after the refusal');
    assert.ok(!c.unread().includes('HTTP/1.1'), 'no second response');
    await new Promise((ok) => setTimeout(ok, 200));
    assert.equal(v1.seen.length, 0);
    assert.equal(v2.seen.length, 0);
  });
});

test('HTTP/1.1 head first: after an answer on the head, the body is drained and a keep-alive follow-up answered', async () => {
  await withMirroredUpload({ v1: 'early' }, async ({ v1, c }) => {
    c.write('PUT /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 5\r\n\r\n');
    const first = await c.response('PUT', 10_000);
    assert.equal(first.status, 401);
    // The client sends the body it announced, then a second request on the same connection.
    c.write('hello');
    c.write('GET /next HTTP/1.1\r\nHost: upload:8000\r\n\r\n');
    // A 5-byte body is within the drain bound: it is read and dropped, and the connection stays.
    const next = await c.response('GET', 10_000);
    assert.equal(next.status, 401);
    assert.equal(c.closed, false);
    assert.equal(v1.seen.length, 2, 'both requests reached v1, on the one client connection');
  });
});
