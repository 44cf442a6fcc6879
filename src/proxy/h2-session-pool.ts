// HTTP/2 sessions to one upstream endpoint on node:http2 (undici 7 runs one streamed request per h2
// connection), and the registry of such pools per cluster endpoint. A pool opens streams on the
// least-loaded session with room, opens another session when all are full (up to maxConnections),
// queues beyond that (up to maxPendingRequests), and refuses past http2MaxRequests — Envoy's HTTP/2
// connection pool and circuit breakers as Istio's connectionPool configures them.

import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { ConnectionOptions } from 'node:tls';

export interface H2PoolSettings {
  /** Sessions per endpoint (0 = as many as the streams need). */
  readonly maxConnections: number;
  /** Streams waiting for a session with room (0 = unlimited). */
  readonly maxPendingRequests: number;
  /** Streams per session over its life, then it drains and closes (0 = unlimited). */
  readonly maxRequestsPerConnection: number;
  /** Streams at once on one session; the server's SETTINGS_MAX_CONCURRENT_STREAMS lowers it (0 = the server's). */
  readonly maxConcurrentStreams?: number;
  /** Streams in flight on the whole pool before refusing (Istio http2MaxRequests; 0 = unlimited). */
  readonly maxRequests?: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly tcpKeepaliveMs?: number;
}

export interface H2Origin {
  readonly address: string;
  readonly port: number;
  /** TLS options (SNI, CAs, checks) for h2 over TLS; ALPN "h2" is added. Absent: h2c with prior knowledge. */
  readonly tls?: ConnectionOptions;
}

export type H2PoolErrorCode =
  | 'H2_OVERFLOW_MAX_REQUESTS'
  | 'H2_OVERFLOW_MAX_PENDING'
  | 'H2_CONNECT_FAILED'
  | 'H2_CONNECT_TIMEOUT'
  | 'H2_ABORTED'
  | 'H2_POOL_CLOSED';

/** Errors with stable codes; `overflow` ones map to 503 UO, connect ones to 503 UF. */
export class H2PoolError extends Error {
  constructor(
    readonly code: H2PoolErrorCode,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'H2PoolError';
  }
  get overflow(): boolean {
    return this.code === 'H2_OVERFLOW_MAX_REQUESTS' || this.code === 'H2_OVERFLOW_MAX_PENDING';
  }
}

/** Before the server's SETTINGS arrive, assume the RFC 9113 recommended minimum. */
const ASSUMED_PEER_STREAMS = 100;

interface SessionState {
  readonly session: ClientHttp2Session;
  ready: boolean;
  active: number;
  opened: number;
  /** No new streams: GOAWAY received, request budget spent, or closing. */
  draining: boolean;
  idleTimer?: NodeJS.Timeout;
}

interface Waiter {
  readonly headers: OutgoingHttpHeaders;
  readonly endStream: boolean;
  readonly signal?: AbortSignal;
  readonly resolve: (s: ClientHttp2Stream) => void;
  readonly reject: (e: Error) => void;
  readonly onAbort: () => void;
}

export interface H2PoolStats {
  readonly sessions: number;
  readonly active: number;
  readonly pending: number;
  readonly sessionsOpened: number;
  readonly streamsOpened: number;
}

export class H2SessionPool {
  private readonly sessions: SessionState[] = [];
  private readonly queue: Waiter[] = [];
  private active = 0;
  private closed = false;
  private sessionsOpened = 0;
  private streamsOpened = 0;
  private connectFailure?: H2PoolError;

  constructor(
    readonly origin: H2Origin,
    private readonly settings: H2PoolSettings,
  ) {}

  get stats(): H2PoolStats {
    return {
      sessions: this.sessions.length,
      active: this.active,
      pending: this.queue.length,
      sessionsOpened: this.sessionsOpened,
      streamsOpened: this.streamsOpened,
    };
  }

  /**
   * Opens a stream with these request headers (pseudo-headers included) once a session has room.
   * Rejects with an H2PoolError on overflow, connect failure, abort or close; stream errors (resets,
   * REFUSED_STREAM) arrive on the stream itself.
   */
  request(
    headers: OutgoingHttpHeaders,
    opts: { endStream?: boolean; signal?: AbortSignal } = {},
  ): Promise<ClientHttp2Stream> {
    if (this.closed) return Promise.reject(new H2PoolError('H2_POOL_CLOSED', 'the session pool is closed'));
    if (opts.signal?.aborted)
      return Promise.reject(new H2PoolError('H2_ABORTED', 'aborted before a stream opened'));
    const max = this.settings.maxRequests ?? 0;
    if (max > 0 && this.active + this.queue.length >= max)
      return Promise.reject(
        new H2PoolError('H2_OVERFLOW_MAX_REQUESTS', `${max} requests already in flight (http2MaxRequests)`),
      );
    const s = this.pick();
    if (s) return Promise.resolve(this.open(s, headers, opts.endStream ?? false));
    const maxPending = this.settings.maxPendingRequests;
    if (maxPending > 0 && this.queue.length >= maxPending)
      return Promise.reject(
        new H2PoolError('H2_OVERFLOW_MAX_PENDING', `${maxPending} requests already wait for a stream`),
      );
    return new Promise<ClientHttp2Stream>((resolve, reject) => {
      const w: Waiter = {
        headers,
        endStream: opts.endStream ?? false,
        signal: opts.signal,
        resolve,
        reject,
        onAbort: () => {
          const i = this.queue.indexOf(w);
          if (i !== -1) this.queue.splice(i, 1);
          reject(new H2PoolError('H2_ABORTED', 'aborted while waiting for a stream'));
        },
      };
      opts.signal?.addEventListener('abort', w.onAbort, { once: true });
      this.queue.push(w);
      this.grow();
    });
  }

