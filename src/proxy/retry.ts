// Retry decisions and replayable request bodies for the primary request (Istio `retries`, Envoy's
// router retry policy). Mirrors are never retried. A body is retried only while it fits the replay
// buffer: once more than RETRY_BODY_LIMIT bytes have streamed, the request is no longer retried —
// a body already consumed by an upstream is never replayed from anywhere but this buffer.

import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { GRPC_ANY, GRPC_STATUS_BITS, ON_CONNECT_FAILURE, ON_RESET, RetryOn } from '../model/retry-on.js';
import type { RetryPolicy } from '../model/route-table.js';
import { DownstreamAbortError } from './body-tee.js';

/** Request bodies up to this size stay retryable (buffered while they stream to the first attempt). */
export const RETRY_BODY_LIMIT = 64 * 1024;

/** How an attempt failed without a response. */
export type AttemptFailure = 'connect-failure' | 'reset' | 'per-try-timeout';

/** Whether a response (status and headers) asks for another attempt under `p`. */
export function retryOnResponse(
  p: RetryPolicy,
  status: number,
  h: Readonly<Record<string, string | string[] | undefined>>,
  request: IncomingHttpHeaders,
): boolean {
  const c = p.conditions;
  // Envoy never retries an overloaded answer, nor a rate-limited one unless asked to.
  if (h['x-envoy-overloaded'] !== undefined) return false;
  if (h['x-envoy-ratelimited'] !== undefined) return (c & RetryOn.ENVOY_RATELIMITED) !== 0;
  if (c & RetryOn.FIVE_XX && status >= 500) return true;
  if (c & RetryOn.GATEWAY_ERROR && (status === 502 || status === 503 || status === 504)) return true;
  if (c & RetryOn.RETRIABLE_4XX && status === 409) return true;
  if (c & RetryOn.RETRIABLE_STATUS_CODES && p.retriableStatusCodes.includes(status)) return true;
  if (c & RetryOn.RETRIABLE_HEADERS) {
    const names = request['x-envoy-retriable-header-names'];
    if (typeof names === 'string')
      for (const n of names.split(',')) if (h[n.trim().toLowerCase()] !== undefined) return true;
  }
  if (c & GRPC_ANY) {
    const g = h['grpc-status'];
    const bit = typeof g === 'string' ? GRPC_STATUS_BITS[g] : undefined;
    if (bit !== undefined && c & bit) return true;
  }
  return false;
}

/** Whether an attempt that got no response is retried: resets and timeouts under 5xx, gateway-error, reset. */
export function retryOnFailure(p: RetryPolicy, f: AttemptFailure): boolean {
  return (p.conditions & (f === 'connect-failure' ? ON_CONNECT_FAILURE : ON_RESET)) !== 0;
}

/**
 * Envoy's fully jittered exponential back-off: before retry n (1-based), a uniform wait in
 * [0, base × (2ⁿ − 1)), capped at 10 × base.
 */
export function backoffMs(p: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const base = p.backoffBaseMs;
  if (base <= 0) return 0;
  const span = Math.min(base * (2 ** Math.min(retry, 20) - 1), base * 10);
  return Math.floor(random() * span);
}

/**
 * Feeds a request body to one upstream attempt after another. Bytes are kept (up to `limit`)
 * while they stream to the current attempt, so a later attempt gets the whole body again; past
 * the limit the copy is dropped and `replayable` turns false. Only the current attempt sets the
 * pace (its back-pressure pauses the source).
 */
export class ReplayableBody {
  private chunks: Buffer[] | null = [];
  private size = 0;
  private ended = false;
  private failed = false;
  private current?: PassThrough;
  private waiting = false;

  constructor(
    private readonly src: Readable,
    private readonly limit = RETRY_BODY_LIMIT,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.once('end', () => {
      this.ended = true;
      this.current?.end();
    });
    const fail = () => {
      if (this.ended) return;
      this.failed = true;
      this.chunks = null;
      this.current?.destroy(new DownstreamAbortError('downstream request body aborted'));
    };
    src.once('error', fail);
    src.once('close', fail);
  }

  /** True while every byte received so far is still held, so another attempt can be fed. */
  get replayable(): boolean {
    return this.chunks !== null && !this.failed;
  }

  /** Between attempts: stop reading, so nothing arrives that no attempt is there to take. */
  hold(): void {
    const old = this.current;
    if (old && !old.destroyed) old.destroy();
    this.current = undefined;
    if (!this.waiting && !this.ended) {
      this.waiting = true;
      this.src.pause();
    }
  }

  /** No attempt will come: stop keeping bytes and let the source run dry (mirror copies still read it). */
  drain(): void {
    const old = this.current;
    if (old && !old.destroyed) old.destroy();
    this.current = undefined;
    this.chunks = null;
    this.waiting = false;
    this.src.resume();
  }

  /** A fresh body for the next attempt: everything received so far, then the rest as it comes. */
  attempt(): Readable {
    const old = this.current;
    if (old && !old.destroyed) old.destroy();
    const s = new PassThrough({ highWaterMark: 64 * 1024 });
    s.on('error', () => undefined);
    this.current = s;
    if (this.chunks) for (const c of this.chunks) s.write(c);
    if (this.ended) s.end();
    if (this.waiting) {
      this.waiting = false;
      this.src.resume();
    }
    return s;
  }

  private onData(chunk: Buffer): void {
    if (this.chunks) {
      if (this.size + chunk.length <= this.limit) {
        this.chunks.push(chunk);
        this.size += chunk.length;
      } else this.chunks = null;
    }
    const cur = this.current;
    if (!cur || cur.destroyed) return;
    if (!cur.write(chunk) && !this.waiting) {
      this.waiting = true;
      this.src.pause();
      cur.once('drain', () => {
        if (!this.waiting || this.current !== cur) return;
        this.waiting = false;
        this.src.resume();
      });
    }
  }
}
