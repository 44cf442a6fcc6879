// The messages between `umbra run --workers N`'s primary and its workers, and the plain forms of
// what crosses the IPC channel: the inputs of a compiled table (resources + build options, so each
// worker rebuilds the very table the primary validated) and a worker's data-plane counters.

import type { Resource } from '../config/resource.js';
import type { ComparisonSnapshot } from '../compare/comparison-engine.js';
import type { CompareOptions } from '../compare/start.js';
import type { Upstreams } from '../proxy/upstreams.js';
import type { DownstreamOptions } from '../proxy/downstream-options.js';
import type { OverloadOptions } from '../proxy/overload-guard.js';
import type { ProcessMetrics } from '../telemetry/telemetry.js';
import type { BuildOptions } from '../translate/build-table.js';

/** A resource without its source's functions: what structured clone can carry. */
export interface PlainResource {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Resource['metadata'];
  readonly spec: unknown;
  readonly status?: unknown;
  readonly source: { readonly file: string; readonly doc: number };
}

/** Everything a worker needs to compile the table the primary published. */
export interface TableInputs {
  readonly resources: readonly PlainResource[];
  readonly options: BuildOptions;
}

/** What a worker is started with (environment variable UMBRA_WORKER_OPTIONS, JSON). */
export interface WorkerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly mirrorBodyBudget: number;
  /** "off", "stdout" or a file path; each worker appends its own lines. */
  readonly accessLog: string;
  readonly accessLogFormat: 'text' | 'json';
  /** Umbra's namespace (telemetry names the source workload with it). */
  readonly namespace: string;
  /** Client-side limits of the worker's listeners (plain data: timeouts, caps, XFF trust…). */
  readonly downstream?: Partial<DownstreamOptions>;
  /** Operational log format of the worker's own lines. */
  readonly logFormat?: 'text' | 'json';
  /** Shadow comparison limits (each worker has its own retained-body budget). */
  readonly compare?: CompareOptions;
  /** Overload guard thresholds (each worker watches its own heap and event loop). */
  readonly overload?: Partial<OverloadOptions>;
}

/** One endpoint's load-balancer state as the admin API shows it. */
export type EndpointSnapshotView = ReturnType<Upstreams['snapshot']>[number];

export type BreakerStateName = 'closed' | 'open' | 'half-open';

/** A worker's counters, summed by the primary for the admin API. */
export interface WorkerStats {
  readonly pid: number;
  /** Version of the table the worker serves. */
  readonly version: number;
  readonly mirrors: readonly (readonly [string, unknown])[];
  readonly breakers: readonly (readonly [string, BreakerStateName])[];
  readonly endpoints: readonly EndpointSnapshotView[];
  /** The worker's Prometheus registry as JSON, merged with aggregateMetrics(). */
  readonly metrics?: ProcessMetrics;
  /** The worker's comparison results, added up by the primary (src/compare/worker-aggregate.ts). */
  readonly compare?: ComparisonSnapshot;
}

export type ToWorker =
  | { readonly type: 'umbra:config'; readonly version: number; readonly inputs: TableInputs }
  | { readonly type: 'umbra:stats'; readonly id: number }
  | { readonly type: 'umbra:stop'; readonly drainMs: number };

export type FromWorker =
  /** Sent once the worker listens for messages: anything sent before could be lost. */
  | { readonly type: 'umbra:hello' }
  | { readonly type: 'umbra:listening'; readonly host: string; readonly port: number }
  | { readonly type: 'umbra:applied'; readonly version: number; readonly error?: string }
  | { readonly type: 'umbra:stats'; readonly id: number; readonly stats: WorkerStats };

export const WORKER_OPTIONS_ENV = 'UMBRA_WORKER_OPTIONS';
/** The worker's slot (0…n-1), kept by its replacement: per-worker files (recordings) keep their names. */
export const WORKER_INDEX_ENV = 'UMBRA_WORKER_INDEX';

export function plainResource(r: Resource): PlainResource {
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    metadata: r.metadata,
    spec: r.spec,
    status: r.status,
    source: { file: r.source.file, doc: r.source.doc },
  };
}

/** Back to a Resource; line numbers stay with the primary, which reports every issue. */
export function fromPlain(p: PlainResource): Resource {
  return { ...p, source: { file: p.source.file, doc: p.source.doc, lineOf: () => undefined } };
}

export function isFromWorker(m: unknown): m is FromWorker {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { type?: unknown }).type === 'string' &&
    (m as { type: string }).type.startsWith('umbra:')
  );
}

/**
 * Adds a worker's counters into a running sum, field by field: numbers add up, nested records
 * recurse, number arrays (histogram buckets) add element-wise. Generic on purpose, so new counters in mirror-stats.ts are summed without a change here.
 */
export function addCounters(into: Record<string, unknown>, from: unknown): void {
  if (typeof from !== 'object' || from === null) return;
  for (const [k, v] of Object.entries(from as Record<string, unknown>)) {
    if (typeof v === 'number') into[k] = ((into[k] as number | undefined) ?? 0) + v;
    else if (Array.isArray(v)) {
      // Histogram buckets: add element by element.
      const sum = (into[k] ??= v.map(() => 0)) as number[];
      v.forEach((x, i) => (sum[i] = (sum[i] ?? 0) + (typeof x === 'number' ? x : 0)));
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const sub = (into[k] ??= {}) as Record<string, unknown>;
      addCounters(sub, v);
    }
  }
}

/** The worst state across workers: one open breaker means copies are being held back. */
export function worstBreaker(a: BreakerStateName | undefined, b: BreakerStateName): BreakerStateName {
  const rank = { closed: 0, 'half-open': 1, open: 2 } as const;
  return a === undefined || rank[b] > rank[a] ? b : a;
}

/** Requests a worker answered as the primary (not copies), from its istio_requests_total. */
export function primaryRequests(metrics: ProcessMetrics | undefined): number {
  let n = 0;
  for (const m of metrics ?? []) {
    if (m.name !== 'istio_requests_total') continue;
    for (const v of m.values) if (v.labels.mirror !== 'true') n += v.value;
  }
  return n;
}
