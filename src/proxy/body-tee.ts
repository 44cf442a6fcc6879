// Owns the client's request body: copies it to the primary upstream and to mirrors. The primary
// alone sets the pace (its backpressure pauses the client); each mirror gets a bounded buffer and
// is aborted — never sent a truncated body as if complete — when it falls behind or the global
// budget is spent. When the request ends, the primary's branch is detached and the body flows on
// for the copies alone (their buffers stay bounded), until the downstream drains or closes it.

import { PassThrough, Readable } from 'node:stream';

/** Bytes buffered for several copies together: all mirrors of the process, or all copies to one mirror. */
export class MirrorBodyBudget {
  used = 0;
  constructor(public limit: number) {}
}

/** The client's upload broke off: the copy ends with it, and it is not the mirror's fault. */
export class DownstreamAbortError extends Error {
  readonly code = 'UMBRA_DOWNSTREAM_ABORTED';
}

export class MirrorOverflowError extends Error {
  readonly code = 'UMBRA_MIRROR_BODY_OVERFLOW';
  constructor(readonly reason: 'body_limit' | 'body_budget') {
    super(
      reason === 'body_limit'
        ? 'mirror fell behind: per-mirror body buffer limit exceeded'
        : 'mirror fell behind: global mirror body budget exceeded',
    );
  }
}

interface Branch {
  readonly stream: PassThrough;
  readonly limit: number;
  /** The mirror's own total (MirrorPolicy totalBodyBufferBytes), beside the process budget. */
  readonly mirrorBudget?: MirrorBodyBudget;
  /** Bytes this branch last counted against the budgets. */
  counted: number;
  /** Bytes written into the branch so far. */
  written: number;
  /** Bytes the consumer had taken when it last resumed (everything before was flushed to its socket). */
  takenAtResume: number;
  done: boolean;
}

/** Sees a copy's body bytes as the copy is given them (recording), without reading its stream. */
export interface BodyTap {
  data(chunk: Buffer): void;
  /** The whole body was given to the copy. */
  end(): void;
  /** The copy's body was cut (it fell behind, or the client's upload broke). */
  abort?(reason: Error): void;
}

const releasers = new WeakMap<Readable, () => void>();
const taps = new WeakMap<Readable, BodyTap>();

/** Taps a copy's body (a stream from BodyTee.branch): chunks are handed to `tap` as they are written. */
export function tapBody(body: Readable, tap: BodyTap): void {
  taps.set(body, tap);
}
const takers = new WeakMap<Readable, () => number>();

/** Ends a copy's body: destroys the stream and gives its bytes back to the budgets. Idempotent. */
export function releaseBody(body: Readable | null): void {
  if (!body) return;
  body.destroy();
  releasers.get(body)?.();
}

/** Bytes of a copy's body its consumer has taken so far (for the copy's access-log line). */
export function bodyBytesTaken(body: Readable | null): number {
  return body ? (takers.get(body)?.() ?? 0) : 0;
}

export class BodyTee {
  /**
   * The primary's body. It pulls from the client at the primary's pace and holds at most one chunk
   * (highWaterMark 0), so a mirrored request buffers no more than an unmirrored one: with a
   * thousand uploads in flight, a Transform's two buffers per request would add up.
   */
  readonly primary: Readable;
  private readonly branches: Branch[] = [];
  private started = false;
  private srcPaused = false;
  private detached = false;
  /** Body bytes received from the client so far (the access log's bytes in). */
  bytes = 0;
  /** Every byte of the body arrived. */
  complete = false;

  constructor(
    private readonly src: Readable,
    private readonly budget: MirrorBodyBudget,
  ) {
    this.primary = new Readable({
      highWaterMark: 0,
      read: () => {
        if (!this.srcPaused) return;
        this.srcPaused = false;
        this.src.resume();
      },
    });
    // Whoever read the primary's branch let go of it (an attempt's connection broke): keep the body
    // flowing for the copies rather than stalling them behind a reader that is gone.
    this.primary.once('close', () => this.detachPrimary());
    this.primary.on('error', () => undefined);
  }

  /**
   * The primary will read no more (the request ended or its reader is gone): stop feeding it and
   * let the client's body run on for the copies. Idempotent.
   */
  detachPrimary(): void {
    if (this.detached) return;
    this.detached = true;
    if (!this.primary.destroyed) this.primary.destroy();
    if (this.srcPaused) {
      this.srcPaused = false;
      this.src.resume();
    }
  }

