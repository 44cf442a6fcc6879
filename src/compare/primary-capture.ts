// The primary's side of a comparison: the proxy hands every response chunk here right after
// writing it to the client, so the client never waits. Chunks are copied (the proxy's buffers are
// not ours to keep) up to maxBodyBytes while the global budget allows, else only hashed.

import { createHash, type Hash } from 'node:crypto';
import type { MirrorPolicy } from '../model/route-table.js';
import type { Headers } from './body-kind.js';
import type { CapturedResponse } from './response-diff.js';
import type { RetainedBudget } from './retained-budget.js';

/** What the proxy calls, only for requests that were mirrored with comparison on. */
export interface ResponseCapture {
  start(status: number, headers: Headers): void;
  data(chunk: Buffer): void;
  end(): void;
  /** The primary failed (no complete response): nothing to compare against. */
  fail(): void;
}

/** A request waiting for its primary and mirror responses, keyed by request id. */
export class PendingPair {
  readonly startedAt = performance.now();
  readonly at = Date.now();
  primary?: CapturedResponse;
  primaryFailed = false;
  readonly mirrors = new Map<string, CapturedResponse>();
  /** Budget bytes held by this pair's retained bodies, released after comparison. */
  retained = 0;
  /** Responses still expected: the primary plus every compared mirror. */
  outstanding: number;
  /** Set once the pair is compared or expired: late arrivals are ignored. */
  closed = false;

  constructor(
    readonly requestId: string,
    readonly route: string,
    readonly method: string,
    readonly path: string,
    /** Admitted mirrors with compare settings (candidates and baselines). */
    readonly policies: readonly MirrorPolicy[],
    readonly deadline: number,
  ) {
    this.outstanding = policies.length + 1;
  }
}

export interface CaptureOwner {
  readonly budget: RetainedBudget;
  primaryDone(pair: PendingPair, response: CapturedResponse | undefined, reservedBytes: number): void;
  /** Counts a response kept by hash only because the budget was full. */
  countHashOnly(): void;
}

export class PrimaryCapture implements ResponseCapture {
  private status = 0;
  private headers: Headers = {};
  private chunks: Buffer[] = [];
  private size = 0;
  private reserved = 0;
  private hash?: Hash;
  private truncated = false;
  private done = false;

  constructor(
    private readonly owner: CaptureOwner,
    private readonly pair: PendingPair,
    private readonly limit: number,
  ) {}

  start(status: number, headers: Headers): void {
    this.status = status;
    this.headers = headers;
  }

  data(chunk: Buffer): void {
    if (this.done) return;
    if (this.pair.closed) return this.abandon();
    this.size += chunk.length;
    if (this.truncated) return;
    if (this.size > this.limit) {
      this.truncated = true;
      this.hash = undefined;
      return this.drop();
    }
    if (this.hash) {
      this.hash.update(chunk);
      return;
    }
    if (this.owner.budget.tryReserve(chunk.length)) {
      this.reserved += chunk.length;
      this.chunks.push(Buffer.from(chunk));
      return;
    }
    // Budget full: keep hashing instead of holding bytes.
    this.owner.countHashOnly();
    const h = createHash('sha256');
    for (const c of this.chunks) h.update(c);
    h.update(chunk);
    this.hash = h;
    this.drop();
  }

  end(trailers?: Headers): void {
    if (this.done) return;
    if (this.pair.closed) return this.abandon();
    this.done = true;
    // gRPC puts its status in trailers: compared with the headers (grpc-status, grpc-message), as
    // the mirror writer does for the copy's trailers.
    if (trailers && Object.keys(trailers).length > 0) this.headers = { ...this.headers, ...trailers };
    const body =
      this.truncated || this.hash
        ? null
        : this.chunks.length === 1
          ? this.chunks[0]
          : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    const r: CapturedResponse = {
      status: this.status,
      headers: this.headers,
      body,
      size: this.size,
      sha256: this.hash?.digest('hex'),
      truncated: this.truncated,
      hashOnly: this.hash !== undefined,
      latencyMs: performance.now() - this.pair.startedAt,
    };
    this.owner.primaryDone(this.pair, r, this.reserved);
  }

  fail(): void {
    if (this.done) return;
    this.abandon();
    if (!this.pair.closed) this.owner.primaryDone(this.pair, undefined, 0);
  }

  private drop(): void {
    this.owner.budget.release(this.reserved);
    this.reserved = 0;
    this.chunks = [];
  }

  private abandon(): void {
    this.done = true;
    this.hash = undefined;
    this.drop();
  }
}
