// Pairs the primary's response with its compared mirrors' responses by request id inside a bounded
// window, compares them off the request path (setImmediate batches), aggregates the results, and
// saves them to the store on a timer. Does nothing at all for requests without comparison.

import type { MirrorPolicy } from '../model/route-table.js';
import type { MirrorComparisonSink } from '../proxy/mirror.js';
import type { Headers } from './body-kind.js';
import { PendingPair, PrimaryCapture, type CaptureOwner, type ResponseCapture } from './primary-capture.js';
import {
  buildReport,
  newTotals,
  type BudgetView,
  type ComparisonReport,
  type ComparisonSource,
  type ComparisonTotals,
  type ReportFilter,
} from './report.js';
import { compileCompare, diffResponses, sha256, type CapturedResponse } from './response-diff.js';
import { ResultStore } from './result-store.js';
import { ComparisonResults, type GroupState, type Sample } from './results.js';
import { RetainedBudget } from './retained-budget.js';

export interface ComparisonOptions {
  /** Bytes of response bodies retained for all pending comparisons together. */
  readonly budgetBytes: number;
  /** Requests waiting for their responses; past it new requests are not compared. */
  readonly maxPending?: number;
  /** Longest a request waits for its mirrors (each waits its mirrors' timeout plus a grace). */
  readonly windowMs?: number;
  /** Where the SQLite store lives; undefined keeps results in memory only. */
  readonly stateDir?: string;
  readonly flushMs?: number;
  readonly log?: (line: string) => void;
}

export const COMPARE_DEFAULTS = {
  budgetBytes: 64 * 1024 * 1024,
  maxPending: 10_000,
  windowMs: 60_000,
  flushMs: 2_000,
} as const;
/** Added to the slowest mirror's timeout: responses finishing right at the timeout still pair. */
const GRACE_MS = 1_000;
/**
 * Pairs compared per event-loop turn, and the time one turn may spend comparing, so comparison
 * never holds up I/O for long: a pair of large JSON bodies takes milliseconds, and 32 of them in
 * one turn would stall every primary on this process for a large fraction of a second.
 */
const BATCH = 32;
const SLICE_MS = 4;

/** What a worker sends its primary (plain data for the IPC channel). */
export interface ComparisonSnapshot {
  readonly groups: readonly GroupState[];
  readonly totals: ComparisonTotals;
  readonly budget: BudgetView;
  readonly pending: number;
}

export type { ComparisonReport, ComparisonTotals };

export class ComparisonEngine implements MirrorComparisonSink, CaptureOwner, ComparisonSource {
  readonly budget: RetainedBudget;
  readonly results = new ComparisonResults();
  readonly totals: ComparisonTotals = newTotals();
  private readonly pending = new Map<string, PendingPair>();
  private readonly ready: PendingPair[] = [];
  private scheduled = false;
  private closed = false;
  private readonly maxPending: number;
  private readonly windowMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly flusher?: NodeJS.Timeout;
  private store?: ResultStore;
  private storeError?: string;
  private readonly log: (line: string) => void;

  constructor(opts: ComparisonOptions) {
    this.budget = new RetainedBudget(opts.budgetBytes);
    this.maxPending = opts.maxPending ?? COMPARE_DEFAULTS.maxPending;
    this.windowMs = opts.windowMs ?? COMPARE_DEFAULTS.windowMs;
    this.log = opts.log ?? (() => {});
    if (opts.stateDir !== undefined) {
      try {
        this.store = ResultStore.open(opts.stateDir);
        this.results.load(this.store.loadAll());
      } catch (e) {
        // Results still work in memory; the report says why they are not kept.
        this.storeError = (e as Error).message;
        this.log(`umbra: comparison results are not persisted: ${this.storeError}`);
        this.store = undefined;
      }
      this.flusher = setInterval(() => this.flush(), opts.flushMs ?? COMPARE_DEFAULTS.flushMs);
      this.flusher.unref();
    }
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
  }

