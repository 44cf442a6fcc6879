// The client's side of one request, as the request lifecycle sees it: the head, the body as a
// stream, the response (head, body, trailers) and the connection's fate. HTTP/1.1 implements it
// here over node's IncomingMessage/ServerResponse; an HTTP/2 stream implements the same interface.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { timedOut } from './client-timeouts.js';

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
  /** The response is complete. */
  end(): void;
  /** Cuts the response short: the client sees a reset, never a clean short response. */
  reset(): void;
  /** The connection is not reused after this response (HTTP/1.1 `Connection: close`; a no-op for h2). */
  closeAfterResponse(): void;
  /**
   * Nobody will read the rest of the body: drain and discard it within `bound`, or end the
   * connection. A no-op when the body is complete.
   */
  settleBody(bound: DrainBound): void;
  /** Called once when the client goes away before the response is complete. */
  onGone(fn: () => void): void;
  /**
   * Set by the lifecycle: the listener calls it when the client connection saw no byte either
   * way for its idle timeout. True: the request answered (the upstream was the idle one).
   */
  idleTimeout?: () => boolean;
}

const active = new WeakMap<object, Http1Downstream>();

/** The HTTP/1.1 request in progress on `socket`, if its lifecycle is still running. */
export function activeStream(socket: object): DownstreamStream | undefined {
  return active.get(socket);
}

/** Bodies are announced by Content-Length (other than 0) or Transfer-Encoding (RFC 9112 §6.1). */
function announcesBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export class Http1Downstream implements DownstreamStream {
  readonly body: Readable | null;
  idleTimeout?: () => boolean;
  private goneFn?: () => void;
  private settling = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.body = announcesBody(req) ? req : null;
    active.set(req.socket, this);
    res.once('close', () => {
      if (active.get(req.socket) === this) active.delete(req.socket);
      if (!res.writableFinished) this.goneFn?.();
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

  onGone(fn: () => void): void {
    this.goneFn = fn;
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
    req.once('end', () => clearTimeout(timer));
    req.once('close', () => clearTimeout(timer));
    // node stops telling a request about its connection once its response is done: a connection
    // that closes under a body still being read must still end that body (copies end with it).
    req.socket.once('close', () => {
      if (!req.complete && !req.destroyed) req.destroy();
    });
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
