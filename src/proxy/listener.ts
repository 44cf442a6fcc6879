// A downstream HTTP/1.1 listener: node's server with Umbra's limits, handing each request to the
// proxy. A connection is a sequence: pipelined requests are handed over one at a time, in order,
// and nothing after a response that closes the connection is handed over at all. Requests node
// cannot parse, slow clients, and CONNECT (no tunnelling here) end with a local reply and a closed
// connection; close() drains (stop accepting, let in-flight requests finish with
// `Connection: close`, cut what is left when the drain time is up). Plaintext ports take HTTP/1.1
// and h2c (prior knowledge); TLS ports (`opts.secure`) take HTTP/1.1 and h2 chosen by ALPN. A
// server made elsewhere can be given in `opts.server`; a socket accepted elsewhere is handed in
// with `listener.server.emit('connection', socket)`.

import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import { http } from '../runtime/node-http.js';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import {
  createServer as createTlsServer,
  type Server as TlsServer,
  type TlsOptions,
  type TLSSocket,
} from 'node:tls';
import { DEFAULT_DOWNSTREAM, type DownstreamOptions } from './downstream-options.js';
import { activeStream, Http1Downstream } from './downstream-stream.js';
import { createH2Endpoint } from './h2-server.js';
import { sniffPreface } from './protocol-sniff.js';
import { handleUpgrade } from './upgrade.js';
import type { Proxy, VhostResolver } from './proxy.js';
import { markTimedOut } from './client-timeouts.js';

export interface ListenerOptions extends Partial<DownstreamOptions> {
  readonly host: string;
  readonly port: number;
  /**
   * A node HTTP/1.1 server made elsewhere (e.g. `https.createServer` for TLS), built with
   * `serverOptions()`; Umbra adds its handlers and limits and makes it listen. Default: a plain one.
   */
  readonly server?: Server;
  /** Refuses new connections while true (the overload guard's hook): they are closed at once. */
  readonly refuseConnections?: () => boolean;
  /** Terminate TLS on this port; ALPN `h2` goes to the HTTP/2 side, anything else to HTTP/1.1. */
  readonly secure?: SecureListenerOptions;
}

export interface SecureListenerOptions {
  /** node's TLS server options (certificates by SNICallback, ALPNProtocols, versions, ciphers). */
  readonly options: TlsOptions;
  /** False closes a connection after its handshake, before any HTTP is read. */
  admit(socket: TLSSocket): boolean;
}

/** Pipelined requests waiting on one connection while the one before them is in flight. */
interface ConnectionSequence {
  busy: boolean;
  /** A response closed the connection: nothing more is handed over. */
  over: boolean;
  readonly queue: (readonly [IncomingMessage, ServerResponse])[];
}

/** Parsed requests queued per connection before the socket is paused (the parser stops reading). */
const QUEUE_PAUSE = 32;
const QUEUE_RESUME = 8;

export interface Listener {
  readonly server: Server;
  /** The TLS server that accepts for a secure listener (its secure context can be replaced). */
  readonly tlsServer?: TlsServer;
  readonly address: { host: string; port: number };
  /** Stop accepting; resolves when in-flight requests have finished (or after `drainMs`). */
  close(drainMs?: number): Promise<void>;
}

/**
 * node's own options for a listener. Exported so the parser guard test builds a bare server with
 * exactly these and checks that node still refuses what Umbra relies on it to refuse.
 */
export function serverOptions(o: Partial<DownstreamOptions> = {}): ServerOptions {
  const d = { ...DEFAULT_DOWNSTREAM, ...o };
  return {
    maxHeaderSize: d.maxHeaderBytes,
    headersTimeout: d.headersTimeoutMs,
    requestTimeout: d.requestTimeoutMs,
    keepAliveTimeout: d.keepAliveTimeoutMs,
    connectionsCheckingInterval: d.timeoutCheckIntervalMs,
    // Strict parsing: node then refuses obs-fold, bad chunk sizes, CL+TE, duplicate Content-Length.
    insecureHTTPParser: false,
    // Judged by Umbra (request-checks.ts), which also knows absolute-form targets.
    requireHostHeader: false,
    // Keep each header line apart: a joined value would hide a duplicate Host or Authorization.
    joinDuplicateHeaders: false,
  };
}

/** Server properties (not constructor options) that complete `serverOptions`. */
export function configureServer(server: Server, o: Partial<DownstreamOptions> = {}): void {
  const d = { ...DEFAULT_DOWNSTREAM, ...o };
  // node drops header lines beyond maxHeadersCount without a word; with 0 it keeps them all (the
  // head is bounded by maxHeaderSize anyway) and request-checks.ts answers 431 above the limit.
  server.maxHeadersCount = 0;
  // Not node's maxRequestsPerSocket: that only says "Connection: close" and keeps the connection
  // open (answering 503 to what follows); startListener closes it after the last response instead.
  if (d.maxConnections > 0) server.maxConnections = d.maxConnections;
  server.timeout = d.idleTimeoutMs;
}

