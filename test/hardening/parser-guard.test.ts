// The parser guard: a bare node HTTP server built with exactly Umbra's server options (listener.ts
// serverOptions + configureServer) must still refuse every request Umbra relies on node to refuse,
// and still behave the way request-checks.ts assumes. A node upgrade that loosens llhttp fails here
// by name, instead of quietly opening a smuggling hole in the proxy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configureServer, serverOptions } from '../../src/proxy/listener.js';
import { NODE_REJECTS } from './parser-cases.js';
import { exchange } from './raw-http.js';

interface Bare {
  server: Server;
  port: number;
  requests: IncomingMessage[];
  /** Requests whose body arrived whole ('end'). */
  completed: IncomingMessage[];
}

async function startBare(): Promise<Bare> {
  const requests: IncomingMessage[] = [];
  const completed: IncomingMessage[] = [];
  const server = createServer(serverOptions(), (req, res) => {
    requests.push(req);
    req.on('error', () => undefined);
    req.resume();
    req.on('end', () => {
      completed.push(req);
      res.end('handled');
    });
  });
  configureServer(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port, requests, completed };
}

test('node still refuses every request Umbra leaves to its parser', async () => {
  const bare = await startBare();
  try {
    for (const c of NODE_REJECTS) {
      const before = bare.requests.length;
      const completedBefore = bare.completed.length;
      const { res, closed } = await exchange(bare.port, c.bytes);
      assert.equal(res.status, c.status, `${c.name}: node answered ${res.status}`);
      assert.equal(closed, true, `${c.name}: connection left open`);
      if (c.stage === 'head')
        assert.equal(bare.requests.length, before, `${c.name}: reached the request handler`);
      // A body refused part-way never ends cleanly: a proxy streaming it aborts its upstream copy.
      assert.equal(bare.completed.length, completedBefore, `${c.name}: the body was accepted as complete`);
    }
  } finally {
    bare.server.closeAllConnections();
    bare.server.close();
  }
});

test('node behaves as request-checks.ts assumes for what it lets through', async () => {
  const bare = await startBare();
  try {
    const last = () => bare.requests[bare.requests.length - 1];
    // HTTP/0.9 and HTTP/2.0 request lines reach the handler with their version: Umbra refuses them.
    await exchange(bare.port, 'GET /\r\n\r\n');
    assert.equal(last().httpVersion, '0.9');
    await exchange(bare.port, 'GET / HTTP/2.0\r\nHost: a\r\n\r\n');
    assert.equal(last().httpVersionMajor, 2);
    // maxHeadersCount = 0: every header line is kept, so Umbra's own count (431) sees them all.
    const many = Array.from({ length: 2500 }, (_, i) => `x-${i}: 1\r\n`).join('');
    await exchange(bare.port, `GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n`);
    assert.equal(last().rawHeaders.length, 2 * 2501);
    // Duplicate singleton fields: req.headers keeps the first line, rawHeaders keeps them all.
    await exchange(
      bare.port,
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nAuthorization: x\r\nAuthorization: y\r\n\r\n',
    );
    assert.equal(last().headers.host, 'a');
    assert.equal(last().headers.authorization, 'x');
    assert.deepEqual(last().rawHeaders, [
      'Host',
      'a',
      'Host',
      'b',
      'Authorization',
      'x',
      'Authorization',
      'y',
    ]);
    // A coding before chunked gets through with the body de-chunked: Umbra must answer 501.
    await exchange(
      bare.port,
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    assert.equal(last().headers['transfer-encoding'], 'gzip, chunked');
    // Transfer-Encoding in HTTP/1.0 is accepted too: Umbra refuses it (RFC 9112 §6.1).
    await exchange(
      bare.port,
      'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    assert.equal(last().httpVersion, '1.0');
    assert.equal(last().headers['transfer-encoding'], 'chunked');
    // "//host/path", "*" and fragments reach the handler as written: Umbra decides.
    await exchange(bare.port, 'GET //evil/x#f HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(last().url, '//evil/x#f');
    await exchange(bare.port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(last().url, '*');
  } finally {
    bare.server.closeAllConnections();
    bare.server.close();
  }
});