  /**
   * Called by the proxy for a request with admitted mirrors: returns a capture for the primary's
   * response when at least one admitted mirror is a compared candidate, otherwise undefined.
   */
  begin(
    requestId: string,
    route: string,
    method: string,
    path: string,
    admitted: readonly MirrorPolicy[],
  ): ResponseCapture | undefined {
    let policies: MirrorPolicy[] | undefined;
    let candidate = false;
    let timeout = 0;
    let maxBody = 0;
    for (const m of admitted) {
      const c = m.compare;
      if (!c) continue;
      (policies ??= []).push(m);
      if (!c.baseline) candidate = true;
      if (m.timeoutMs > timeout) timeout = m.timeoutMs;
      if (c.maxBodyBytes > maxBody) maxBody = c.maxBodyBytes;
    }
    if (!policies || !candidate || this.closed) return undefined;
    if (this.pending.size + this.ready.length >= this.maxPending) {
      this.totals.unpaired.pending_full++;
      return undefined;
    }
    if (this.pending.has(requestId)) {
      // A client reused an x-request-id while the first request is still pending: pairing by id
      // would mix them up, so the second one is not compared.
      this.totals.unpaired.duplicate_request_id++;
      return undefined;
    }
    const pair = new PendingPair(
      requestId,
      route,
      method,
      path,
      policies,
      Date.now() + Math.min(timeout + GRACE_MS, this.windowMs),
    );
    this.pending.set(requestId, pair);
    this.totals.begun++;
    return new PrimaryCapture(this, pair, maxBody);
  }

  primaryDone(pair: PendingPair, response: CapturedResponse | undefined, reservedBytes: number): void {
    pair.retained += reservedBytes;
    if (!response) {
      // No primary response: nothing to compare against, whatever the mirrors say.
      pair.primaryFailed = true;
      return this.complete(pair);
    }
    pair.primary = response;
    if (--pair.outstanding === 0) this.complete(pair);
  }

  countHashOnly(): void {
    this.totals.hashOnly++;
  }

  /** The shadow writer's side: a compared mirror's response is complete. */
  mirrorResponse(
    policy: MirrorPolicy,
    requestId: string,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer | null,
    truncated: boolean,
  ): void {
    if (this.closed) return;
    const pair = this.pending.get(requestId);
    if (
      !pair ||
      pair.closed ||
      pair.mirrors.has(policy.name) ||
      !pair.policies.some((p) => p.name === policy.name)
    ) {
      this.totals.unpaired.unmatched_mirror++;
      return;
    }
    pair.mirrors.set(policy.name, this.capturedMirror(pair, status, headers, body, truncated));
    if (--pair.outstanding === 0) this.complete(pair);
  }

  /**
   * A compared mirror will not answer (its copy failed): the pair need not wait for its window.
   * Used by offline comparison (src/replay), which knows at once when a target gave no answer.
   */
  mirrorFailed(policy: MirrorPolicy, requestId: string): void {
    const pair = this.pending.get(requestId);
    if (!pair || pair.closed || pair.mirrors.has(policy.name)) return;
    if (!pair.policies.some((p) => p.name === policy.name)) return;
    if (--pair.outstanding === 0) this.complete(pair);
  }

  private capturedMirror(
    pair: PendingPair,
    status: number,
    headers: Headers,
    body: Buffer | null,
    truncated: boolean,
  ): CapturedResponse {
    const latencyMs = performance.now() - pair.startedAt;
    const size = body?.length ?? 0;
    if (truncated || !body) {
      if (truncated) this.totals.truncated++;
      return { status, headers, body: null, size, truncated, hashOnly: false, latencyMs };
    }
    if (this.budget.tryReserve(size)) {
      pair.retained += size;
      return { status, headers, body, size, truncated: false, hashOnly: false, latencyMs };
    }
    this.totals.hashOnly++;
    return {
      status,
      headers,
      body: null,
      size,
      sha256: sha256(body),
      truncated: false,
      hashOnly: true,
      latencyMs,
    };
  }

