// The recording sink of a MirrorPolicy (issue 16): takes each admitted copy — its headers exactly as
// the copy carries them, its body from its own branch of the body tee — and queues one JSON line on
// the policy's recording file. Counts what was written, cut and dropped, per mirror.

import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { MirrorPolicy } from '../model/route-table.js';
import { shadowAuthority } from '../model/shadow-authority.js';
import { releaseBody, type BodyTee } from '../proxy/body-tee.js';
import { copyHeaders, type MirrorRequest } from '../proxy/mirror.js';
import { RecordFile, type RecordDropReason } from './record-file.js';
import { formatRecordLine, recordTime } from './record-line.js';

export const RECORD_DROP_REASONS: readonly RecordDropReason[] = [
  'queue_full',
  'write_error',
  'client_abort',
  'body_budget',
  'closed',
];

export interface RecordCounters {
  /** Lines written to disk. */
  written: number;
  /** Bytes of those lines. */
  bytes: number;
  /** Records whose body was cut at maxBodyBytes (written with truncated: true). */
  truncated: number;
  dropped: Record<RecordDropReason, number>;
}

export interface CopyRecorderOptions {
  /**
   * Bytes of records held in memory at once, for all files together: bodies being read plus lines
   * waiting for the disk. Past it, records are dropped (queue_full).
   */
  readonly queueBytes?: number;
  /** Turns a policy's path into the file this process writes (workers write files of their own). */
  readonly filePath?: (path: string) => string;
  readonly log?: (line: string) => void;
}

export const DEFAULT_RECORD_QUEUE_BYTES = 32 * 1024 * 1024;
/**
 * How far the recorder's branch of the body tee may lag before the tee gives up on it. The recorder
 * takes every chunk as it arrives (what it keeps is bounded by maxBodyBytes and the queue bound), so
 * this is only a safety net, independent of the copy's own bodyBufferBytes.
 */
const BRANCH_LAG_BYTES = 1024 * 1024;

/** Header names never written as pairs: the Host is the record's `authority`. */
const NOT_PAIRED = new Set(['host']);

export class CopyRecorder {
  readonly counters = new Map<string, RecordCounters>();
  readonly files = new Map<string, RecordFile>();
  readonly budget: { used: number; limit: number };
  private readonly filePath: (path: string) => string;
  private readonly log: (line: string) => void;

  constructor(opts: CopyRecorderOptions = {}) {
    this.budget = { used: 0, limit: opts.queueBytes ?? DEFAULT_RECORD_QUEUE_BYTES };
    this.filePath = opts.filePath ?? ((p) => p);
    this.log = opts.log ?? ((l) => void process.stderr.write(`${l}\n`));
  }

  countersFor(mirror: string): RecordCounters {
    let c = this.counters.get(mirror);
    if (!c)
      this.counters.set(
        mirror,
        (c = {
          written: 0,
          bytes: 0,
          truncated: 0,
          dropped: { queue_full: 0, write_error: 0, client_abort: 0, body_budget: 0, closed: 0 },
        }),
      );
    return c;
  }

  private fileFor(policy: MirrorPolicy): RecordFile {
    const s = policy.record!;
    const path = resolve(this.filePath(s.path));
    let f = this.files.get(path);
    if (!f) this.files.set(path, (f = new RecordFile(path, s, this.budget, this.log)));
    // The newest policy's limits apply (a reload may change them).
    else if (f.limits.maxBytes !== s.maxBytes || f.limits.maxFiles !== s.maxFiles)
      f.limits = { maxBytes: s.maxBytes, maxFiles: s.maxFiles };
    return f;
  }

  /**
   * Records one admitted copy of `policy` (which has `record` set). `tee` is the request body's tee
   * (the recorder takes a branch of its own), undefined when the request has none. Call it before
   * the tee starts. Never throws, never waits.
   */
  record(policy: MirrorPolicy, req: MirrorRequest, tee: BodyTee | undefined): void {
    const settings = policy.record;
    if (!settings) return;
    const body: Readable | null = tee ? tee.branch(BRANCH_LAG_BYTES) : null;
    const c = this.countersFor(policy.name);
    const authority = shadowAuthority(policy.authority, req.authority);
    // The header list the copy is sent with: the policy's removals and additions already applied.
    const flat = copyHeaders(req.headers, authority, policy);
    const headers: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2)
      if (!NOT_PAIRED.has(flat[i])) headers.push([flat[i], flat[i + 1]]);
    const head = {
      time: recordTime(Date.now()),
      requestId: req.requestId,
      mirror: policy.name,
      method: req.method,
      authority,
      path: req.path,
      headers,
    };
    const file = this.fileFor(policy);
    const write = (chunks: Buffer[], length: number, truncated: boolean, reserved: number) => {
      let line: string;
      try {
        line = formatRecordLine({ ...head, truncated }, chunks, length);
      } finally {
        this.budget.used -= reserved;
      }
      if (truncated) c.truncated++;
      file.append(line, (ok, reason) => {
        if (ok) {
          c.written++;
          c.bytes += Buffer.byteLength(line);
        } else c.dropped[reason ?? 'write_error']++;
      });
    };
    if (!body) return write([], 0, false, 0);

    const limit = settings.maxBodyBytes;
    const chunks: Buffer[] = [];
    let length = 0;
    let kept = 0;
    let reserved = 0;
    let over = false;
    let settled = false;
    const giveBack = () => {
      this.budget.used -= reserved;
      reserved = 0;
    };
    body.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (over || kept >= limit) return;
      const take = Math.min(chunk.length, limit - kept);
      if (this.budget.used + take > this.budget.limit) {
        // Holding this body would pass the recorder's memory bound: the record is dropped.
        over = true;
        chunks.length = 0;
        giveBack();
        return;
      }
      this.budget.used += take;
      reserved += take;
      kept += take;
      // A copy: the tee's chunks belong to the primary's stream.
      chunks.push(Buffer.from(take === chunk.length ? chunk : chunk.subarray(0, take)));
    });
    body.once('end', () => {
      if (settled) return;
      settled = true;
      releaseBody(body);
      if (over) {
        c.dropped.queue_full++;
        return;
      }
      const r = reserved;
      reserved = 0;
      write(chunks, length, length > kept, r);
    });
    const fail = (err?: unknown) => {
      if (settled) return;
      settled = true;
      giveBack();
      releaseBody(body);
      // No whole request to keep: the client's upload broke off, or the process's mirror body
      // budget was spent and the tee gave up on this branch.
      const code = (err as { code?: unknown } | undefined)?.code;
      if (code === 'UMBRA_MIRROR_BODY_OVERFLOW') c.dropped.body_budget++;
      else c.dropped.client_abort++;
    };
    body.once('error', fail);
    body.once('close', () => setImmediate(fail));
  }

  /** Writes what is queued (bounded), then closes every file. */
  async close(waitMs?: number): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.close(waitMs)));
    this.files.clear();
  }
}
