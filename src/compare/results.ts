// The comparison results: one group per route × endpoint template × candidate mirror, with request
// counts, per-field difference and noise counts, status pairs, latencies and a few sample pairs.
// Plain data, so the store can persist it as JSON. Bounded in groups, fields and samples.

import type { MirrorPolicy } from '../model/route-table.js';
import { DEFAULT_COMPARE_THRESHOLDS } from '../translate/mirror-policies.js';
import { endpointTemplate } from './endpoint-template.js';
import type { FieldDiff } from './json-diff.js';
import type { BodyMode, CapturedResponse, ResponseDiff } from './response-diff.js';
import { renderSide, SAMPLE_BODY_MAX, type SampleSide } from './sample-render.js';
import { cleanDiffs, policyChangedNames, redactedNames, SecretValues, secretsIn } from './redaction.js';
import { decodeBody } from './body-kind.js';
import { lineDiff, type LineOp } from './text-diff.js';
import { rates, verdict, type Thresholds } from './verdict.js';

export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] as const;

export interface LatencyHisto {
  count: number;
  sumMs: number;
  maxMs: number;
  /** Counts per LATENCY_BOUNDS_MS bucket, plus one for larger values. */
  buckets: number[];
}

export interface FieldCounts {
  /** Requests in which the candidate differed from the primary on this field. */
  differences: number;
  /** Requests in which the baseline differed from the primary on this field. */
  noise: number;
  /** The latest concrete difference seen, for the report. */
  example?: FieldDiff;
}

export type Outcome = 'equal' | 'different' | 'noise-only';

export interface Sample {
  readonly id: string;
  readonly requestId: string;
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly outcome: Outcome;
  readonly mode: BodyMode;
  readonly primary: SampleSide;
  readonly candidate: SampleSide;
  readonly baseline?: SampleSide;
  /** Candidate differences, each flagged when the baseline differed on the same field. */
  readonly diffs: readonly (FieldDiff & { readonly noise: boolean })[];
  /** Line diff of text bodies (primary → candidate). */
  readonly textDiff?: readonly LineOp[];
}

export interface GroupState {
  v: 1;
  key: string;
  route: string;
  endpoint: string;
  mirror: string;
  baseline?: string;
  policy?: string;
  thresholds: Thresholds;
  compared: number;
  equal: number;
  different: number;
  noiseOnly: number;
  /** Compared requests that also had a baseline response (the denominator of noise rates). */
  withBaseline: number;
  modes: Partial<Record<BodyMode, number>>;
  /** Candidate responses that never arrived within the pairing window (failed, dropped, timed out). */
  missingCandidate: number;
  /** Baseline responses that never arrived, for requests that were compared anyway. */
  missingBaseline: number;
  /** "200 500" → requests where the primary answered 200 and the candidate 500. */
  statusPairs: Record<string, number>;
  latency: { primary: LatencyHisto; candidate: LatencyHisto; baseline: LatencyHisto };
  fields: Record<string, FieldCounts>;
  /** Differences in fields past MAX_FIELDS (not tracked one by one). */
  untrackedFieldDiffs: number;
  /** Diffs that stopped at their cap (very different documents). */
  cappedDiffs: number;
  samples: Sample[];
  lastSampleAt: number;
  firstAt: string;
  lastAt: string;
}

export const LIMITS = {
  groups: 500,
  fieldsPerGroup: 64,
  differentSamples: 4,
  otherSamples: 2,
  /** A new sample replaces an old one at most this often per group (rendering costs CPU). */
  sampleEveryMs: 1000,
};

export function newHisto(): LatencyHisto {
  return { count: 0, sumMs: 0, maxMs: 0, buckets: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0) };
}

export function observe(h: LatencyHisto, ms: number): void {
  h.count++;
  h.sumMs += ms;
  if (ms > h.maxMs) h.maxMs = ms;
  let i = 0;
  while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]) i++;
  h.buckets[i]++;
}

