// A benchmark backend, run as its own process (forked with an IPC channel) so that it never shares
// an event loop with the proxy under test. Modes: fast (49-byte JSON at once), slow (after 200 ms),
// hung (reads requests, never answers). It counts requests and the Host headers it saw.
// `backend.js MODE PORT [SERVICE] [raw|node]`: v2 answers "httpbin-v2" (same length), so case H's comparison
// finds one field that differs.

import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type BackendMode = 'fast' | 'slow' | 'hung';
/** "raw": the minimal responder below; "node": node's http server, as real Node.js services are. */
export type BackendImpl = 'raw' | 'node';

export interface BackendStats {
  readonly requests: number;
  /** Host header value → requests that carried it. */
  readonly hosts: Record<string, number>;
  readonly connections: number;
}

/** What the parent sends; the child answers `stats` with a BackendStats message. */
export type BackendCommand = { readonly type: 'stats' } | { readonly type: 'reset' };

/** The whole answer; its body is exactly 49 bytes with a 10-character service name, the body size of
 *  the measurements. */
function response(service: string): Buffer {
  const b = `{"service":"${service}","ok":true,"items":[1,2]}\n`;
  return Buffer.from(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`,
    'latin1',
  );
}
const SLOW_MS = 200;
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

let requests = 0;
let connections = 0;
let hosts = new Map<string, number>();

/** Finds a header's value in a request head (latin1 text), case-insensitively, without a regex. */
function headerValue(head: string, lowerName: string): string | undefined {
  const lower = head.toLowerCase();
  const at = lower.indexOf(`\r\n${lowerName}:`);
  if (at === -1) return undefined;
  const start = at + lowerName.length + 3;
  const end = head.indexOf('\r\n', start);
  return head.slice(start, end === -1 ? head.length : end).trim();
}

/**
 * A minimal HTTP/1.1 responder: node's http server would spend more CPU than the proxies it is
 * meant to feed. It understands what the proxies send it (GET/HEAD, or bodies with Content-Length;
 * keep-alive; pipelining) and answers chunked uploads with 501 + close, which no case uses.
 */
function serve(socket: Socket, mode: BackendMode, answer: Buffer): void {
  connections++;
  socket.setNoDelay(true);
  let pending: Buffer | undefined;
  let skipBody = 0;
  const timers = new Set<NodeJS.Timeout>();
  socket.on('data', (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    for (;;) {
      if (skipBody > 0) {
        const n = Math.min(skipBody, buf.length);
        skipBody -= n;
        buf = buf.subarray(n);
        if (skipBody > 0) return;
      }
      if (buf.length === 0) return;
      const end = buf.indexOf(HEAD_END);
      if (end === -1) {
        if (buf.length > MAX_HEAD) socket.destroy();
        else pending = buf;
        return;
      }
      const head = buf.toString('latin1', 0, end);
      buf = buf.subarray(end + 4);
      requests++;
      const host = headerValue(head, 'host') ?? '(none)';
      hosts.set(host, (hosts.get(host) ?? 0) + 1);
      if (headerValue(head, 'transfer-encoding') !== undefined) {
        socket.end('HTTP/1.1 501 Not Implemented\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      skipBody = Number(headerValue(head, 'content-length') ?? 0) || 0;
      const close = headerValue(head, 'connection')?.toLowerCase() === 'close';
      if (mode === 'fast') {
        if (close) return void socket.end(answer);
        socket.write(answer);
      } else if (mode === 'slow') {
        const t = setTimeout(() => {
          timers.delete(t);
          if (close) socket.end(answer);
          else if (!socket.destroyed) socket.write(answer);
        }, SLOW_MS);
        timers.add(t);
      }
      // hung: the request is read and counted, and never answered.
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    connections--;
    for (const t of timers) clearTimeout(t);
  });
}

/**
 * The same answers from node's http server: header parsing into objects, Date and Connection
 * headers, streams — what a service written for Node.js costs per request.
 */
function serveNode(mode: BackendMode, service: string) {
  const body = Buffer.from(`{"service":"${service}","ok":true,"items":[1,2]}\n`);
  const server = createHttpServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    requests++;
    const host = req.headers.host ?? '(none)';
    hosts.set(host, (hosts.get(host) ?? 0) + 1);
    req.resume();
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    };
    req.on('end', () => {
      if (mode === 'fast') answer();
      else if (mode === 'slow') setTimeout(answer, SLOW_MS);
      // hung: read and counted, never answered
    });
  });
  server.on('connection', () => {
    connections++;
  });
  return server;
}

function main(): void {
  const mode = process.argv[2] as BackendMode;
  const port = Number(process.argv[3]);
  const service = process.argv[4] ?? 'httpbin-v1';
  const impl = (process.argv[5] ?? 'raw') as BackendImpl;
  const answer = response(service);
  if (
    !['fast', 'slow', 'hung'].includes(mode) ||
    !Number.isInteger(port) ||
    !['raw', 'node'].includes(impl)
  ) {
    process.stderr.write('usage: backend.js fast|slow|hung PORT [SERVICE] [raw|node]\n');
    process.exit(2);
  }
  const server =
    impl === 'node'
      ? serveNode(mode, service)
      : createServer({ noDelay: true }, (s) => serve(s, mode, answer));
  server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () =>
    process.send?.({ type: 'listening', port }),
  );
  answerParent(
    () => ({ requests, connections, hosts: Object.fromEntries(hosts) }),
    () => {
      requests = 0;
      hosts = new Map();
    },
  );
}

/** A backend process's side of the runner's protocol: counters on `stats`, zeroed on `reset`. */
export function answerParent(stats: () => BackendStats, reset: () => void): void {
  process.on('message', (m: BackendCommand) => {
    if (m.type === 'stats') process.send?.({ type: 'stats', ...stats() });
    if (m.type === 'reset') {
      reset();
      process.send?.({ type: 'reset' });
    }
  });
  // The parent going away ends the backend too: no stray servers after a crash.
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
