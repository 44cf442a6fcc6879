// Copies a request body to the primary upstream and to mirrors. The primary alone sets the pace
// (its backpressure pauses the client); each mirror gets a bounded buffer and is aborted — never
// sent a truncated body as if complete — when it falls behind or the global budget is spent.

import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';

/** Bytes buffered for all mirrors of this process together. */
export class MirrorBodyBudget {
  used = 0;
  constructor(public limit: number) {}
}

export class MirrorOverflowError extends Error {
  readonly code = 'UMBRA_MIRROR_BODY_OVERFLOW';
  constructor(readonly reason: 'body_limit' | 'body_budget') {
    super(reason === 'body_limit' ? 'mirror fell behind: per-mirror body buffer limit exceeded' : 'mirror fell behind: global mirror body budget exceeded');
  }
}

interface Branch {
  readonly stream: PassThrough;
  readonly limit: number;
  /** Bytes this branch last counted against the global budget. */
  counted: number;
  done: boolean;
}

export class BodyTee {
  readonly primary = new PassThrough({ highWaterMark: 64 * 1024 });
  private readonly branches: Branch[] = [];
  private started = false;

  constructor(
    private readonly src: IncomingMessage,
    private readonly budget: MirrorBodyBudget,
  ) {}

  /** A readable copy of the body for one mirror; destroyed with MirrorOverflowError if it lags. */
  branch(limit: number): PassThrough {
    const stream = new PassThrough({ highWaterMark: 64 * 1024 });
    const b: Branch = { stream, limit, counted: 0, done: false };
    stream.once('close', () => this.release(b));
    this.branches.push(b);
    return stream;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const { src, primary } = this;
    let waiting = false;
    const resume = () => {
      waiting = false;
      src.resume();
    };
    src.on('data', (chunk: Buffer) => {
      for (const b of this.branches) if (!b.done) this.feed(b, chunk);
      if (!primary.write(chunk) && !waiting) {
        waiting = true;
        src.pause();
        primary.once('drain', resume);
      }
    });
    src.once('end', () => {
      primary.end();
      for (const b of this.branches) if (!b.done) b.stream.end();
    });
    const fail = () => {
      if (src.complete) return;
      const err = new Error('downstream request body aborted');
      primary.destroy(err);
      for (const b of this.branches) if (!b.done) this.abort(b, err);
    };
    src.once('aborted', fail);
    src.once('error', fail);
    src.once('close', fail);
  }

  private feed(b: Branch, chunk: Buffer): void {
    const buffered = b.stream.writableLength + b.stream.readableLength;
    if (buffered + chunk.length > b.limit) return this.abort(b, new MirrorOverflowError('body_limit'));
    const delta = buffered + chunk.length - b.counted;
    if (this.budget.used + delta > this.budget.limit) return this.abort(b, new MirrorOverflowError('body_budget'));
    this.budget.used += delta;
    b.counted += delta;
    b.stream.write(chunk);
  }

  private abort(b: Branch, err: Error): void {
    b.done = true;
    b.stream.destroy(err);
    this.release(b);
  }

  private release(b: Branch): void {
    b.done = true;
    this.budget.used -= b.counted;
    b.counted = 0;
  }
}