/** One request's comparison for one candidate mirror, as the engine hands it over. */
export interface PairOutcome {
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly requestId: string;
  readonly at: number;
  readonly candidate: MirrorPolicy;
  readonly primary: CapturedResponse;
  readonly candidateResponse: CapturedResponse;
  readonly diff: ResponseDiff;
  readonly baselineName?: string;
  readonly baselineResponse?: CapturedResponse;
  /** The baseline mirror's policy: its own header operations explain its own differences. */
  readonly baselinePolicy?: MirrorPolicy;
  readonly noise?: ResponseDiff;
}

/** The secret values one request's responses carry (headers, echoed bodies), for redaction. */
function requestSecrets(o: PairOutcome): SecretValues {
  const names = redactedNames(o.candidate.headers);
  const found = new SecretValues();
  for (const r of [o.primary, o.candidateResponse, o.baselineResponse]) {
    if (!r) continue;
    const body = r.body ? (decodeBody(r.body, r.headers, SAMPLE_BODY_MAX * 64) ?? r.body) : null;
    secretsIn(r.headers, body, names, found);
  }
  return found;
}

export class ComparisonResults {
  readonly groups = new Map<string, GroupState>();
  /** Keys changed since the store last saved them. */
  readonly dirty = new Set<string>();
  private sampleSeq = 0;

  load(groups: readonly GroupState[]): void {
    for (const g of groups) if (g && g.v === 1 && typeof g.key === 'string') this.groups.set(g.key, g);
  }

  clear(): void {
    this.groups.clear();
    this.dirty.clear();
  }

  private group(route: string, endpoint: string, m: MirrorPolicy, method: string): GroupState {
    let key = `${route}\u0000${endpoint}\u0000${m.name}`;
    let g = this.groups.get(key);
    if (!g && this.groups.size >= LIMITS.groups) {
      // Past the cap, new endpoints of a route share one group per method.
      endpoint = `${method} (other endpoints)`;
      key = `${route}\u0000${endpoint}\u0000${m.name}`;
      g = this.groups.get(key);
    }
    if (!g) {
      const now = new Date().toISOString();
      g = {
        v: 1,
        key,
        route,
        endpoint,
        mirror: m.name,
        policy: m.policy,
        thresholds: m.compare?.thresholds ?? DEFAULT_COMPARE_THRESHOLDS,
        compared: 0,
        equal: 0,
        different: 0,
        noiseOnly: 0,
        withBaseline: 0,
        modes: {},
        missingCandidate: 0,
        missingBaseline: 0,
        statusPairs: {},
        latency: { primary: newHisto(), candidate: newHisto(), baseline: newHisto() },
        fields: {},
        untrackedFieldDiffs: 0,
        cappedDiffs: 0,
        samples: [],
        lastSampleAt: 0,
        firstAt: now,
        lastAt: now,
      };
      this.groups.set(key, g);
    }
    // The latest configuration wins: thresholds and baseline follow the policy in service.
    g.thresholds = m.compare?.thresholds ?? g.thresholds;
    if (m.compare?.baselineMirror) g.baseline = m.compare.baselineMirror;
    this.dirty.add(key);
    return g;
  }

  /** A candidate response that never came: counted against its group. */
  recordMissing(route: string, method: string, path: string, m: MirrorPolicy): void {
    const g = this.group(route, endpointTemplate(method, path), m, method);
    g.missingCandidate++;
    g.lastAt = new Date().toISOString();
  }

  record(o: PairOutcome): Outcome {
    const g = this.group(o.route, endpointTemplate(o.method, o.path), o.candidate, o.method);
    g.compared++;
    g.lastAt = new Date(o.at).toISOString();
    g.modes[o.diff.mode] = (g.modes[o.diff.mode] ?? 0) + 1;
    if (o.diff.capped) g.cappedDiffs++;
    if (o.baselineName && !o.baselineResponse) g.missingBaseline++;
    const sp = `${o.primary.status} ${o.candidateResponse.status}`;
    g.statusPairs[sp] = (g.statusPairs[sp] ?? 0) + 1;
    observe(g.latency.primary, o.primary.latencyMs);
    observe(g.latency.candidate, o.candidateResponse.latencyMs);
    if (o.baselineResponse) observe(g.latency.baseline, o.baselineResponse.latencyMs);

