// The benchmark's cases (the A–F plus a fixed-rate run G) and the shapes of what is measured.

import type { BackendStats } from './backend.js';
import type { OpenLoopResult } from './open-loop.js';
import type { ProfileSummary } from './profile.js';
import type { MirrorCountersJson } from './umbra.js';
import type { LoadResult } from './wrk.js';

export type CaseId = 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G';
export type V2Mode = 'fast' | 'slow' | 'hung' | 'down';
/**
 * "umbra" is one worker and "nginx" one worker with keep-alive to both upstreams: the targets'
 * pair. For information: "umbra-2w" is `--workers 2`; "nginx-docs" mirrors as nginx's documentation
 * example does (HTTP/1.0, a new connection per copy); "node-floor" is node's http server + undici
 * and nothing else (bench/node-floor.ts), the least any Node.js proxy costs.
 */
export type ContenderId = 'direct' | 'nginx' | 'nginx-docs' | 'node-floor' | 'umbra' | 'umbra-2w';

export interface CaseDef {
  readonly id: CaseId;
  readonly title: string;
  readonly v2?: V2Mode;
  /** Fixed-rate (open-loop) instead of wrk's closed loop. */
  readonly fixedRate?: boolean;
}

export const CASES: readonly CaseDef[] = [
  { id: 'A', title: 'direct to v1, no proxy' },
  { id: 'B', title: 'proxy, no mirror' },
  { id: 'C', title: 'mirror to a fast v2', v2: 'fast' },
  { id: 'D', title: 'mirror to a v2 that answers after 200 ms', v2: 'slow' },
  { id: 'E', title: 'mirror to a v2 that is down', v2: 'down' },
  { id: 'F', title: 'mirror to a v2 that accepts and never answers', v2: 'hung' },
  { id: 'G', title: 'fixed rate, mirror to a fast v2', v2: 'fast', fixedRate: true },
];

export interface Sample {
  readonly case: CaseId;
  readonly contender: ContenderId;
  readonly round: number;
  readonly load: LoadResult | OpenLoopResult;
  /** CPU time of the contender's processes during the measured window, per 1000 responses. */
  readonly cpuMsPer1k: number | null;
  readonly peakRssMiB: number | null;
  /** The machine's 1-minute load average when the measured window ended (other processes count). */
  readonly loadavg1?: number;
  readonly v1: BackendStats;
  readonly v2?: BackendStats;
  /** What v2 saw during the warm-up (a hung v2 receives its copies then, before the cap fills). */
  readonly v2Warmup?: BackendStats;
  readonly mirrors?: MirrorCountersJson[];
}

export interface Summary {
  readonly case: CaseId;
  readonly contender: ContenderId;
  readonly rounds: number;
  /** Medians over rounds. */
  readonly rps: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly cpuMsPer1k: number | null;
  /** Sum over rounds. */
  readonly errors: number;
  readonly requests: number;
  /** Highest over rounds. */
  readonly peakRssMiB: number | null;
  readonly mirrorCheck?: MirrorCheck;
}

export interface MirrorCheck {
  /** Requests v2 received during the measured windows, and the primaries answered. */
  readonly v2Requests: number;
  /** Copies v2 received during the warm-ups. */
  readonly v2WarmupRequests: number;
  readonly primaries: number;
  readonly hosts: Record<string, number>;
  /** Umbra's own mirror counters (summed over rounds): sent, dropped and failed by reason. */
  readonly umbra?: { sent: number; dropped: Record<string, number>; failed: Record<string, number> };
  readonly ok: boolean;
  readonly note: string;
}

export interface Target {
  readonly id: string;
  readonly text: string;
  readonly met: boolean | null;
  readonly measured: string;
  readonly explanation?: string;
}

export interface Results {
  readonly date: string;
  readonly mode: 'quick' | 'full';
  readonly settings: Record<string, unknown>;
  readonly machine: Record<string, unknown>;
  readonly samples: Sample[];
  readonly summaries: Summary[];
  readonly ratios: Record<string, number | null>;
  readonly targets: Target[];
  readonly profiles?: Record<string, ProfileSummary>;
  readonly notes: string[];
}