  /** Takes no new requests; sessions close once their streams are done (GOAWAY). */
  drain(): void {
    this.closed = true;
    for (const w of this.queue.splice(0)) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(new H2PoolError('H2_POOL_CLOSED', 'the session pool is closed'));
    }
    for (const s of this.sessions) {
      s.draining = true;
      clearTimeout(s.idleTimer);
      if (!s.session.closed) s.session.close();
    }
  }

  /** Closes every session (in-flight streams are reset) and fails the waiters. */
  close(): void {
    this.closed = true;
    for (const w of this.queue.splice(0)) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(new H2PoolError('H2_POOL_CLOSED', 'the session pool is closed'));
    }
    for (const s of [...this.sessions]) {
      clearTimeout(s.idleTimer);
      s.session.destroy();
    }
    this.sessions.length = 0;
  }

  private capacity(s: SessionState): number {
    const peer = s.ready
      ? (s.session.remoteSettings.maxConcurrentStreams ?? ASSUMED_PEER_STREAMS)
      : ASSUMED_PEER_STREAMS;
    const own = this.settings.maxConcurrentStreams ?? 0;
    let cap = own > 0 ? Math.min(own, peer) : peer;
    const perConn = this.settings.maxRequestsPerConnection;
    if (perConn > 0) cap = Math.min(cap, perConn - s.opened + s.active);
    return cap;
  }

  /** The ready session with room and the fewest active streams. */
  private pick(): SessionState | undefined {
    let best: SessionState | undefined;
    for (const s of this.sessions)
      if (s.ready && !s.draining && s.active < this.capacity(s) && (!best || s.active < best.active))
        best = s;
    return best;
  }

  /** Opens sessions for the waiters that no connecting session will have room for. */
  private grow(): void {
    const max = this.settings.maxConnections;
    let room = 0;
    for (const s of this.sessions) if (!s.draining) room += Math.max(0, this.capacity(s) - s.active);
    while (this.queue.length > room && (max <= 0 || this.sessions.length < max)) {
      const s = this.connect();
      room += this.capacity(s);
    }
  }

  private connect(): SessionState {
    const { address, port, tls } = this.origin;
    const host = address.includes(':') ? `[${address}]` : address;
    const session = http2.connect(`${tls ? 'https' : 'http'}://${host}:${port}`, {
      ...(tls ? { ...tls, ALPNProtocols: ['h2'] } : {}),
      // No server push: a proxy has nowhere to deliver pushed streams.
      settings: { enablePush: false },
      peerMaxConcurrentStreams: ASSUMED_PEER_STREAMS,
    });
    this.sessionsOpened++;
    const s: SessionState = { session, ready: false, active: 0, opened: 0, draining: false };
    this.sessions.push(s);
    const timer = setTimeout(
      () =>
        session.destroy(
          new H2PoolError(
            'H2_CONNECT_TIMEOUT',
            `no HTTP/2 connection to ${host}:${port} within ${this.settings.connectTimeoutMs} ms`,
          ),
        ),
      this.settings.connectTimeoutMs,
    );
    session.once('connect', () => {
      clearTimeout(timer);
      if (this.settings.tcpKeepaliveMs !== undefined)
        session.socket.setKeepAlive?.(true, this.settings.tcpKeepaliveMs);
    });
    // Streams go out once the server's SETTINGS are known, so its stream limit is respected.
    session.once('remoteSettings', () => {
      s.ready = true;
      this.connectFailure = undefined;
      this.dispatch();
    });
    session.on('goaway', () => {
      s.draining = true;
      this.grow();
    });
    session.on('error', (e: Error) => {
      clearTimeout(timer);
      if (!s.ready)
        this.connectFailure =
          e instanceof H2PoolError
            ? e
            : new H2PoolError(
                'H2_CONNECT_FAILED',
                `HTTP/2 connection to ${host}:${port} failed: ${e.message}`,
                e,
              );
    });
    session.once('close', () => {
      clearTimeout(timer);
      clearTimeout(s.idleTimer);
      const i = this.sessions.indexOf(s);
      if (i !== -1) this.sessions.splice(i, 1);
      if (!s.ready) this.failWaiters();
      else this.grow();
    });
    return s;
  }

  /** A session died before it was ready: waiters no other session can take get its error. */
  private failWaiters(): void {
    if (this.sessions.some((x) => !x.draining)) return;
    const err =
      this.connectFailure ??
      new H2PoolError(
        'H2_CONNECT_FAILED',
        `HTTP/2 connection to ${this.origin.address}:${this.origin.port} closed`,
      );
    for (const w of this.queue.splice(0)) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const s = this.pick();
      if (!s) break;
      const w = this.queue.shift()!;
      w.signal?.removeEventListener('abort', w.onAbort);
      try {
        w.resolve(this.open(s, w.headers, w.endStream));
      } catch (e) {
        w.reject(e as Error);
      }
    }
    if (this.queue.length > 0) this.grow();
  }

  private open(s: SessionState, headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
    const stream = s.session.request(headers, { endStream });
    s.active++;
    s.opened++;
    this.active++;
    this.streamsOpened++;
    const perConn = this.settings.maxRequestsPerConnection;
    if (perConn > 0 && s.opened >= perConn) s.draining = true;
    stream.once('close', () => {
      s.active--;
      this.active--;
      if (s.draining && s.active === 0) s.session.close();
      else if (s.active === 0 && !s.session.closed) this.idle(s);
      this.dispatch();
    });
    return stream;
  }

  private idle(s: SessionState): void {
    clearTimeout(s.idleTimer);
    s.idleTimer = setTimeout(() => {
      if (s.active === 0) {
        s.draining = true;
        s.session.close();
      }
    }, this.settings.idleTimeoutMs);
    s.idleTimer.unref();
  }
}