    // Secrets never reach a result: differences the policy itself caused (a removed header that
    // an echo service no longer returns) are dropped, values of secret headers replaced.
    const secrets = requestSecrets(o);
    const ops = o.candidate.headers;
    const diffs = cleanDiffs(o.diff.diffs, ops, secrets);
    // Each field counts once per request, however many array positions differ in it.
    const cand = new Map<string, FieldDiff>();
    for (const d of diffs) if (!cand.has(d.field)) cand.set(d.field, d);
    const noise = new Set<string>();
    if (o.noise) {
      g.withBaseline++;
      for (const d of cleanDiffs(o.noise.diffs, o.baselinePolicy?.headers, secrets, policyChangedNames(ops)))
        noise.add(d.field);
    }
    for (const [field, d] of cand) {
      const fc = this.field(g, field);
      if (fc) {
        fc.differences++;
        fc.example = d;
      }
    }
    for (const field of noise) {
      const fc = this.field(g, field);
      if (fc) fc.noise++;
    }

    let outcome: Outcome = 'equal';
    if (cand.size > 0) {
      outcome = 'noise-only';
      for (const field of cand.keys()) {
        if (noise.has(field)) continue;
        const fc = g.fields[field];
        const explained =
          fc !== undefined &&
          verdict(rates(fc.differences, g.compared, fc.noise, g.withBaseline), g.thresholds) === 'noise';
        if (!explained) {
          outcome = 'different';
          break;
        }
      }
    }
    if (outcome === 'equal') g.equal++;
    else if (outcome === 'different') g.different++;
    else g.noiseOnly++;
    this.maybeSample(g, o, outcome, noise, diffs, secrets);
    return outcome;
  }

  private field(g: GroupState, field: string): FieldCounts | undefined {
    let fc = g.fields[field];
    if (!fc) {
      if (Object.keys(g.fields).length >= LIMITS.fieldsPerGroup) {
        g.untrackedFieldDiffs++;
        return undefined;
      }
      fc = g.fields[field] = { differences: 0, noise: 0 };
    }
    return fc;
  }

  private maybeSample(
    g: GroupState,
    o: PairOutcome,
    outcome: Outcome,
    noise: ReadonlySet<string>,
    diffs: readonly FieldDiff[],
    secrets: SecretValues,
  ): void {
    // Two pools: differing pairs, and the rest (noise-only or equal) so the viewer can show both.
    const isDiff = outcome === 'different';
    const pool = g.samples.filter((s) => (s.outcome === 'different') === isDiff);
    const rest = g.samples.filter((s) => (s.outcome === 'different') !== isDiff);
    const full = pool.length >= (isDiff ? LIMITS.differentSamples : LIMITS.otherSamples);
    if (full && (outcome === 'equal' || o.at - g.lastSampleAt < LIMITS.sampleEveryMs)) return;
    g.lastSampleAt = o.at;
    if (full) pool.shift();
    pool.push(this.sample(o, outcome, noise, diffs, secrets));
    g.samples = isDiff ? [...pool, ...rest] : [...rest, ...pool];
  }

  private sample(
    o: PairOutcome,
    outcome: Outcome,
    noise: ReadonlySet<string>,
    diffs: readonly FieldDiff[],
    secrets: SecretValues,
  ): Sample {
    const redact = o.candidate.headers;
    const primary = renderSide(o.primary, redact, secrets);
    const candidate = renderSide(o.candidateResponse, redact, secrets);
    return {
      id: `${Date.now().toString(36)}-${(this.sampleSeq++).toString(36)}`,
      requestId: o.requestId,
      at: new Date(o.at).toISOString(),
      method: o.method,
      path: o.path,
      outcome,
      mode: o.diff.mode,
      primary,
      candidate,
      baseline: o.baselineResponse ? renderSide(o.baselineResponse, redact, secrets) : undefined,
      diffs: diffs.slice(0, 50).map((d) => ({ ...d, noise: noise.has(d.field) })),
      textDiff:
        o.diff.mode === 'text' &&
        primary.kind === 'text' &&
        candidate.kind === 'text' &&
        primary.body !== candidate.body
          ? lineDiff(primary.body, candidate.body, 200)
          : undefined,
    };
  }
}
