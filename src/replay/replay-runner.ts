// Sends replayed requests on schedule: as recorded (`speed`: the gaps between recorded times,
// divided by speed) or at a fixed rate, with at most `concurrency` requests in flight, to the
// target and — for offline comparison — to the candidate and the baseline at the same moment.

import type { ReplayRequest } from './replay-request.js';
import { ReplayTarget, type SendOptions } from './replay-target.js';
import { TargetStats } from './replay-stats.js';
import type { OfflineComparison } from './offline-comparison.js';

export type Pace =
  { readonly kind: 'speed'; readonly speed: number } | { readonly kind: 'rate'; readonly perSecond: number };

export interface RunOptions extends SendOptions {
  readonly to: URL;
  readonly compareTo?: URL;
  readonly baseline?: URL;
  readonly pace: Pace;
  readonly concurrency: number;
  /** Response bytes kept per target for comparison. */
  readonly compareBodyBytes: number;
  readonly comparison?: OfflineComparison;
  /** Called after each request has been answered (or failed) by every target. */
  readonly onDone?: (done: number) => void;
}

export interface RunResult {
  readonly targets: readonly TargetStats[];
  readonly elapsedMs: number;
  /** Requests that started later than scheduled because `concurrency` requests were in flight. */
  readonly late: number;
}

/** When request `i` is due, in ms after the start. */
export function dueAt(reqs: readonly ReplayRequest[], i: number, pace: Pace): number {
  if (pace.kind === 'rate') return (i * 1000) / pace.perSecond;
  return (reqs[i].time - reqs[0].time) / pace.speed;
}

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

export async function runReplay(reqs: readonly ReplayRequest[], o: RunOptions): Promise<RunResult> {
  const primary = new ReplayTarget(o.to, o.concurrency, o);
  const candidate = o.compareTo ? new ReplayTarget(o.compareTo, o.concurrency, o) : undefined;
  const baseline = o.baseline ? new ReplayTarget(o.baseline, o.concurrency, o) : undefined;
  const targets = [primary, candidate, baseline].filter((t) => t !== undefined);
  const stats = targets.map((t) => new TargetStats(t.name));
  const keep = o.comparison ? o.compareBodyBytes : 0;

  let inFlight = 0;
  let done = 0;
  let late = 0;
  let wake: (() => void) | undefined;
  const one = async (req: ReplayRequest, i: number): Promise<void> => {
    // Unique among requests in flight, even when a recording repeats a request id.
    const id = `${i + 1}:${req.requestId ?? 'replay'}`;
    const capture = o.comparison?.begin(id, req.method, req.path);
    const answers = await Promise.all(
      targets.map((t, k) =>
        t.send(req, keep).then(
          (r) => {
            stats[k].ok(r.status, r.latencyMs);
            return r;
          },
          (e: unknown) => {
            stats[k].failed(e);
            return undefined;
          },
        ),
      ),
    );
    if (o.comparison) {
      // Mirrors first, then the primary: the engine compares once every answer is in.
      o.comparison.candidateAnswer(id, answers[1]);
      o.comparison.baselineAnswer(id, answers[2]);
      o.comparison.primary(capture, answers[0]);
    }
  };

  const started = performance.now();
  try {
    for (let i = 0; i < reqs.length; i++) {
      const wait = started + dueAt(reqs, i, o.pace) - performance.now();
      if (wait > 1) await sleep(wait);
      if (inFlight >= o.concurrency) {
        late++;
        while (inFlight >= o.concurrency) await new Promise<void>((ok) => (wake = ok));
      }
      inFlight++;
      void one(reqs[i], i).finally(() => {
        inFlight--;
        done++;
        o.onDone?.(done);
        const w = wake;
        wake = undefined;
        w?.();
      });
    }
    while (inFlight > 0) await new Promise<void>((ok) => (wake = ok));
    const elapsedMs = performance.now() - started;
    await o.comparison?.settle();
    return { targets: stats, elapsedMs, late };
  } finally {
    await Promise.all(targets.map((t) => t.close()));
  }
}