/** The response in progress on a connection (node's own bookkeeping, stable since node 0.x). */
function currentResponse(socket: Socket): ServerResponse | null | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
};

/**
 * Answers on the raw socket and closes it — unless a response has already started on this
 * connection: writing a status line into the middle of it would corrupt it, so the client sees the
 * connection reset instead.
 */
function replyAndClose(socket: Socket, status: number): void {
  const res = currentResponse(socket);
  if (res?.writableEnded && socket.writable) {
    // Umbra has already answered in full (e.g. 501 for a transfer coding): flush that, then close.
    socket.destroySoon();
    return;
  }
  if (!socket.writable || res?.headersSent) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
  );
  // A client that never reads must not hold the socket open.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** "METHOD target HTTP/x.y" at the start of what the client sent, when it is that well-formed. */
const REQUEST_LINE = /^([A-Z]{1,20}) (\S{1,200}) (HTTP\/\d\.\d)\r?\n/;

function logRefused(proxy: Proxy, status: number, flags: string, raw: Buffer | undefined): void {
  if (!proxy.log.enabled) return;
  const m = raw ? REQUEST_LINE.exec(raw.subarray(0, 256).toString('latin1')) : null;
  proxy.log.log({
    start: Date.now(),
    method: m?.[1] ?? '-',
    path: m?.[2] ?? '-',
    protocol: m?.[3] ?? 'HTTP/1.1',
    status,
    flags,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 0,
    upstream: '-',
    authority: '-',
    requestId: '-',
    userAgent: '',
    route: '-',
  });
}

function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  // Chunk metadata (extensions) past node's limit: too large, not malformed (RFC 9112 §7.1.1).
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

