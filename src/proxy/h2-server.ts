// The downstream HTTP/2 side of a listener: a node:http2 server that never listens itself — sockets
// are handed in (h2c with prior knowledge after the preface was seen, or TLS sockets that chose
// "h2" by ALPN) — and turns each stream into a request lifecycle. Edge limits follow Envoy's edge
// guidance and node's HTTP/2 advisories: 100 concurrent streams, 64 KiB stream and 1 MiB connection
// windows, a header list bound, and sessions that reset streams in bulk (rapid reset,
// CVE-2023-44487) closed with ENHANCE_YOUR_CALM. CONTINUATION floods (CVE-2024-27316) are bounded by
// nghttp2 itself (≥ 1.61, in node ≥ 20.12.1) and by the header list size.

import http2, {
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { DEFAULT_DOWNSTREAM, type DownstreamOptions } from './downstream-options.js';
import { Http2Downstream } from './h2-downstream.js';
import type { Proxy, VhostResolver } from './proxy.js';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = http2.constants;

export interface H2Limits {
  readonly maxConcurrentStreams: number;
  readonly initialWindowSize: number;
  readonly connectionWindowSize: number;
  /** Streams a client may reset before their response within one session before it is closed. */
  readonly maxClientResets: number;
}

export const DEFAULT_H2_LIMITS: H2Limits = {
  maxConcurrentStreams: 100,
  initialWindowSize: 65_535,
  connectionWindowSize: 1024 * 1024,
  maxClientResets: 200,
};

/** The 24 bytes every HTTP/2 connection starts with (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface H2Endpoint {
  readonly server: Http2Server;
  /** Serves HTTP/2 on a socket (plaintext with prior knowledge, or TLS after ALPN chose "h2"). */
  accept(socket: Duplex): void;
  /** Sessions open now. */
  readonly sessions: ReadonlySet<Http2Session>;
  /** GOAWAY to every session; streams in flight finish; the rest are cut after `drainMs`. */
  close(drainMs?: number): Promise<void>;
}

export function createH2Endpoint(
  proxy: Proxy,
  resolve: VhostResolver,
  o: Partial<DownstreamOptions & H2Limits> = {},
): H2Endpoint {
  const d = { ...DEFAULT_DOWNSTREAM, ...DEFAULT_H2_LIMITS, ...proxy.downstream, ...o };
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: d.maxConcurrentStreams,
      initialWindowSize: d.initialWindowSize,
      maxHeaderListSize: d.maxHeaderBytes,
      enablePush: false,
    },
    // Header fields per request, pseudo-headers included; beyond, the stream is refused.
    maxHeaderListPairs: d.maxHeadersCount + 8,
    // Frames nghttp2 finds invalid, and streams it refused, before the session is torn down.
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    // A client's SETTINGS cannot make a session hold more than this much memory (MB).
    maxSessionMemory: 10,
  });
  const sessions = new Set<Http2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', () => undefined);
    session.on('connect', () => session.setLocalWindowSize(d.connectionWindowSize));
    // No frame either way for the idle timeout: GOAWAY, then close.
    session.setTimeout(d.idleTimeoutMs, () => {
      session.goaway(NGHTTP2_NO_ERROR);
      session.close();
    });
    let resets = 0;
    let streams = 0;
    session.on('stream', (stream: ServerHttp2Stream) => {
      streams++;
      stream.once('close', () => {
        // Reset by the client before its response was complete (rapid reset).
        if (stream.rstCode !== NGHTTP2_NO_ERROR && !stream.headersSent) resets++;
        if (resets >= d.maxClientResets && resets * 2 > streams && !session.destroyed) {
          session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
          session.destroy();
        }
      });
    });
  });
  server.on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      const socket = stream.session?.socket;
      const encrypted = socket instanceof TLSSocket;
      proxy.handleStream(new Http2Downstream(stream, headers, rawHeaders, encrypted), resolve);
    },
  );
  return {
    server,
    sessions,
    accept(socket) {
      server.emit('connection', socket);
    },
    close(drainMs = 10_000) {
      return new Promise<void>((ok) => {
        if (sessions.size === 0) return ok();
        const timer = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, drainMs);
        timer.unref();
        let left = sessions.size;
        for (const s of sessions) {
          s.once('close', () => {
            if (--left === 0) {
              clearTimeout(timer);
              ok();
            }
          });
          s.close();
        }
      });
    },
  };
}
