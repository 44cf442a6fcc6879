// undici's `dispatch(opts, handler)` (the v7 controller API) on an HTTP/2 session pool, so the
// request lifecycle's attempts and the mirror writer send to HTTP/2 upstreams exactly as they send
// to undici's HTTP/1.1 pools. The request head becomes h2 pseudo-headers (Host → :authority,
// connection-specific fields dropped, RFC 9113 §8.2.2); the body streams with the stream's own flow
// control; a body that fails (a copy that fell behind) resets the stream, so the upstream never
// sees a truncated body as complete.

import http2, {
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { H2SessionPool } from './h2-session-pool.js';
import { StreamController } from './stream-controller.js';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * RFC 9113 §8.2.2: fields specific to an HTTP/1.1 connection never go on an h2 stream (requests
 * sent here; responses relayed by h2-downstream.ts).
 */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** An h2 stream reset by the peer or locally, with its RST_STREAM code (REFUSED_STREAM is retriable). */
export class H2StreamResetError extends Error {
  readonly code = 'UMBRA_H2_STREAM_RESET';
  constructor(readonly rstCode: number) {
    super(`HTTP/2 stream reset (code ${rstCode})`);
  }
  get refused(): boolean {
    return this.rstCode === NGHTTP2_REFUSED_STREAM;
  }
}

/**
 * Resets a stream without ending it first. node's `close(code)` (and `destroy()` without an error)
 * sends END_STREAM before RST_STREAM while the writable side is open, so the peer would see a
 * truncated body as complete; `destroy(err)` sends RST_STREAM (INTERNAL_ERROR) alone.
 */
export function resetStream(stream: http2.Http2Stream, err: Error): void {
  if (!stream.destroyed) stream.destroy(err);
}

/** Request head fields as h2 wants them: pseudo-headers first, lower-case names, no connection fields. */
export function h2RequestHeaders(
  method: string,
  path: string,
  headers: Dispatcher.DispatchOptions['headers'],
  scheme: 'http' | 'https',
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': scheme };
  let te: string | undefined;
  const add = (rawName: string, value: string) => {
    const name = rawName.toLowerCase();
    if (name === 'host') {
      out[':authority'] ??= value;
      return;
    }
    if (name === 'te') {
      te = value;
      return;
    }
    if (CONNECTION_SPECIFIC.has(name) || name.startsWith(':')) return;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) add(String(headers[i]), String(headers[i + 1]));
  } else if (headers && typeof headers === 'object')
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const x of v) add(k, String(x));
      else add(k, String(v));
    }
  // TE on h2 may only say "trailers" (§8.2.2); gRPC needs it to reach the server (a client's TE is
  // hop-by-hop and dropped on the way, so a gRPC request gets it back here, as Envoy sends it).
  const ct = out['content-type'];
  if (
    (te !== undefined && /(^|,)\s*trailers\s*(,|;|$)/i.test(te)) ||
    (typeof ct === 'string' && ct.startsWith('application/grpc'))
  )
    out.te = 'trailers';
  return out;
}

/** Response fields without pseudo-headers, as undici hands them to a handler. */
function responseFields(h: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const k of Object.keys(h)) if (!k.startsWith(':')) out[k] = h[k];
  return out;
}

type H2Controller = StreamController<ClientHttp2Stream>;

/** A dispatcher for one endpoint's HTTP/2 sessions. */
export class H2Dispatcher {
  constructor(readonly pool: H2SessionPool) {}

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const ctl: H2Controller = new StreamController();
    const scheme = this.pool.origin.tls ? 'https' : 'http';
    const headers = h2RequestHeaders(String(opts.method), opts.path, opts.headers, scheme);
    if (headers[':authority'] === undefined)
      headers[':authority'] = `${this.pool.origin.address}:${this.pool.origin.port}`;
    const body = opts.body ?? null;
    let over = false;
    const fail = (err: Error) => {
      if (over) return;
      over = true;
      if (body instanceof Readable && !body.destroyed) body.unpipe();
      handler.onResponseError?.(ctl, err);
    };
    const ac = new AbortController();
    ctl.onAbort = (err) => {
      ac.abort(err);
      const s = ctl.stream;
      if (s) resetStream(s, err);
      fail(err);
    };
    handler.onRequestStart?.(ctl, {});
    if (ctl.aborted) return true;
    const endStream = body === null || (typeof body !== 'object' && String(body).length === 0);
    this.pool.request(headers, { endStream, signal: ac.signal }).then(
      (stream) => this.run(stream, ctl, handler, body, endStream, fail, () => (over = true)),
      (err: Error) => fail(err),
    );
    return true;
  }

  private run(
    stream: ClientHttp2Stream,
    ctl: H2Controller,
    handler: Dispatcher.DispatchHandler,
    body: Dispatcher.DispatchOptions['body'],
    endStream: boolean,
    fail: (err: Error) => void,
    done: () => void,
  ): void {
    ctl.attach(stream);
    if (ctl.aborted) {
      resetStream(stream, ctl.reason ?? new Error('aborted'));
      return;
    }
    let trailers: IncomingHttpHeaders = {};
    let ended = false;
    let complete = false;
    // The response is whole at the end of its readable side (trailers come before it); the request
    // body may still be going out, as an upstream may answer early.
    const finishOk = () => {
      if (complete || ctl.aborted) return;
      complete = true;
      done();
      handler.onResponseEnd?.(ctl, trailers);
    };
    stream.on('response', (h, flags: number) => {
      const status = Number(h[':status']);
      // 1xx are interim (100 Continue, 103): node reports them on 'headers', never here.
      handler.onResponseStart?.(ctl, status, responseFields(h), undefined);
      // A HEADERS frame that ends the stream (gRPC Trailers-Only): complete at once, so the client
      // gets the same single frame.
      if (flags & NGHTTP2_FLAG_END_STREAM) finishOk();
    });
    stream.on('trailers', (t) => (trailers = responseFields(t)));
    stream.on('data', (chunk: Buffer) => {
      if (ctl.aborted) return;
      handler.onResponseData?.(ctl, chunk);
    });
    stream.on('end', () => {
      ended = true;
      finishOk();
    });
    stream.on('error', (err: Error) => fail(err));
    stream.on('close', () => {
      if (ctl.aborted || complete) return;
      if (ended && stream.rstCode === NGHTTP2_NO_ERROR) return finishOk();
      fail(new H2StreamResetError(stream.rstCode ?? NGHTTP2_CANCEL));
    });
    if (endStream) return;
    if (body instanceof Readable) {
      // A body that fails (the client went away, a copy that fell behind): reset, never end.
      const cut = (err: Error) => {
        resetStream(stream, err);
        fail(err);
      };
      body.once('error', cut);
      body.once('close', () => {
        if (!body.readableEnded) cut(new Error('request body ended before it was complete'));
      });
      body.pipe(stream);
    } else if (typeof body === 'string' || body instanceof Uint8Array) stream.end(body);
    else stream.end();
  }
}
