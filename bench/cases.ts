// The benchmark's cases (the issue's A–F, a fixed-rate run G, and H: issue 9's comparison on vs off)
// and the shapes of what is measured.

import type { BackendStats } from './backend.js';
import type { OpenLoopResult } from './open-loop.js';
import type { ProfileSummary } from './profile.js';
import type { MirrorCountersJson } from './umbra.js';
import type { LoadResult } from './wrk.js';

export type BaseCaseId = 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | 'G' | 'H';
/** The cases also run against realistic backends: no mirror, fast, slow and hung mirror. */
export type RealisticCaseId = 'B' | 'C' | 'D' | 'F';
/**
 * Backends behind the proxies: "minimal" is the raw responder (bench/backend.ts) that costs next to
 * nothing; "node" answers the same from node's http server, as real Node.js services are; "httpbin"
 * is the seed's own workload (python3-httpbin under one sync gunicorn worker, as the seed's
 * Deployment runs it) as v1 and as the fast v2 (slow and hung v2s are node backends there).
 */
export type BackendKind = 'minimal' | 'node' | 'httpbin' | H2Kind;
/**
 * The HTTP/2 cases (issue 14): clients speak h2c with prior knowledge (h2load); "h2c" GETs the JSON,
 * "grpc" POSTs a unary gRPC call. Backends are bench/h2-backend.ts: Umbra dials them over h2c (a
 * Service port named http2 / grpc); nginx proxies h2c to their HTTP/1.1 port (proxy_pass cannot speak
 * HTTP/2) and gRPC with grpc_pass over h2c.
 */
export type H2Kind = 'h2c' | 'grpc';
export const H2_KINDS: readonly H2Kind[] = ['h2c', 'grpc'];
export const isH2Kind = (k: BackendKind | undefined): k is H2Kind => k === 'h2c' || k === 'grpc';
export type CaseId =
  BaseCaseId | `${RealisticCaseId}-node` | `${RealisticCaseId}-httpbin` | `${RealisticCaseId}-${H2Kind}`;
export type V2Mode = 'fast' | 'slow' | 'hung' | 'down';
/**
 * "umbra" is one worker and "nginx" one worker with keep-alive to both upstreams: the targets'
 * pair. For information: "umbra-2w" is `--workers 2`; "nginx-docs" mirrors as nginx's documentation
 * example does (HTTP/1.0, a new connection per copy); "node-floor" is node's http server + undici
 * and nothing else (bench/node-floor.ts), the least any Node.js proxy costs. H pits Umbra against
 * itself (nginx compares nothing): the same baseline + candidate mirrors with `compare.enabled`
 * false and true.
 */
export type ContenderId =
  | 'direct'
  | 'nginx'
  | 'nginx-docs'
  | 'node-floor'
  | 'umbra'
  | 'umbra-2w'
  | 'umbra-compare-off'
  | 'umbra-compare-on';

export interface CaseDef {
  readonly id: CaseId;
  readonly title: string;
  /** Default "minimal". */
  readonly backend?: BackendKind;
  readonly v2?: V2Mode;
  /** Fixed-rate (open-loop) instead of wrk's closed loop. */
  readonly fixedRate?: boolean;
  /** Comparison off vs on; after the fixed-rate window, a closed-loop one under a small budget. */
  readonly compare?: boolean;
}

export const CASES: readonly CaseDef[] = [
  { id: 'A', title: 'direct to v1, no proxy' },
  { id: 'B', title: 'proxy, no mirror' },
  { id: 'C', title: 'mirror to a fast v2', v2: 'fast' },
  { id: 'D', title: 'mirror to a v2 that answers after 200 ms', v2: 'slow' },
  { id: 'E', title: 'mirror to a v2 that is down', v2: 'down' },
  { id: 'F', title: 'mirror to a v2 that accepts and never answers', v2: 'hung' },
  { id: 'G', title: 'fixed rate, mirror to a fast v2', v2: 'fast', fixedRate: true },
  {
    id: 'H',
    title: 'fixed rate, baseline + candidate mirrors, comparison off vs on',
    v2: 'fast',
    fixedRate: true,
    compare: true,
  },
  ...(['node', 'httpbin', 'h2c', 'grpc'] as const).flatMap((backend): CaseDef[] => [
    { id: `B-${backend}`, title: `proxy, no mirror (${backend} backends)`, backend },
    { id: `C-${backend}`, title: `mirror to a fast v2 (${backend} backends)`, v2: 'fast', backend },
    {
      id: `D-${backend}`,
      title: `mirror to a v2 that answers after 200 ms (${backend} v1)`,
      v2: 'slow',
      backend,
    },
    { id: `F-${backend}`, title: `mirror to a v2 that never answers (${backend} v1)`, v2: 'hung', backend },
  ]),
];

/** One contender's resident memory: after start-up with the seed's mirror, and after a fixed load. */
export interface FootprintSample {
  readonly contender: ContenderId;
  readonly round: number;
  /** RSS 1 s after the contender answered ready (summed over its processes). */
  readonly restMiB: number;
  /** RSS right after `requests` mirrored requests at `inFlight` concurrent (and VmHWM over both). */
  readonly afterMiB: number;
  readonly peakMiB: number;
  readonly requests: number;
  readonly inFlight: number;
  readonly rps: number;
  readonly cpuMsPer1k: number;
}

/** Case H's closed-loop window and what Umbra's /compare/report said after it. */
export interface CompareSample {
  readonly load: LoadResult;
  readonly cpuMsPer1k: number | null;
  /** VmHWM after the closed-loop window (the process's whole life, both windows). */
  readonly peakRssMiB: number | null;
  readonly budgetBytes: number;
  /** The retained-body high-water mark since the process started (the engine's own peak). */
  readonly peakRetainedBytes: number;
  /** Totals since the process started (warm-ups included). */
  readonly begun: number;
  readonly compared: number;
  readonly hashOnly: number;
  /** What the fixed-rate window alone compared, and how many of its responses only by hash. */
  readonly fixedRate: { readonly compared: number; readonly hashOnly: number };
  readonly unpaired: Record<string, number>;
  /** Fields the report names as real differences (v2 answers another "service"). */
  readonly reported: string[];
}

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
  readonly compare?: CompareSample;
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
  /** H: medians of the closed-loop window; peaks and budget the highest, counts summed over rounds. */
  readonly compare?: {
    readonly rps: number;
    readonly p99: number | null;
    readonly cpuMsPer1k: number | null;
    readonly peakRssMiB: number | null;
    readonly budgetBytes: number;
    readonly peakRetainedBytes: number;
    readonly compared: number;
    readonly hashOnly: number;
    readonly fixedRate: { readonly compared: number; readonly hashOnly: number };
    readonly reported: string[];
  };
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
  /** partial: a subset (--only), written beside the raw results, never as latest.md. */
  readonly mode: 'quick' | 'partial' | 'full';
  readonly settings: Record<string, unknown>;
  readonly machine: Record<string, unknown>;
  readonly samples: Sample[];
  readonly summaries: Summary[];
  readonly ratios: Record<string, number | null>;
  readonly targets: Target[];
  readonly profiles?: Record<string, ProfileSummary>;
  readonly footprint?: FootprintSample[];
  readonly notes: string[];
}
