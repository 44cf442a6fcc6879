// Per-mirror counters kept by the shadow writer: what was sampled, sent, completed, failed and
// dropped (by reason). Telemetry exporters read these; the data plane only increments numbers.

export type MirrorDropReason = 'in_flight_cap' | 'body_limit' | 'body_budget' | 'breaker' | 'method' | 'loop';
export type MirrorFailReason = 'connect' | 'reset' | 'timeout' | 'no_endpoint' | 'other';

export interface MirrorCounters {
  /** Requests that reached the mirror decision (matched a route with this mirror). */
  considered: number;
  /** Not chosen by the percentage/keyed sampling. */
  skipped: number;
  sampled: number;
  sent: number;
  completed: Record<string, number>; // by status class: "2xx"…
  failed: Record<MirrorFailReason, number>;
  dropped: Record<MirrorDropReason, number>;
  inFlight: number;
  latencyMsSum: number;
  latencyCount: number;
  /** Primary status class → mirror status class → count, for requests that were mirrored. */
  pairs: Record<string, Record<string, number>>;
}

export function newMirrorCounters(): MirrorCounters {
  return {
    considered: 0,
    skipped: 0,
    sampled: 0,
    sent: 0,
    completed: {},
    failed: { connect: 0, reset: 0, timeout: 0, no_endpoint: 0, other: 0 },
    dropped: { in_flight_cap: 0, body_limit: 0, body_budget: 0, breaker: 0, method: 0, loop: 0 },
    inFlight: 0,
    latencyMsSum: 0,
    latencyCount: 0,
    pairs: {},
  };
}

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