export async function startListener(
  proxy: Proxy,
  resolve: VhostResolver,
  opts: ListenerOptions,
): Promise<Listener> {
  const limits: Partial<DownstreamOptions> = { ...proxy.downstream, ...opts };
  let draining = false;
  const maxRequests = limits.maxRequestsPerConnection ?? 0;
  const served = new WeakMap<Socket, number>();
  /** Connections whose response in progress says Connection: close. */
  const closingSockets = new WeakSet<Socket>();
  const SEQUENCE = Symbol('umbra.sequence');
  type Sequenced = Socket & { [SEQUENCE]?: ConnectionSequence };
  const dispatch = (seq: ConnectionSequence, req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket;
    seq.busy = true;
    const ds = new Http1Downstream(req, res);
    ds.onClosed = () => {
      seq.busy = false;
      // Closed by this response (Connection: close, a refusal, a cut body): the rest is never read.
      if (seq.over || !res.shouldKeepAlive || socket.destroyed || !socket.writable) {
        seq.over = true;
        seq.queue.length = 0;
        return;
      }
      const next = seq.queue.shift();
      if (seq.queue.length < QUEUE_RESUME && socket.isPaused()) socket.resume();
      if (next) dispatch(seq, next[0], next[1]);
    };
    // A request pipelined behind the one that closes the connection is never forwarded: its answer
    // could not be delivered, and a client that retries it would run it twice (RFC 9112 §9.6).
    if (closingSockets.has(socket) && !ownsClose.has(res)) {
      res.shouldKeepAlive = false;
      res.statusCode = 503;
      res.end();
      return;
    }
    // While draining, every response closes its connection so that clients move elsewhere.
    if (draining) {
      res.shouldKeepAlive = false;
      closingSockets.add(socket);
    } else if (maxRequests > 0) {
      // The last request a connection may carry: its response says Connection: close, and node
      // then closes the connection after it (Envoy max_requests_per_connection).
      const n = (served.get(socket) ?? 0) + 1;
      served.set(socket, n);
      if (n >= maxRequests) {
        res.shouldKeepAlive = false;
        closingSockets.add(socket);
      }
    }
    if (closingSockets.has(socket)) ownsClose.add(res);
    proxy.handleStream(ds, resolve);
  };
  /** The response that set a connection closing (the requests behind it are the refused ones). */
  const ownsClose = new WeakSet<ServerResponse>();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket as Sequenced;
    let seq = socket[SEQUENCE];
    if (!seq) socket[SEQUENCE] = seq = { busy: false, over: false, queue: [] };
    if (seq.over) return; // the connection is closing: nothing after that response is handed over
    if (seq.busy) {
      // One at a time, in order (Envoy's HTTP/1.1 codec does the same).
      seq.queue.push([req, res]);
      if (seq.queue.length >= QUEUE_PAUSE) socket.pause();
      return;
    }
    dispatch(seq, req, res);
  };
  const server = opts.server ?? http.createServer(serverOptions(limits));
  server.on('request', onRequest);
  configureServer(server, limits);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    if (opts.refuseConnections?.()) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // A plaintext listener serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on one port: a
  // plain TCP server accepts, and each connection goes to the server its first bytes call for. A
  // TLS listener lets ALPN decide (RFC 7301): "h2" to the HTTP/2 side, the rest to HTTP/1.1 (which
  // keeps its connection sequencing; http2.createSecureServer's allowHTTP1 would bypass it).
  const h2 = opts.server ? undefined : createH2Endpoint(proxy, resolve, limits);
  const handOff = (socket: Socket, isH2: boolean): void => {
    if (socket.destroyed) return;
    if (isH2) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      h2!.accept(socket);
    } else server.emit('connection', socket);
  };
  const secure = opts.secure;
  const tlsServer =
    h2 && secure
      ? createTlsServer(secure.options, (socket: TLSSocket) => {
          if (opts.refuseConnections?.() || !secure.admit(socket)) return socket.destroy();
          handOff(socket, socket.alpnProtocol === 'h2');
        })
      : undefined;
  // A failed handshake (plaintext on a TLS port, no certificate for the name) closes that socket only.
  tlsServer?.on('tlsClientError', (_e: Error, socket: TLSSocket) => socket.destroy());
  const acceptor: NetServer =
    tlsServer ??
    (h2
      ? createNetServer((socket) => {
          if (opts.refuseConnections?.()) return socket.destroy();
          sniffPreface(socket, limits.headersTimeoutMs ?? DEFAULT_DOWNSTREAM.headersTimeoutMs, (isH2) =>
            handOff(socket, isH2),
          );
        })
      : server);
  if (h2 && server.maxConnections > 0) acceptor.maxConnections = server.maxConnections;
  // WebSocket upgrades are tunnelled to the route's upstream (never mirrored); other upgrades are refused.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
    handleUpgrade(proxy, resolve, req, socket, head),
  );
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    logRefused(
      proxy,
      405,
      'DPE',
      Buffer.from(`CONNECT ${req.url ?? '-'} HTTP/${req.httpVersion}\r\n`, 'latin1'),
    );
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return socket.destroy();
    const status = clientErrorStatus(err.code);
    // A request refused by the parser never reaches the proxy: log it here, as Envoy logs codec
    // errors. (One the proxy already holds is logged by the proxy, as ended by the client: DC.)
    if (!currentResponse(socket)) logRefused(proxy, status, status === 408 ? 'SI' : 'DPE', err.rawPacket);
    else if (status === 408) markTimedOut(socket);
    replyAndClose(socket, status);
  });
  // No byte either way for idleTimeoutMs: 408 if a request is waiting for its answer, else close.
  server.on('timeout', (socket: Socket) => {
    // The whole request was sent and the upstream is the one that is silent: 504 UT (issue 17).
    if (activeStream(socket)?.owner?.idleTimeout()) return;
    if (currentResponse(socket)) {
      markTimedOut(socket);
      replyAndClose(socket, 408);
    } else socket.destroy();
  });
  await new Promise<void>((ok, fail) => {
    acceptor.once('error', fail);
    acceptor.listen(opts.port, opts.host, () => {
      acceptor.off('error', fail);
      ok();
    });
  });
  // node's HTTP server tracks its connections (headers and request timeouts, idle closing) from its
  // 'listening' event; it does not listen itself when the acceptor hands it sockets.
  if (h2) server.emit('listening');
  const a = acceptor.address();
  const address =
    typeof a === 'object' && a ? { host: a.address, port: a.port } : { host: opts.host, port: opts.port };
  let closing: Promise<void> | undefined;
  return {
    server,
    ...(tlsServer ? { tlsServer } : {}),
    address,
    close(drainMs = 10_000) {
      closing ??= new Promise<void>((ok) => {
        draining = true;
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, drainMs);
        timer.unref();
        acceptor.close(() => {
          clearTimeout(timer);
          ok();
        });
        void h2?.close(drainMs);
        for (const s of sockets) {
          const res = currentResponse(s);
          if (!res) continue; // idle: closed below
          closingSockets.add(s);
          // In flight: finish it, then close (node would otherwise keep the connection alive).
          if (!res.headersSent) res.shouldKeepAlive = false;
          else res.once('finish', () => s.end());
        }
        server.closeIdleConnections();
        // Stops node's connection checks (the acceptor, not this server, was listening).
        if (h2) server.close(() => undefined);
      });
      return closing;
    },
  };
}
