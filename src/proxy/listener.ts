// A downstream HTTP/1.1 listener: node's server with Umbra's limits, handing each request to the
// proxy. Requests node cannot parse, and CONNECT (no tunnelling here), end with a local reply.

import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Proxy, VhostResolver } from './proxy.js';

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxHeaderSize?: number;
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
}

export interface Listener {
  readonly server: Server;
  readonly address: { host: string; port: number };
  /** Stop accepting; resolves when in-flight requests have finished (or after `drainMs`). */
  close(drainMs?: number): Promise<void>;
}

export async function startListener(proxy: Proxy, resolve: VhostResolver, opts: ListenerOptions): Promise<Listener> {
  const server = createServer(
    {
      maxHeaderSize: opts.maxHeaderSize ?? 64 * 1024,
      headersTimeout: opts.headersTimeoutMs ?? 60_000,
      requestTimeout: opts.requestTimeoutMs ?? 0,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 60_000,
      // Node rejects obs-fold, bad chunk sizes and CL+TE conflicts; keep it strict.
      insecureHTTPParser: false,
      requireHostHeader: false, // judged by Umbra (400 with a clear body)
    },
    (req, res) => proxy.handle(req, res, resolve),
  );
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('connect', (_req, socket: Socket) => {
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const text = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const a = server.address();
  const address = typeof a === 'object' && a ? { host: a.address, port: a.port } : { host: opts.host, port: opts.port };
  return {
    server,
    address,
    close(drainMs = 10_000) {
      return new Promise<void>((ok) => {
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, drainMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          ok();
        });
        server.closeIdleConnections();
      });
    },
  };
}
