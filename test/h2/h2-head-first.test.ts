// Head first (docs/request-lifecycle.md): an HTTP/2 upstream gets the request's HEADERS as soon as
// Umbra has routed it, the primary and its copy alike, before the client has sent one body byte.
// (HTTP/1.1 upstreams: test/lifecycle/head-first.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect, type AddressInfo } from 'node:net';
import { waitFor } from '../helpers/servers.js';
import { mirroredUpload } from '../helpers/mesh-yaml.js';
import { startTestUmbra } from '../helpers/umbra.js';

interface SeenStream {
  body: string;
}

/** An h2c server that notes each stream on HEADERS, reads the body and answers its length. */
async function h2Upstream(): Promise<{ port: number; streams: SeenStream[]; close(): Promise<void> }> {
  const streams: SeenStream[] = [];
  const server = http2.createServer();
  server.on('stream', (stream) => {
    const s: SeenStream = { body: '' };
    streams.push(s);
    stream.on('error', () => undefined);
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (s.body += c));
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(String(s.body.length));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    streams,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('h2 upstreams: the primary and its copy get the head before the client sends any body', async () => {
  const v1 = await h2Upstream();
  const v2 = await h2Upstream();
  const u = await startTestUmbra({
    'mesh.yaml': mirroredUpload(v1.port, v2.port, 'http2'),
  });
  const sock = connect(u.listener.address.port, '127.0.0.1');
  try {
    let answer = '';
    sock.setEncoding('latin1').on('data', (d: string) => (answer += d));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('POST /up HTTP/1.1\r\nHost: upload:8000\r\nContent-Length: 5\r\n\r\n');
    // No body byte has left the client: both upstreams must already have the stream.
    await waitFor(() => v1.streams.length === 1 && v2.streams.length === 1, 10_000);
    assert.equal(v1.streams[0].body, '');
    assert.equal(v2.streams[0].body, '');
    assert.equal(answer, '', 'nothing answered before the body');
    sock.write('hello');
    // The answer's body is "5" (the length v1 read), chunked or with a Content-Length.
    await waitFor(() => /\r\n\r\n(5|1\r\n5\r\n0\r\n\r\n)$/.test(answer), 10_000);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    await waitFor(() => v2.streams[0].body === 'hello', 10_000);
    assert.equal(v1.streams[0].body, 'hello');
  } finally {
    sock.destroy();
    await u.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});
