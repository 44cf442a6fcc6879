// The comparison report served on the admin API: per group, the request outcome counts, each
// field's difference and noise rates with its verdict (differences first, noise apart), latencies
// side by side, and notes on what could not be compared fully.

import type { FieldDiff } from './json-diff.js';
import { LATENCY_BOUNDS_MS, type GroupState, type LatencyHisto, type Sample } from './results.js';
import { rates, verdict, type Verdict } from './verdict.js';

export interface FieldReport {
  readonly field: string;
  readonly verdict: Verdict;
  readonly differences: number;
  readonly differenceRate: number;
  readonly noise: number;
  readonly noiseRate: number;
  readonly noiseMeasured: boolean;
  readonly example?: FieldDiff;
}

export interface LatencySummary {
  readonly count: number;
  readonly avgMs: number;
  /** Upper bound of the histogram bucket holding the median / 95th percentile. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface GroupReport {
  readonly key: string;
  readonly route: string;
  readonly endpoint: string;
  readonly mirror: string;
  readonly baseline?: string;
  readonly policy?: string;
  readonly compared: number;
  readonly equal: number;
  readonly different: number;
  readonly noiseOnly: number;
  /** Share of compared requests with a difference the noise does not explain. */
  readonly differenceRate: number;
  readonly withBaseline: number;
  readonly missingCandidate: number;
  readonly missingBaseline: number;
  readonly modes: GroupState['modes'];
  readonly statusPairs: Record<string, number>;
  readonly latency: {
    readonly primary: LatencySummary;
    readonly candidate: LatencySummary;
    readonly baseline: LatencySummary;
  };
  readonly thresholds: GroupState['thresholds'];
  /** Fields reported as real differences, most frequent first. */
  readonly differences: readonly FieldReport[];
  /** Fields whose candidate differences are explained by the baseline's noise. */
  readonly noise: readonly FieldReport[];
  /** Fields below the thresholds without measured noise. */
  readonly minor: readonly FieldReport[];
  readonly notes: readonly string[];
  readonly samples: number;
  readonly firstAt: string;
  readonly lastAt: string;
}

/** Linear interpolation inside the bucket that holds the quantile (as Prometheus' histogram_quantile). */
function quantile(h: LatencyHisto, q: number): number {
  if (h.count === 0) return 0;
  const want = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.buckets.length; i++) {
    const n = h.buckets[i];
    if (n > 0 && seen + n >= want) {
      const lo = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1];
      const hi = i < LATENCY_BOUNDS_MS.length ? Math.min(LATENCY_BOUNDS_MS[i], h.maxMs) : h.maxMs;
      return Math.min(h.maxMs, lo + (Math.max(hi, lo) - lo) * ((want - seen) / n));
    }
    seen += n;
  }
  return h.maxMs;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function summarize(h: LatencyHisto): LatencySummary {
  return {
    count: h.count,
    avgMs: h.count ? round(h.sumMs / h.count) : 0,
    p50Ms: round(quantile(h, 0.5)),
    p95Ms: round(quantile(h, 0.95)),
    maxMs: round(h.maxMs),
  };
}

/** A rate with four decimals (0.1234 = 12.34 %). */
function ratio(n: number): number {
  return Math.round(n * 1e4) / 1e4;
}

function pct(n: number): string {
  return `${Math.round(n * 1000) / 10}%`;
}

