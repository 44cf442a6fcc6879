// One recording file on disk: lines queue in memory (bounded) and an asynchronous loop appends them,
// rotating at maxBytes and keeping at most maxFiles files. Nothing here is awaited by a request: a
// full queue or a failing disk drops lines and counts them, never slows the data plane.

import { chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Why a record never reached the disk (umbra_record_dropped_total{reason}). */
export type RecordDropReason = 'queue_full' | 'write_error' | 'client_abort' | 'body_budget' | 'closed';

export interface RecordFileLimits {
  maxBytes: number;
  maxFiles: number;
}

/** After a failed open or write, the next attempt waits this long (a full disk is not hammered). */
const RETRY_MS = 1000;
/**
 * A file with nothing to write is closed after this long: a reload that moves the recording elsewhere
 * leaves no handle open, and a file moved away by hand is recreated on the next write.
 */
const IDLE_CLOSE_MS = 30_000;
/** Lines written per write() call at most (one syscall for a batch, not one per line). */
const BATCH_BYTES = 1024 * 1024;

interface Queued {
  readonly line: string;
  readonly bytes: number;
  readonly done: (ok: boolean, reason?: RecordDropReason) => void;
}

export class RecordFile {
  private readonly queue: Queued[] = [];
  private fh?: FileHandle;
  private size = 0;
  private running = false;
  private closed = false;
  private retryAt = 0;
  private retryTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private idle?: () => void;
  /** The last error, for logs and the admin API. */
  lastError?: string;
  rotations = 0;

  constructor(
    readonly path: string,
    public limits: RecordFileLimits,
    /** Bytes the queue of every file shares (the recorder's budget). */
    private readonly budget: { used: number; limit: number },
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Queues a line; `done` is called once it is on disk or dropped. Never throws, never waits. */
  append(line: string, done: Queued['done']): void {
    if (this.closed) return done(false, 'closed');
    const bytes = Buffer.byteLength(line);
    if (this.budget.used + bytes > this.budget.limit) return done(false, 'queue_full');
    this.budget.used += bytes;
    this.queue.push({ line, bytes, done });
    this.kick();
  }

  /** Lines waiting to be written. */
  get queuedLines(): number {
    return this.queue.length;
  }

  private kick(): void {
    if (this.running || this.queue.length === 0) return;
    const wait = this.retryAt - Date.now();
    if (wait > 0) {
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, wait);
      this.retryTimer.unref();
      return;
    }
    this.running = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    void this.drain().finally(() => {
      this.running = false;
      if (this.queue.length > 0 && !this.closed) this.kick();
      else if (this.queue.length === 0) {
        this.idle?.();
        this.idleTimer = setTimeout(() => {
          if (!this.running && this.queue.length === 0) void this.closeHandle();
        }, IDLE_CLOSE_MS);
        this.idleTimer.unref();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.take();
      try {
        await this.ensureOpen(batch[0].bytes);
        const text = batch.length === 1 ? batch[0].line : batch.map((q) => q.line).join('');
        await this.fh!.appendFile(text);
        for (const q of batch) this.size += q.bytes;
        this.settle(batch, true);
      } catch (e) {
        // The file is reopened on the next attempt (a replaced disk or directory may come back).
        const msg = (e as Error).message;
        if (this.lastError !== msg) this.log(`umbra: recording to ${this.path} failed: ${msg}`);
        this.lastError = msg;
        await this.closeHandle();
        this.settle(batch, false, 'write_error');
        this.retryAt = Date.now() + RETRY_MS;
        // Lines queued while the disk fails wait for the retry (bounded by the queue budget).
        return;
      }
    }
  }

  /** Lines for one write: at most BATCH_BYTES, and never across a rotation point. */
  private take(): Queued[] {
    const out: Queued[] = [this.queue.shift()!];
    let bytes = out[0].bytes;
    let size = this.size + bytes;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (bytes + next.bytes > BATCH_BYTES || size + next.bytes > this.limits.maxBytes) break;
      out.push(this.queue.shift()!);
      bytes += next.bytes;
      size += next.bytes;
    }
    return out;
  }

  private settle(batch: readonly Queued[], ok: boolean, reason?: RecordDropReason): void {
    for (const q of batch) {
      this.budget.used -= q.bytes;
      q.done(ok, reason);
    }
  }

  /** Opens the file (mode 0600) and rotates it first when `next` bytes would take it past maxBytes. */
  private async ensureOpen(next: number): Promise<void> {
    if (this.fh && this.size > 0 && this.size + next > this.limits.maxBytes) await this.rotate();
    if (this.fh) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    this.fh = await open(this.path, 'a', 0o600);
    // An existing file keeps its mode on open: recordings hold request data, so narrow it.
    await chmod(this.path, 0o600);
    this.size = (await this.fh.stat()).size;
    this.lastError = undefined;
    if (this.size > 0 && this.size + next > this.limits.maxBytes) await this.rotate();
  }

  /** path → path.1 → path.2 …; the oldest beyond maxFiles is removed (logrotate's numbering). */
  private async rotate(): Promise<void> {
    await this.closeHandle();
    const keep = this.limits.maxFiles - 1;
    if (keep <= 0) await rm(this.path, { force: true });
    else {
      await rm(`${this.path}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) await renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      await renameIfExists(this.path, `${this.path}.1`);
    }
    this.rotations++;
    this.fh = await open(this.path, 'a', 0o600);
    await chmod(this.path, 0o600);
    this.size = 0;
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => {});
  }

  /** Writes what is queued (bounded by `waitMs`), then closes the file; later lines are dropped. */
  async close(waitMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.queue.length > 0 && Date.now() >= this.retryAt) {
      this.kick();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((ok) => (this.idle = ok)),
        new Promise<void>((ok) => (timer = setTimeout(ok, waitMs))),
      ]);
      clearTimeout(timer);
    }
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    while (this.running) await new Promise((ok) => setTimeout(ok, 5));
    this.settle(this.queue.splice(0), false, 'closed');
    await this.closeHandle();
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await stat(from);
  } catch {
    return;
  }
  await rename(from, to);
}