  /**
   * None of the body has come from the client yet (read or not): the request's head can go out
   * alone, first (Upstreams.dispatcher). One function per request, for the primary and its copies.
   */
  readonly waiting = (): boolean =>
    !(this.bytes > 0 || this.complete || this.src.readableLength > 0 || this.src.readableEnded);

  /** Copies still reading the body. */
  get branchesOpen(): number {
    let n = 0;
    for (const b of this.branches) if (!b.done) n++;
    return n;
  }

  /**
   * A readable copy of the body for one mirror; destroyed with MirrorOverflowError if it lags. Its
   * bytes stay counted until releaseBody() (the mirror writer calls it when the copy ends): undici
   * closes the stream once it has written the last chunk, which may still sit in the copy's socket.
   */
  branch(limit: number, mirrorBudget?: MirrorBodyBudget): PassThrough {
    const stream = new PassThrough({ highWaterMark: 64 * 1024 });
    const b: Branch = { stream, limit, mirrorBudget, counted: 0, written: 0, takenAtResume: 0, done: false };
    releasers.set(stream, () => this.release(b));
    takers.set(stream, () => b.written - stream.writableLength - stream.readableLength);
    // Written out by the consumer: only what it took since it last resumed can still be in its socket.
    stream.once('close', () => this.recount(b, this.unflushed(b)));
    stream.on('resume', () => (b.takenAtResume = b.written - stream.writableLength - stream.readableLength));
    this.branches.push(b);
    return stream;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const { src, primary } = this;
    src.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      for (const b of this.branches) if (!b.done) this.feed(b, chunk);
      if (this.detached) return;
      if (!primary.push(chunk) && !this.srcPaused) {
        this.srcPaused = true;
        src.pause();
      }
    });
    src.once('end', () => {
      this.complete = true;
      if (!this.detached) primary.push(null);
      for (const b of this.branches)
        if (!b.done) {
          b.stream.end();
          taps.get(b.stream)?.end();
        }
    });
    const fail = () => {
      if (this.complete) return;
      const err = new DownstreamAbortError('downstream request body aborted');
      primary.destroy(err);
      for (const b of this.branches) if (!b.done) this.abort(b, err);
    };
    src.once('aborted', fail);
    src.once('error', fail);
    src.once('close', fail);
  }

  /**
   * Bytes the consumer took that its socket may not have flushed. undici pauses a request body
   * when the socket's buffer is full and resumes it on 'drain': while paused, what it took since
   * the last resume waits in the socket; while flowing, the socket is below its high-water mark.
   */
  private unflushed(b: Branch): number {
    if (!b.stream.isPaused()) return 0;
    return b.written - b.stream.writableLength - b.stream.readableLength - b.takenAtResume;
  }

  private feed(b: Branch, chunk: Buffer): void {
    // What this copy holds in memory: its stream's buffer plus what its socket has not flushed yet.
    const held = b.stream.writableLength + b.stream.readableLength + this.unflushed(b) + chunk.length;
    if (held > b.limit) return this.abort(b, new MirrorOverflowError('body_limit'));
    const delta = held - b.counted;
    const mine = b.mirrorBudget;
    if (this.budget.used + delta > this.budget.limit || (mine && mine.used + delta > mine.limit))
      return this.abort(b, new MirrorOverflowError('body_budget'));
    this.budget.used += delta;
    if (mine) mine.used += delta;
    b.counted += delta;
    b.written += chunk.length;
    b.stream.write(chunk);
    taps.get(b.stream)?.data(chunk);
  }

  /** Lowers what a finished branch counts (never raises it: the budget only ever waited for it). */
  private recount(b: Branch, held: number): void {
    if (b.counted === 0 || held >= b.counted) return;
    const delta = b.counted - held;
    this.budget.used -= delta;
    if (b.mirrorBudget) b.mirrorBudget.used -= delta;
    b.counted = held;
  }

  private abort(b: Branch, err: Error): void {
    b.done = true;
    taps.get(b.stream)?.abort?.(err);
    b.stream.destroy(err);
    this.release(b);
  }

  private release(b: Branch): void {
    releasers.delete(b.stream);
    b.done = true;
    this.budget.used -= b.counted;
    if (b.mirrorBudget) b.mirrorBudget.used -= b.counted;
    b.counted = 0;
  }
}
