// The HTTP/2 benchmark backend (h2c and gRPC cases), its own process like bench/backend.ts: a
// node:http2 server with prior knowledge (what Umbra dials for a Service port named http2/grpc) and,
// on a second port, node's HTTP/1.1 server with the same answers and counters (nginx's proxy_pass
// cannot speak HTTP/2 upstream). `h2-backend.js MODE H2PORT H1PORT [SERVICE]`.
// A gRPC request (content-type application/grpc) gets one length-prefixed message and trailers
// grpc-status 0 (gRPC over HTTP/2, PROTOCOL-HTTP2.md); any other request the 49-byte JSON.

import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createH2Server, constants } from 'node:http2';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answerParent, type BackendMode } from './backend.js';

const SLOW_MS = 200;
let requests = 0;
let connections = 0;
let hosts = new Map<string, number>();

function count(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): void {
  requests++;
  const h = headers[':authority'] ?? headers.host ?? '(none)';
  const host = Array.isArray(h) ? h[0] : h;
  hosts.set(host, (hosts.get(host) ?? 0) + 1);
}

/** A gRPC message frame: compressed flag 0, 4-byte big-endian length, then the bytes. */
function grpcFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

function after(mode: BackendMode, answer: () => void): void {
  if (mode === 'fast') answer();
  else if (mode === 'slow') setTimeout(answer, SLOW_MS);
  // hung: read and counted, never answered
}

function main(): void {
  const mode = process.argv[2] as BackendMode;
  const h2Port = Number(process.argv[3]);
  const h1Port = Number(process.argv[4]);
  const service = process.argv[5] ?? 'httpbin-v1';
  if (!['fast', 'slow', 'hung'].includes(mode) || !Number.isInteger(h2Port) || !Number.isInteger(h1Port)) {
    process.stderr.write('usage: h2-backend.js fast|slow|hung H2PORT H1PORT [SERVICE]\n');
    process.exit(2);
  }
  const body = Buffer.from(`{"service":"${service}","ok":true,"items":[1,2]}\n`);
  const grpcBody = grpcFrame(body);
  const h2 = createH2Server({ settings: { maxConcurrentStreams: 1000 } });
  h2.on('session', () => connections++);
  h2.on('stream', (stream, headers) => {
    count(headers);
    stream.on('error', () => undefined);
    stream.resume();
    const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
    stream.on('end', () =>
      after(mode, () => {
        if (stream.destroyed) return;
        if (grpc) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': '' }));
          stream.end(grpcBody);
        } else {
          stream.respond({
            ':status': 200,
            'content-type': 'application/json',
            [constants.HTTP2_HEADER_CONTENT_LENGTH]: body.length,
          });
          stream.end(body);
        }
      }),
    );
  });
  const h1 = createHttpServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    count(req.headers);
    req.resume();
    req.on('end', () =>
      after(mode, () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      }),
    );
  });
  h1.on('connection', () => connections++);
  let listening = 0;
  const ready = () => {
    if (++listening === 2) process.send?.({ type: 'listening', port: h2Port });
  };
  h2.listen({ port: h2Port, host: '127.0.0.1', backlog: 4096 }, ready);
  h1.listen({ port: h1Port, host: '127.0.0.1', backlog: 4096 }, ready);
  answerParent(
    () => ({ requests, connections, hosts: Object.fromEntries(hosts) }),
    () => {
      requests = 0;
      hosts = new Map();
    },
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
