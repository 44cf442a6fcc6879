// One HTTP/2 request stream as the request lifecycle sees it (DownstreamStream): `:authority` is the
// Host, `:path` the target, the stream itself the body; responses go out with trailers (gRPC needs
// them) and a response cut short is a reset stream (RST_STREAM), never a clean short one.

import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import {
  tlsSummary,
  type DownstreamOwner,
  type DownstreamStream,
  type DrainBound,
  type ResponseHeaderMap,
  type TlsSummary,
} from './downstream-stream.js';
import { CONNECTION_SPECIFIC, resetStream } from './h2-dispatcher.js';

const { NGHTTP2_NO_ERROR } = http2.constants;
/** Looks for the answer's END_STREAM on the wire: 8 at once, then every 10 ms for about a second. */
const MAX_END_POLLS = 8 + 100;

function h2Fields(h: ResponseHeaderMap): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = {};
  for (const k of Object.keys(h)) {
    const v = h[k];
    if (v === undefined || k.startsWith(':')) continue;
    const name = k.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    out[name] = v;
  }
  return out;
}

export class Http2Downstream implements DownstreamStream {
  readonly method: string;
  readonly target: string;
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly h2Framing = true;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Readable | null;
  owner?: DownstreamOwner;
  private trailers?: ResponseHeaderMap;
  /** A response head not sent yet: it goes with the first body byte, or alone with END_STREAM. */
  private pendingHead?: Record<string, string | string[] | number>;
  private headWritten = false;
  private finished = false;
  private afterFinish?: () => void;
  private settling = false;

