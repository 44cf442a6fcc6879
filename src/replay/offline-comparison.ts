// Offline comparison for `umbra replay --compare-to`: the live ComparisonEngine (src/compare) fed
// with replayed responses — the --to target plays the primary, --compare-to the candidate mirror,
// --baseline the baseline mirror — so pairing, diffing, noise cancellation, verdicts and the JSON
// report are exactly those of live comparison.

import type { CompareSettings, MirrorPolicy } from '../model/route-table.js';
import { COMPARE_DEFAULTS, ComparisonEngine, type ComparisonReport } from '../compare/comparison-engine.js';
import type { Sample } from '../compare/results.js';
import { DEFAULT_COMPARE_THRESHOLDS } from '../translate/mirror-policies.js';
import type { ResponseCapture } from '../compare/primary-capture.js';
import type { TargetResponse } from './replay-target.js';

/** The route name replayed requests are reported under. */
export const REPLAY_ROUTE = 'replay';

export interface OfflineCompareOptions {
  readonly candidate: string;
  readonly baseline?: string;
  readonly maxBodyBytes: number;
  readonly ignoreHeaders: readonly string[];
  readonly ignoreFields: readonly string[];
  /** Longest a request waits for all its answers (the replay's request timeout). */
  readonly timeoutMs: number;
}

/** A saved report: the admin API's report, the sample pairs of each group, and what was replayed. */
export interface SavedReport extends ComparisonReport {
  readonly replay: {
    readonly files: readonly string[];
    readonly primary: string;
    readonly candidate: string;
    readonly baseline?: string;
  };
  /** Sample pairs by group key (what /compare/samples?group=KEY serves live). */
  readonly sampleSets: Record<string, readonly Sample[]>;
}

function policy(name: string, timeoutMs: number, compare: CompareSettings): MirrorPolicy {
  return {
    cluster: name,
    name,
    ppm: 1_000_000,
    authority: { mode: 'keep' },
    timeoutMs,
    maxInFlight: Number.MAX_SAFE_INTEGER,
    bodyBufferBytes: 0,
    totalBodyBufferBytes: 0,
    compare,
  };
}

export class OfflineComparison {
  readonly engine: ComparisonEngine;
  private readonly policies: MirrorPolicy[];
  private readonly candidate: MirrorPolicy;
  private readonly baseline?: MirrorPolicy;

  constructor(private readonly o: OfflineCompareOptions) {
    // In memory only: a replay's results belong in its report file, not in a running Umbra's store.
    this.engine = new ComparisonEngine({
      budgetBytes: COMPARE_DEFAULTS.budgetBytes,
      windowMs: o.timeoutMs * 2,
    });
    const base: CompareSettings = {
      maxBodyBytes: o.maxBodyBytes,
      ignoreHeaders: o.ignoreHeaders.map((h) => h.toLowerCase()),
      ignoreFields: [...o.ignoreFields],
      thresholds: { ...DEFAULT_COMPARE_THRESHOLDS },
    };
    this.candidate = policy(o.candidate, o.timeoutMs, { ...base, baselineMirror: o.baseline });
    this.baseline = o.baseline ? policy(o.baseline, o.timeoutMs, { ...base, baseline: true }) : undefined;
    this.policies = this.baseline ? [this.candidate, this.baseline] : [this.candidate];
  }

  /** Starts one comparison; `id` must be unique among the requests in flight. */
  begin(id: string, method: string, path: string): ResponseCapture | undefined {
    // The endpoint is the path without its query, as the proxy reports live traffic.
    const q = path.indexOf('?');
    return this.engine.begin(id, REPLAY_ROUTE, method, q === -1 ? path : path.slice(0, q), this.policies);
  }

  primary(capture: ResponseCapture | undefined, r: TargetResponse | undefined): void {
    if (!capture) return;
    if (!r) return capture.fail();
    capture.start(r.status, r.headers);
    // A body over the limit is shown to the capture whole so that it is flagged truncated, as live.
    if (r.body) capture.data(r.body);
    else if (r.truncated) capture.data(Buffer.alloc(this.o.maxBodyBytes + 1));
    capture.end();
  }

  /** The candidate's answer, or undefined when it gave none (counted as a missing candidate). */
  candidateAnswer(id: string, r: TargetResponse | undefined): void {
    this.answer(this.candidate, id, r);
  }

  baselineAnswer(id: string, r: TargetResponse | undefined): void {
    if (this.baseline) this.answer(this.baseline, id, r);
  }

  private answer(p: MirrorPolicy, id: string, r: TargetResponse | undefined): void {
    if (r) this.engine.mirrorResponse(p, id, r.status, r.headers, r.body, r.truncated);
    else this.engine.mirrorFailed(p, id);
  }

  /** Waits until every begun comparison is done (answers in, or their window passed). */
  async settle(): Promise<void> {
    while (this.engine.pendingCount > 0) await new Promise((ok) => setTimeout(ok, 20));
  }

  report(replay: SavedReport['replay']): SavedReport {
    const r = this.engine.report();
    const sampleSets: Record<string, readonly Sample[]> = {};
    for (const g of r.groups) sampleSets[g.key] = this.engine.samples(g.key) ?? [];
    return { ...r, replay, sampleSets };
  }

  close(): void {
    this.engine.close();
  }
}
