// Per-mirror counters kept by the shadow writer: what was sampled, sent, completed, failed and
// dropped (by reason), plus a latency histogram. Telemetry reads these at scrape time; the data
// plane only increments numbers. Every counter only ever grows (Prometheus counter semantics).
//
// Accounting, for N requests that reached a route with this mirror:
//   N = skipped + dropped (every reason) + sent + (copies still streaming their body)
// and once those have settled, N = skipped + dropped + sent. Of the sent:
//   sent = completed (by class) + failed (by reason) + (copies waiting for their answer)

export type MirrorDropReason =
  'in_flight_cap' | 'body_limit' | 'body_budget' | 'breaker' | 'method' | 'loop' | 'no_endpoint';
export type MirrorFailReason = 'connect' | 'reset' | 'timeout' | 'client_abort' | 'other';

/** Upper bounds (ms) of the mirror latency histogram: Envoy's default histogram buckets. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

/** Mirror status class used in pairs when the copy got no answer at all. */
export const MIRROR_FAILED_CLASS = 'failed';

export interface MirrorCounters {
  /** Requests that reached the mirror decision (matched a route with this mirror). */
  considered: number;
  /** Not chosen by the percentage/keyed sampling. */
  skipped: number;
  /** Chosen by the sampling (some of these are then dropped by breaker or in-flight cap). */
  sampled: number;
  /** Copies delivered whole to the mirror's connection (or answered/failed before that). */
  sent: number;
  completed: Record<string, number>; // by status class: "2xx"…
  failed: Record<MirrorFailReason, number>;
  dropped: Record<MirrorDropReason, number>;
  inFlight: number;
  latencyMsSum: number;
  latencyCount: number;
  /** Non-cumulative counts per LATENCY_BUCKETS_MS bound; the last slot is +Inf. */
  latencyBuckets: number[];
  /** Primary status class → mirror status class ("failed" when it got no answer) → count. */
  pairs: Record<string, Record<string, number>>;
}

export function newMirrorCounters(): MirrorCounters {
  return {
    considered: 0,
    skipped: 0,
    sampled: 0,
    sent: 0,
    completed: {},
    failed: { connect: 0, reset: 0, timeout: 0, client_abort: 0, other: 0 },
    dropped: {
      in_flight_cap: 0,
      body_limit: 0,
      body_budget: 0,
      breaker: 0,
      method: 0,
      loop: 0,
      no_endpoint: 0,
    },
    inFlight: 0,
    latencyMsSum: 0,
    latencyCount: 0,
    latencyBuckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0),
    pairs: {},
  };
}

export function observeLatency(c: MirrorCounters, ms: number): void {
  c.latencyMsSum += ms;
  c.latencyCount++;
  let i = 0;
  while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
  c.latencyBuckets[i]++;
}

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