export function groupReport(g: GroupState, budgetBytes: number): GroupReport {
  const fields: FieldReport[] = Object.entries(g.fields).map(([field, fc]) => {
    const r = rates(fc.differences, g.compared, fc.noise, g.withBaseline);
    return {
      field,
      verdict: fc.differences === 0 ? (r.noiseRate > 0 ? 'noise' : 'minor') : verdict(r, g.thresholds),
      differences: fc.differences,
      differenceRate: ratio(r.differenceRate),
      noise: fc.noise,
      noiseRate: ratio(r.noiseRate),
      noiseMeasured: r.noiseMeasured,
      example: fc.example,
    };
  });
  const byRate = (a: FieldReport, b: FieldReport) =>
    b.differenceRate - a.differenceRate || a.field.localeCompare(b.field);
  const notes: string[] = [];
  if (!g.baseline)
    notes.push(
      'no baseline mirror: noise is not measured, so every difference above the absolute threshold is reported',
    );
  else if (g.withBaseline === 0 && g.compared > 0)
    notes.push(`baseline ${g.baseline} has not answered yet: noise is not measured`);
  const hash = g.modes.hash ?? 0;
  if (hash > 0)
    notes.push(
      `${hash} of ${g.compared} pairs compared by size and hash only: the retained-body memory budget (${budgetBytes} bytes) was full`,
    );
  const trunc = g.modes.truncated ?? 0;
  if (trunc > 0)
    notes.push(`${trunc} pairs had a body over compare.maxBodyBytes: status and headers compared, body not`);
  if (g.missingCandidate > 0)
    notes.push(
      `${g.missingCandidate} candidate responses never arrived (failed, dropped or timed out): not compared`,
    );
  if (g.missingBaseline > 0)
    notes.push(
      `${g.missingBaseline} baseline responses never arrived: those pairs carry no noise information`,
    );
  if (g.untrackedFieldDiffs > 0)
    notes.push(
      `${g.untrackedFieldDiffs} differences in fields past the first ${Object.keys(g.fields).length} are counted but not listed`,
    );
  if (g.cappedDiffs > 0)
    notes.push(`${g.cappedDiffs} pairs differed in so many places that their diff was cut short`);
  if (g.compared > 0 && g.different > 0)
    notes.push(`${pct(g.different / g.compared)} of compared requests differ beyond noise`);
  return {
    key: g.key,
    route: g.route,
    endpoint: g.endpoint,
    mirror: g.mirror,
    baseline: g.baseline,
    policy: g.policy,
    compared: g.compared,
    equal: g.equal,
    different: g.different,
    noiseOnly: g.noiseOnly,
    differenceRate: g.compared ? ratio(g.different / g.compared) : 0,
    withBaseline: g.withBaseline,
    missingCandidate: g.missingCandidate,
    missingBaseline: g.missingBaseline,
    modes: g.modes,
    statusPairs: g.statusPairs,
    latency: {
      primary: summarize(g.latency.primary),
      candidate: summarize(g.latency.candidate),
      baseline: summarize(g.latency.baseline),
    },
    thresholds: g.thresholds,
    differences: fields.filter((f) => f.verdict === 'difference').sort(byRate),
    noise: fields.filter((f) => f.verdict === 'noise').sort(byRate),
    minor: fields.filter((f) => f.verdict === 'minor').sort(byRate),
    notes,
    samples: g.samples.length,
    firstAt: g.firstAt,
    lastAt: g.lastAt,
  };
}

export type UnpairedReason =
  'candidate_missing' | 'primary_failed' | 'pending_full' | 'duplicate_request_id' | 'unmatched_mirror';

export interface ComparisonTotals {
  /** Requests whose primary response was captured for comparison. */
  begun: number;
  /** Candidate responses compared with the primary. */
  compared: number;
  /** Responses kept as size and hash only because the budget was full. */
  hashOnly: number;
  /** Mirror responses over maxBodyBytes. */
  truncated: number;
  unpaired: Record<UnpairedReason, number>;
}

export function newTotals(): ComparisonTotals {
  return {
    begun: 0,
    compared: 0,
    hashOnly: 0,
    truncated: 0,
    unpaired: {
      candidate_missing: 0,
      primary_failed: 0,
      pending_full: 0,
      duplicate_request_id: 0,
      unmatched_mirror: 0,
    },
  };
}

export function addTotals(into: ComparisonTotals, t: ComparisonTotals): void {
  into.begun += t.begun;
  into.compared += t.compared;
  into.hashOnly += t.hashOnly;
  into.truncated += t.truncated;
  for (const k of Object.keys(into.unpaired) as UnpairedReason[]) into.unpaired[k] += t.unpaired[k] ?? 0;
}

export interface BudgetView {
  readonly limitBytes: number;
  readonly usedBytes: number;
  readonly peakBytes: number;
}

export interface ComparisonReport {
  readonly generatedAt: string;
  readonly budget: BudgetView;
  readonly pending: number;
  readonly totals: ComparisonTotals;
  readonly persistence: { readonly file?: string; readonly error?: string };
  readonly groups: readonly GroupReport[];
}

export interface ReportFilter {
  readonly route?: string;
  readonly mirror?: string;
}

/** What the admin endpoints read: one engine, or the sum of several workers' engines. */
export interface ComparisonSource {
  report(filter?: ReportFilter): ComparisonReport;
  samples(key: string): readonly Sample[] | undefined;
}

export function buildReport(
  groups: Iterable<GroupState>,
  budget: BudgetView,
  pending: number,
  totals: ComparisonTotals,
  persistence: ComparisonReport['persistence'],
  filter: ReportFilter = {},
): ComparisonReport {
  return {
    generatedAt: new Date().toISOString(),
    budget,
    pending,
    totals,
    persistence,
    groups: [...groups]
      .filter(
        (g) => (!filter.route || g.route === filter.route) && (!filter.mirror || g.mirror === filter.mirror),
      )
      .map((g) => groupReport(g, budget.limitBytes))
      .sort(
        (a, b) =>
          b.differences.length - a.differences.length ||
          b.differenceRate - a.differenceRate ||
          a.key.localeCompare(b.key),
      ),
  };
}
