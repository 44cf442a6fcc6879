// What the data plane reports about itself, in its own vocabulary: one access-log entry per request
// and per copy, the copy's request, and the view of mirror counters and buffer budgets that
// telemetry and the admin read. Defined here, below both, so that telemetry never imports the proxy.

import type { MirrorCounters } from './mirror-stats.js';
import type { MirrorPolicy, Route } from './route-table.js';

export interface AccessLogEntry {
  readonly start: number; // epoch ms
  readonly method: string;
  readonly path: string;
  readonly protocol: string;
  readonly status: number;
  readonly flags: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly upstream: string;
  readonly authority: string;
  readonly requestId: string;
  readonly userAgent: string;
  readonly route: string;
  /** The mirror's name for mirror lines; undefined for the primary. */
  readonly mirror?: string;
}

/** Response flag of a copy abandoned mid-body because it fell behind (counted as dropped, not sent). */
export const MIRROR_OVERFLOW_FLAG = 'MBO';

export interface MirrorRequest {
  readonly method: string;
  /** Path with query, after rewrites. */
  readonly path: string;
  /** Upstream header list of the primary (after route header operations), host included. */
  readonly headers: readonly string[];
  /** The Host the primary was sent with. */
  readonly authority: string;
  readonly requestId: string;
  readonly headersIn: Readonly<Record<string, string | string[] | undefined>>;
}

export interface MirrorLogEntry {
  readonly policy: MirrorPolicy;
  readonly req: MirrorRequest;
  readonly authority: string;
  readonly upstream: string;
  readonly status: number;
  readonly flag: string;
  /** Request body bytes the copy's connection took (less than the body's if it was aborted). */
  readonly bodyBytesSent: number;
  /** Response bytes received from the mirror (read to be counted, then discarded). */
  readonly bytesIn: number;
  readonly durationMs: number;
}

export type MirrorObserver = (e: MirrorLogEntry) => void;

/** Called after each primary request with its log entry, route and cluster. */
export type RequestObserver = (
  e: AccessLogEntry,
  route: Route | undefined,
  cluster: string | undefined,
) => void;

/** Bytes held against a limit (the mirror body budget). */
export interface BufferBudget {
  readonly used: number;
  readonly limit: number;
}

/** The mirror writer as readers see it. */
export interface MirrorStatsSource {
  readonly counters: ReadonlyMap<string, MirrorCounters>;
  breakerState(name: string): 'closed' | 'open' | 'half-open';
  observer?: MirrorObserver;
}

/** A data plane telemetry can observe: hooks are chained by assignment. */
export interface ObservedDataPlane {
  observer?: RequestObserver;
  readonly mirrors: MirrorStatsSource;
  readonly budget: BufferBudget;
}
