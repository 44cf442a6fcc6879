// An HTTP/2 copy that falls behind is reset, never delivered truncated as if complete: a large
// streamed upload goes whole to v1 while the mirror (an h2 server that never reads) holds the
// copy's stream past the per-copy buffer; the mirror sees RST_STREAM and no END_STREAM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../helpers/servers.js';
import { mirroredUpload } from '../helpers/mesh-yaml.js';
import { startTestUmbra } from '../helpers/umbra.js';

interface H2Upstream {
  port: number;
  streams: { bytes: number; ended: boolean; rstCode?: number }[];
  close(): Promise<void>;
}

/** `read`: counts the body and answers its length; otherwise never reads and never answers. */
async function h2Upstream(read: boolean): Promise<H2Upstream> {
  const server = http2.createServer();
  const u: H2Upstream = { port: 0, streams: [], close: () => Promise.resolve() };
  server.on('stream', (stream) => {
    const s: H2Upstream['streams'][number] = { bytes: 0, ended: false };
    u.streams.push(s);
    stream.on('error', () => undefined);
    stream.on('aborted', () => (s.rstCode = stream.rstCode ?? -1));
    stream.on('close', () => (s.rstCode ??= stream.rstCode));
    if (!read) return stream.pause();
    stream.on('data', (c: Buffer) => (s.bytes += c.length));
    stream.on('end', () => {
      s.ended = true;
      stream.respond({ ':status': 200 });
      stream.end(String(s.bytes));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
    });
  return u;
}

test('a lagging HTTP/2 copy is reset with RST_STREAM, never ended; the primary gets the whole body', async () => {
  const v1 = await h2Upstream(true);
  const v2 = await h2Upstream(false);
  const umbra = await startTestUmbra({
    'mesh.yaml': mirroredUpload(v1.port, v2.port, 'http2'),
  });
  const client = http2.connect(`http://127.0.0.1:${umbra.listener.address.port}`);
  try {
    const total = 8 * 1024 * 1024;
    const answer = await new Promise<string>((resolve, reject) => {
      const req = client.request({ ':method': 'POST', ':path': '/up', ':authority': 'upload:8000' });
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => resolve(body));
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(answer, String(total));
    assert.equal(v1.streams[0].bytes, total);
    // The copy was opened, then reset: the mirror never saw its stream end.
    await waitFor(() => v2.streams.length === 1 && v2.streams[0].rstCode !== undefined, 10_000);
    assert.equal(v2.streams[0].ended, false);
    assert.notEqual(v2.streams[0].rstCode, http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    client.close();
    await umbra.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});