  constructor(
    readonly stream: ServerHttp2Stream,
    h2headers: IncomingHttpHeaders,
    rawHeaders: readonly string[],
    readonly encrypted: boolean,
  ) {
    this.method = String(h2headers[':method'] ?? 'GET');
    const authority = h2headers[':authority'] ?? h2headers.host;
    // CONNECT names its target in :authority (RFC 9113 §8.5); the lifecycle refuses it as on h1.
    this.target = this.method === 'CONNECT' ? String(authority ?? '') : String(h2headers[':path'] ?? '');
    const headers: IncomingHttpHeaders = {};
    const raw: string[] = [];
    if (authority !== undefined) {
      headers.host = String(authority);
      raw.push('host', String(authority));
    }
    let cookies: string[] | undefined;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i];
      // :authority wins over a Host field (RFC 9113 §8.3.1); pseudo-headers are not header fields.
      if (name.charCodeAt(0) === 58 /* : */ || name === 'host') continue;
      // Cookie crumbs are one field again on the way to HTTP/1.1 (RFC 9113 §8.2.3).
      if (name === 'cookie') (cookies ??= []).push(rawHeaders[i + 1]);
      else raw.push(name, rawHeaders[i + 1]);
    }
    if (cookies) raw.push('cookie', cookies.join('; '));
    for (const k of Object.keys(h2headers))
      if (k.charCodeAt(0) !== 58 && k !== 'host') headers[k] = h2headers[k];
    this.headers = headers;
    this.rawHeaders = raw;
    // A HEADERS frame with END_STREAM carries no body.
    this.body = stream.readableEnded || stream.endAfterHeaders ? null : stream;
    stream.on('error', () => undefined); // a reset by either side: reported through close (owner.clientGone)
    stream.once('close', () => {
      if (!this.finished) this.owner?.clientGone();
    });
    stream.on('wantTrailers', () => {
      // No trailers: node then ends the stream with an empty DATA frame carrying END_STREAM.
      const t = this.trailers ? h2Fields(this.trailers) : {};
      this.markFinished();
      stream.sendTrailers(t);
    });
  }

  get remoteAddress(): string | undefined {
    return this.stream.session?.socket?.remoteAddress;
  }
  get tls(): TlsSummary | undefined {
    return this.encrypted ? tlsSummary(this.stream.session?.socket) : undefined;
  }
  get remotePort(): number | undefined {
    return this.stream.session?.socket?.remotePort;
  }
  get bodyComplete(): boolean {
    return this.body === null || this.stream.readableEnded;
  }
  get headersSent(): boolean {
    return this.headWritten || this.stream.headersSent;
  }
  get gone(): boolean {
    return this.stream.destroyed && !this.finished;
  }
  get timedOut(): boolean {
    return false;
  }

  /**
   * The head waits for the end of this turn: a response that turns out to have neither body nor
   * trailers (a gRPC Trailers-Only answer) then goes out as one HEADERS frame with END_STREAM.
   */
  writeHead(status: number, headers: ResponseHeaderMap, endStream = false): void {
    if (this.stream.destroyed || this.headersSent) return;
    this.headWritten = true;
    const head = { ...h2Fields(headers), ':status': status };
    if (endStream) {
      this.markFinished();
      this.stream.respond(head, { endStream: true });
      return;
    }
    this.pendingHead = head;
    queueMicrotask(() => this.flushHead());
  }

  /** Trailers may follow the body (gRPC status): the stream ends when they are known. */
  private flushHead(): void {
    const head = this.pendingHead;
    if (!head) return;
    this.pendingHead = undefined;
    if (!this.stream.destroyed) this.stream.respond(head, { waitForTrailers: true });
  }

  write(chunk: Buffer): boolean {
    this.flushHead();
    return this.stream.destroyed ? true : this.stream.write(chunk);
  }

  onDrain(fn: () => void): void {
    this.stream.once('drain', fn);
  }

  end(trailers?: ResponseHeaderMap): void {
    if (this.stream.destroyed || this.stream.writableEnded) return;
    const hasTrailers = trailers !== undefined && Object.keys(trailers).length > 0;
    if (this.pendingHead && !hasTrailers) {
      // Nothing after the head: one HEADERS frame that ends the stream.
      const head = this.pendingHead;
      this.pendingHead = undefined;
      this.markFinished();
      this.stream.respond(head, { endStream: true });
      return;
    }
    this.flushHead();
    if (hasTrailers) this.trailers = trailers;
    this.stream.end();
  }

  reset(): void {
    this.pendingHead = undefined;
    if (!this.finished) resetStream(this.stream, new Error('response cut short'));
  }

  closeAfterResponse(): void {
    // Streams are independent on HTTP/2: nothing to close.
  }

  /**
   * The rest of the body is not wanted: once the response is out, RST_STREAM(NO_ERROR) asks the
   * client to stop sending (RFC 9113 §8.1); until then, what arrives is read and dropped, within the
   * drain bound — past it the stream is no longer read, so flow control holds the client back.
   * "Out" means the frame carrying END_STREAM has left nghttp2: a RST_STREAM queued earlier is sent
   * ahead of pending DATA (control frames go first) and the client would never see its answer end.
   */
  settleBody(bound: DrainBound): void {
    const s = this.stream;
    if (this.body === null || s.readableEnded || this.settling) return;
    this.settling = true;
    let seen = 0;
    const timer = setTimeout(() => s.pause(), bound.maxMs);
    timer.unref();
    s.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > bound.maxBytes) s.pause();
    });
    s.once('close', () => clearTimeout(timer));
    s.resume();
    let polls = 0;
    const stop = () => {
      if (s.destroyed || s.readableEnded) return clearTimeout(timer);
      // The end of the answer has left (or, after about a second, never will: a client that does
      // not read its answer, so that END_STREAM waits for a window): the reset can follow.
      if (s.state.localClose || polls >= MAX_END_POLLS) {
        clearTimeout(timer);
        s.close(NGHTTP2_NO_ERROR);
        return;
      }
      // nghttp2 sends on its own schedule (a native immediate): look again soon, then less often.
      if (++polls < 8) setImmediate(stop);
      else setTimeout(stop, 10).unref();
    };
    // Only once the whole response is queued, trailers included: a reset before them would lose them.
    if (this.finished) stop();
    else this.afterFinish = stop;
  }

  private markFinished(): void {
    this.finished = true;
    const f = this.afterFinish;
    this.afterFinish = undefined;
    // After this turn, so the frames just queued (END_STREAM) go before the RST_STREAM.
    if (f) setImmediate(f);
  }
}