  private complete(pair: PendingPair): void {
    if (pair.closed) return;
    pair.closed = true;
    this.pending.delete(pair.requestId);
    this.ready.push(pair);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.process());
    }
  }

  /** Pairs whose window has passed are compared with what arrived. */
  private sweep(): void {
    const now = Date.now();
    for (const pair of this.pending.values()) {
      // Insertion order is start order; windows differ little, so stop at the first live pair.
      if (pair.deadline > now) break;
      this.complete(pair);
    }
  }

  private process(): void {
    this.scheduled = false;
    const start = performance.now();
    for (let n = 0; n < BATCH && this.ready.length > 0; n++) {
      if (n > 0 && performance.now() - start >= SLICE_MS) break;
      const pair = this.ready.shift() as PendingPair;
      try {
        this.comparePair(pair);
      } catch (e) {
        this.log(`umbra: comparison of request ${pair.requestId} failed: ${(e as Error).message}`);
      } finally {
        this.budget.release(pair.retained);
        pair.retained = 0;
        pair.primary = undefined;
        pair.mirrors.clear();
      }
    }
    if (this.ready.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.process());
    }
  }

  private comparePair(pair: PendingPair): void {
    const primary = pair.primary;
    if (!primary) {
      this.totals.unpaired.primary_failed++;
      return;
    }
    for (const c of pair.policies) {
      const settings = c.compare;
      if (!settings || settings.baseline) continue;
      const cand = pair.mirrors.get(c.name);
      if (!cand) {
        this.totals.unpaired.candidate_missing++;
        this.results.recordMissing(pair.route, pair.method, pair.path, c);
        continue;
      }
      const compiled = compileCompare(settings);
      const baselineName =
        settings.baselineMirror && pair.policies.some((p) => p.name === settings.baselineMirror)
          ? settings.baselineMirror
          : undefined;
      const base = baselineName ? pair.mirrors.get(baselineName) : undefined;
      this.results.record({
        route: pair.route,
        method: pair.method,
        path: pair.path,
        requestId: pair.requestId,
        at: pair.at,
        candidate: c,
        primary,
        candidateResponse: cand,
        diff: diffResponses(primary, cand, compiled),
        baselineName,
        baselineResponse: base,
        baselinePolicy: baselineName ? pair.policies.find((p) => p.name === baselineName) : undefined,
        noise: base ? diffResponses(primary, base, compiled) : undefined,
      });
      this.totals.compared++;
    }
  }

  get pendingCount(): number {
    return this.pending.size + this.ready.length;
  }

  report(filter: ReportFilter = {}): ComparisonReport {
    return buildReport(
      this.results.groups.values(),
      this.budgetView(),
      this.pendingCount,
      this.totals,
      { file: this.store?.file, error: this.storeError },
      filter,
    );
  }

  private budgetView(): BudgetView {
    return { limitBytes: this.budget.limit, usedBytes: this.budget.used, peakBytes: this.budget.peak };
  }

  /** The results as plain data, for a multi-worker primary to add up. */
  snapshot(): ComparisonSnapshot {
    return {
      groups: [...this.results.groups.values()],
      totals: this.totals,
      budget: this.budgetView(),
      pending: this.pendingCount,
    };
  }

  samples(key: string): readonly Sample[] | undefined {
    return this.results.groups.get(key)?.samples;
  }

  /** Writes changed groups to the store. */
  flush(): void {
    if (!this.store || this.results.dirty.size === 0) return;
    const groups = [...this.results.dirty]
      .map((k) => this.results.groups.get(k))
      .filter((g) => g !== undefined);
    this.results.dirty.clear();
    try {
      this.store.save(groups);
    } catch (e) {
      this.storeError = (e as Error).message;
      this.log(`umbra: saving comparison results failed: ${this.storeError}`);
    }
  }

  /** Forgets every result (e.g. after deploying a new candidate). */
  reset(): void {
    this.results.clear();
    this.store?.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    if (this.flusher) clearInterval(this.flusher);
    // Pairs already complete are compared now so their results are saved.
    while (this.ready.length > 0) this.process();
    this.flush();
    this.store?.close();
    this.store = undefined;
  }
}
