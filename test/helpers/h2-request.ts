// One HTTP/2 request from node's client, answered as what the client saw: status, body, whether the
// stream ended cleanly (END_STREAM) or was reset, and the RST_STREAM code.

import http2 from 'node:http2';

export interface H2Answer {
  status?: number;
  body: Buffer;
  /** The stream ended cleanly (END_STREAM), not by a reset. */
  ended: boolean;
  rstCode?: number;
}

/**
 * One request on `session`, resolved when its stream closes; `body` is sent whole (Buffer), written
 * by a function of the stream (which may also keep the stream to write later), or not sent at all.
 */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | ((req: http2.ClientHttp2Stream) => void),
): Promise<H2Answer> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: body === undefined });
    const a: H2Answer = { body: Buffer.alloc(0), ended: false };
    const chunks: Buffer[] = [];
    req.on('response', (h) => (a.status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => (a.ended = true));
    req.on('error', () => undefined);
    req.on('close', () => {
      a.body = Buffer.concat(chunks);
      a.rstCode = req.rstCode;
      resolve(a);
    });
    if (typeof body === 'function') body(req);
    else if (body) req.end(body);
  });
}

/**
 * Writes up to `total` bytes on `req` in 64 KiB blocks as fast as flow control lets it, then ends
 * it; returns how many bytes it has handed to the stream so far.
 */
export function pumpUpload(req: http2.ClientHttp2Stream, total: number): () => number {
  let sent = 0;
  const block = Buffer.alloc(64 * 1024, 1);
  const pump = () => {
    while (sent < total && !req.destroyed) {
      sent += block.length;
      if (!req.write(block)) return void req.once('drain', pump);
    }
    if (!req.destroyed) req.end();
  };
  pump();
  return () => sent;
}
