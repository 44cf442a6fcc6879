// The client's side of one request, as the request lifecycle sees it: the head, the body as a
// stream, the response (head, body, trailers) and the connection's fate. HTTP/1.1 implements it
// here over node's IncomingMessage/ServerResponse; an HTTP/2 stream implements the same interface.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { timedOut } from './client-timeouts.js';

/** What the access log says of a TLS connection: its protocol version and the SNI the client sent. */
export interface TlsSummary {
  readonly version: string;
  readonly sni: string;
}

/** The TLS summary of a socket, or undefined for a plaintext one. */
export function tlsSummary(socket: unknown): TlsSummary | undefined {
  const s = socket as { encrypted?: boolean; getProtocol?: () => string | null; servername?: string | false };
  if (s?.encrypted !== true || typeof s.getProtocol !== 'function') return undefined;
  return { version: s.getProtocol() ?? '-', sni: s.servername || '-' };
}

/** Response headers as node's writeHead takes them: lower-case names, several values as arrays. */
export type ResponseHeaderMap = Record<string, string | string[] | number | undefined>;

/**
 * How long and how much of an unread request body is read and thrown away after the request has
 * ended, so the client can read its answer before the connection closes (nginx's lingering close).
 * Past either bound the connection is closed.
 */
export interface DrainBound {
  readonly maxBytes: number;
  readonly maxMs: number;
}

export interface DownstreamStream {
  readonly method: string;
  /** The request target as sent (HTTP/1.1 request-target; h2 :path or the authority-form). */
  readonly target: string;
  /** "1.1", "1.0", "2.0": for the access log's protocol field. */
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  /** Parsed header fields (lower-case names; node's rules for repeated lines). */
  readonly headers: IncomingHttpHeaders;
  /** Header lines as received, name/value pairs: the source the upstream head is built from. */
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** The request arrived over TLS. */
  readonly encrypted: boolean;
  /** The TLS session it arrived in (version, SNI), for the access log; undefined in plaintext. */
  readonly tls: TlsSummary | undefined;
  /** The body as it arrives; null when the request announces none. Read it only through BodyTee. */
  readonly body: Readable | null;
  /** Every byte of the body has arrived (true for a request without one). */
  readonly bodyComplete: boolean;
  /** The response head has gone out. */
  readonly headersSent: boolean;
  /** The client is gone (connection closed or stream reset) before the response was complete. */
  readonly gone: boolean;
  /** The listener gave up on the client (request or idle timeout) and answered 408 itself. */
  readonly timedOut: boolean;

  /** Writes the response head; `endStream` for a response without a body. */
  writeHead(status: number, headers: ResponseHeaderMap, endStream?: boolean): void;
  /** A body chunk; false: wait for `onDrain` before the next one. */
  write(chunk: Buffer): boolean;
  onDrain(fn: () => void): void;
  /** The response is complete; `trailers` follow the body where the protocol carries them (HTTP/2). */
  end(trailers?: ResponseHeaderMap): void;
  /** Cuts the response short: the client sees a reset, never a clean short response. */
  reset(): void;
  /** The connection is not reused after this response (HTTP/1.1 `Connection: close`; a no-op for h2). */
  closeAfterResponse(): void;
  /**
   * Nobody will read the rest of the body: drain and discard it within `bound`, or end the
   * connection. A no-op when the body is complete.
   */
  settleBody(bound: DrainBound): void;
  /** The request lifecycle that owns this stream; told when the client goes away or idles. */
  owner?: DownstreamOwner;
}

/** What a stream tells the lifecycle that owns it. */
export interface DownstreamOwner {
  /** The client went away before the response was complete. */
  clientGone(): void;
  /**
   * The client connection saw no byte either way for the listener's idle timeout. True: the
   * request answered (the upstream was the idle one); false: the listener answers 408.
   */
  idleTimeout(): boolean;
}

/** The HTTP/1.1 request whose lifecycle runs on a socket (one at a time: the listener sequences them). */
const ACTIVE = Symbol('umbra.activeStream');
type WithActive = { [ACTIVE]?: Http1Downstream };

