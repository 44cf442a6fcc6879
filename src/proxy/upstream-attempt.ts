// One try of a request on one upstream connection (Envoy's UpstreamRequest): it sends the head and
// body and reports the response to its owner, the request lifecycle, through a small interface;
// retries are new attempts. HTTP/1.1 attempts run on undici's dispatcher; another protocol (h2)
// implements `UpstreamAttempt` the same way and the lifecycle does not change.

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** What an attempt reports, in order: head, data…, then exactly one of end or error. */
export interface AttemptEvents {
  /** The response head. Return false to drop this response (the attempt is aborted, e.g. to retry). */
  onHead(status: number, headers: Record<string, string | string[] | undefined>): boolean;
  /** A response body chunk; return false to be paused until `resume()`. */
  onData(chunk: Buffer): boolean;
  onEnd(trailers: Record<string, string | string[] | undefined>): void;
  /** The attempt failed; `responded`: a response head had arrived first. */
  onError(err: unknown, responded: boolean): void;
}

export interface UpstreamAttempt {
  /** Stops the attempt; its connection is discarded. No event follows, except from a late `onError`. */
  abort(err: Error): void;
  pause(): void;
  resume(): void;
}

export interface AttemptRequest {
  readonly method: string;
  readonly path: string;
  /** Header name/value pairs (lower-case names), Host included. */
  readonly headers: readonly string[];
  readonly body: Readable | null;
  /** Close the connection after this request (Envoy max_requests_per_connection = 1). */
  readonly reset?: boolean;
  /** TLS SNI when it must differ from Host (DestinationRule tls.sni). */
  readonly servername?: string;
}

/** Anything that can carry attempts to one endpoint: an undici Pool or Client. */
export interface AttemptDispatcher {
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
}

/** Starts an HTTP/1.1 attempt on `pool`. Never throws: a failure to start is reported as onError. */
export function startHttp1Attempt(
  pool: AttemptDispatcher,
  req: AttemptRequest,
  events: AttemptEvents,
): UpstreamAttempt {
  return new Http1Attempt(pool, req, events);
}

class Http1Attempt implements UpstreamAttempt, Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private pendingAbort?: Error;
  private over = false;
  private responded = false;

  constructor(
    pool: AttemptDispatcher,
    req: AttemptRequest,
    private readonly events: AttemptEvents,
  ) {
    const opts: Dispatcher.DispatchOptions & { servername?: string } = {
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      headers: req.headers as string[],
      body: req.body,
      reset: req.reset,
      servername: req.servername,
    };
    try {
      pool.dispatch(opts, this);
    } catch (err) {
      this.fail(err);
    }
  }

  abort(err: Error): void {
    if (this.over) return;
    this.over = true;
    if (this.controller) this.controller.abort(err);
    else this.pendingAbort = err;
  }

  pause(): void {
    this.controller?.pause();
  }

  resume(): void {
    this.controller?.resume();
  }

  private fail(err: unknown): void {
    if (this.over) return;
    this.over = true;
    this.events.onError(err, this.responded);
  }

  onRequestStart(ctl: Dispatcher.DispatchController): void {
    this.controller = ctl;
    if (this.pendingAbort) ctl.abort(this.pendingAbort);
  }

  onResponseStart(
    ctl: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.over) return;
    this.responded = true;
    if (!this.events.onHead(statusCode, headers)) this.abort(new AttemptDroppedError());
    else if (this.over) ctl.abort(new AttemptDroppedError());
  }

  onResponseData(ctl: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.over) return;
    if (!this.events.onData(chunk)) ctl.pause();
  }

  onResponseEnd(
    _ctl: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.over) return;
    this.over = true;
    this.events.onEnd(trailers);
  }

  onResponseError(_ctl: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }
}

/** The owner dropped the attempt (a retriable answer, or the request ended): not an upstream failure. */
export class AttemptDroppedError extends Error {
  readonly code = 'UMBRA_ATTEMPT_DROPPED';
  constructor() {
    super('attempt dropped');
  }
}