/** The HTTP/1.1 request in progress on `socket`, if its lifecycle is still running. */
export function activeStream(socket: object): DownstreamStream | undefined {
  return (socket as WithActive)[ACTIVE];
}

/** Bodies are announced by Content-Length (other than 0) or Transfer-Encoding (RFC 9112 §6.1). */
function announcesBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export class Http1Downstream implements DownstreamStream {
  readonly body: Readable | null;
  owner?: DownstreamOwner;
  /** Called once the response is over, finished or not (the listener starts the next request). */
  onClosed?: () => void;
  private settling = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.body = announcesBody(req) ? req : null;
    const socket = req.socket as typeof req.socket & WithActive;
    socket[ACTIVE] = this;
    res.once('close', () => {
      if (socket[ACTIVE] === this) socket[ACTIVE] = undefined;
      if (!res.writableFinished) this.owner?.clientGone();
      this.onClosed?.();
    });
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }
  get target(): string {
    return this.req.url ?? '';
  }
  get httpVersion(): string {
    return this.req.httpVersion;
  }
  get httpVersionMajor(): number {
    return this.req.httpVersionMajor;
  }
  get httpVersionMinor(): number {
    return this.req.httpVersionMinor;
  }
  get headers(): IncomingHttpHeaders {
    return this.req.headers;
  }
  get rawHeaders(): readonly string[] {
    return this.req.rawHeaders;
  }
  get remoteAddress(): string | undefined {
    return this.req.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.req.socket.remotePort;
  }
  get encrypted(): boolean {
    return (this.req.socket as { encrypted?: boolean }).encrypted === true;
  }
  get tls(): TlsSummary | undefined {
    return tlsSummary(this.req.socket);
  }
  get bodyComplete(): boolean {
    return this.body === null || this.req.complete;
  }
  get headersSent(): boolean {
    return this.res.headersSent;
  }
  get gone(): boolean {
    return this.res.destroyed && !this.res.writableFinished;
  }
  get timedOut(): boolean {
    return timedOut(this.req.socket);
  }

  writeHead(status: number, headers: ResponseHeaderMap, endStream = false): void {
    if (this.res.destroyed) return;
    this.res.writeHead(status, headers as Record<string, string | string[]>);
    if (endStream) this.res.end();
  }

  write(chunk: Buffer): boolean {
    return this.res.destroyed ? true : this.res.write(chunk);
  }

  onDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  reset(): void {
    if (!this.res.writableEnded) this.res.destroy();
  }

  closeAfterResponse(): void {
    if (!this.res.headersSent) this.res.shouldKeepAlive = false;
  }

  settleBody(bound: DrainBound): void {
    const req = this.req;
    if (this.body === null || req.complete || this.settling) return;
    this.settling = true;
    let seen = 0;
    const cut = () => {
      clearTimeout(timer);
      this.closeConnection();
    };
    const timer = setTimeout(cut, bound.maxMs);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > bound.maxBytes) cut();
    });
    // node stops telling a request about its connection once its response is done: a connection
    // that closes under a body still being read must still end that body (copies end with it).
    // Removed when the body ends, so a keep-alive connection does not collect one per request.
    const socket = req.socket;
    const onSocketClose = () => {
      if (!req.complete && !req.destroyed) req.destroy();
    };
    socket.once('close', onSocketClose);
    const settled = () => {
      clearTimeout(timer);
      socket.off('close', onSocketClose);
    };
    req.once('end', settled);
    req.once('close', settled);
    req.resume();
  }

  /**
   * Ends the connection once the response has gone out: our side first (FIN, so the client reads
   * the answer), then the socket a moment later whatever the client still sends.
   */
  private closeConnection(): void {
    const socket = this.req.socket;
    this.closeAfterResponse();
    const close = () => {
      if (socket.destroyed) return;
      socket.end();
      setTimeout(() => socket.destroy(), 1_000).unref();
    };
    if (this.res.writableFinished || this.res.destroyed) close();
    else this.res.once('finish', close);
  }
}
