// The shadow writer: sends a copy of a request to a mirror cluster, fire-and-forget. Nothing here
// is awaited by the primary; the copy has its own timeout, in-flight cap and breaker, and its
// response is read only to count it (DESIGN.md §1 "Fire-and-forget").

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { MirrorPolicy, RouteTable } from '../model/route-table.js';
import { shadowAuthority } from '../model/shadow-authority.js';
import { PPM_ALL } from '../model/percent.js';
import { MirrorOverflowError } from './body-tee.js';
import { StratifiedSampler } from './mirror-sampler.js';
import { applyHeaderOps, withHeader } from './header-ops.js';
import { newMirrorCounters, statusClass, type MirrorCounters, type MirrorFailReason } from './mirror-stats.js';
import { hash32, type Upstreams } from './upstreams.js';

/** Marks a copy so that another Umbra never mirrors it again (loop protection). */
export const MIRROR_MARKER = 'x-umbra-mirror';

const DEFAULT_BREAKER = { consecutiveFailures: 5, cooldownMs: 5_000 };

interface BreakerState {
  failures: number;
  openUntil: number;
  probing: boolean;
}

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

/** Tells the mirror what the primary answered, to pair status classes. */
export interface MirrorPairing {
  primaryStatus?: number;
  mirrorStatus?: number;
  counters: MirrorCounters;
}

export interface MirrorLogEntry {
  readonly policy: MirrorPolicy;
  readonly req: MirrorRequest;
  readonly authority: string;
  readonly upstream: string;
  readonly status: number;
  readonly flag: string;
  readonly bytesIn: number;
  readonly durationMs: number;
}

export type MirrorObserver = (e: MirrorLogEntry) => void;

export interface MirrorComparisonSink {
  /** Called once the mirror's response is complete (only for policies with compare set). */
  mirrorResponse(policy: MirrorPolicy, requestId: string, status: number, headers: Record<string, string | string[] | undefined>, body: Buffer | null, truncated: boolean): void;
}

function failReason(err: unknown): MirrorFailReason {
  const code = (err as { code?: string })?.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return 'connect';
  if (code === 'UMBRA_MIRROR_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_ABORTED') return 'reset';
  return 'other';
}

class MirrorTimeoutError extends Error {
  readonly code = 'UMBRA_MIRROR_TIMEOUT';
}

function overflowOf(err: unknown): MirrorOverflowError | undefined {
  let e: unknown = err;
  for (let i = 0; i < 3 && e; i++) {
    if (e instanceof MirrorOverflowError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export class MirrorWriter {
  readonly counters = new Map<string, MirrorCounters>();
  private readonly breakers = new Map<string, BreakerState>();
  private readonly samplers = new WeakMap<MirrorPolicy, StratifiedSampler>();
  observer?: MirrorObserver;
  comparison?: MirrorComparisonSink;

  constructor(private readonly upstreams: Upstreams) {}

  countersFor(name: string): MirrorCounters {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = newMirrorCounters()));
    return c;
  }

  /**
   * Decides whether this request is copied to `policy`'s cluster. Returns true when a copy will be
   * sent, so the caller can give it a body branch. Counting here keeps sent + dropped + skipped = N.
   */
  admit(policy: MirrorPolicy, method: string, isCopy: boolean, headersIn: Readonly<Record<string, string | string[] | undefined>>): boolean {
    const c = this.countersFor(policy.name);
    c.considered++;
    if (isCopy) {
      c.dropped.loop++;
      return false;
    }
    if (policy.methods && !policy.methods.has(method)) {
      c.dropped.method++;
      return false;
    }
    if (!this.sample(policy, headersIn)) {
      c.skipped++;
      return false;
    }
    c.sampled++;
    const br = this.breakers.get(policy.name);
    if (br && br.openUntil > 0) {
      // Open: drop until the cool-down ends, then let one probe through (half-open).
      if (Date.now() < br.openUntil || br.probing) {
        c.dropped.breaker++;
        return false;
      }
      br.probing = true;
    }
    if (c.inFlight >= policy.maxInFlight) {
      c.dropped.in_flight_cap++;
      return false;
    }
    return true;
  }

  private sample(policy: MirrorPolicy, headersIn: Readonly<Record<string, string | string[] | undefined>>): boolean {
    if (policy.ppm >= PPM_ALL) return true;
    const key = policy.sampleKey;
    if (key) {
      const value = key.header ? headerString(headersIn[key.header.toLowerCase()]) : cookieValue(headersIn['cookie'], key.cookie ?? '');
      // Keyed sampling: the same key is in or out on every replica and every run.
      if (value !== undefined) return hash32(`${policy.name}|${value}`) % PPM_ALL < policy.ppm;
    }
    // Per policy object, so a reload starts afresh and two routes never share one stream of draws.
    let s = this.samplers.get(policy);
    if (!s) this.samplers.set(policy, (s = new StratifiedSampler(policy.ppm)));
    return s.take();
  }

  /** Sends the copy. Never throws; never awaited by the primary. */
  send(table: RouteTable, policy: MirrorPolicy, req: MirrorRequest, body: Readable | null, pairing: MirrorPairing): void {
    const c = pairing.counters;
    const cluster = table.clusters.get(policy.cluster);
    const endpoint = cluster && this.upstreams.pick(cluster, undefined);
    if (!cluster || !endpoint) {
      c.failed.no_endpoint++;
      body?.destroy();
      this.breakerResult(policy, false);
      return;
    }
    c.sent++;
    c.inFlight++;
    const authority = shadowAuthority(policy.authority, req.authority);
    let headers = withHeader(req.headers, 'host', authority);
    headers.push(MIRROR_MARKER, policy.name);
    headers = applyHeaderOps(headers, policy.headers);
    const started = performance.now();
    let status = 0;
    let bytesIn = 0;
    let finished = false;
    let controller: Dispatcher.DispatchController | undefined;
    let timedOut = false;
    const compare = policy.compare && this.comparison;
    let respHeaders: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    let truncated = false;

    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      c.inFlight--;
      const durationMs = performance.now() - started;
      let flag = '-';
      if (err) {
        const overflow = overflowOf(err);
        if (overflow) {
          // The copy was abandoned mid-body: it counts as dropped, not as sent.
          c.sent--;
          c.dropped[overflow.reason]++;
          flag = 'MBO';
        } else {
          const reason = timedOut ? 'timeout' : failReason(err);
          c.failed[reason]++;
          flag = reason === 'timeout' ? 'UT' : reason === 'connect' ? 'UF' : 'UC';
          this.breakerResult(policy, false);
        }
        body?.destroy();
      } else {
        const cls = statusClass(status);
        c.completed[cls] = (c.completed[cls] ?? 0) + 1;
        c.latencyMsSum += durationMs;
        c.latencyCount++;
        const slow = policy.breaker?.latencyMs !== undefined && durationMs > policy.breaker.latencyMs;
        this.breakerResult(policy, status < 500 && !slow);
        pairing.mirrorStatus = status;
        recordPair(pairing);
        if (compare) this.comparison!.mirrorResponse(policy, req.requestId, status, respHeaders, Buffer.concat(chunks), truncated);
      }
      this.observer?.({ policy, req, authority, upstream: `${endpoint.address}:${endpoint.port}`, status, flag, bytesIn, durationMs });
    };

    const timer = setTimeout(() => {
      timedOut = true;
      const e = new MirrorTimeoutError(`mirror timed out after ${policy.timeoutMs} ms`);
      if (controller) controller.abort(e);
      else finish(e);
    }, policy.timeoutMs);
    timer.unref();

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctl) {
        controller = ctl;
        if (finished) ctl.abort(new MirrorTimeoutError('mirror timed out before it was sent'));
      },
      onResponseStart(_ctl, statusCode, h) {
        status = statusCode;
        if (compare) respHeaders = h;
      },
      onResponseData(_ctl, chunk) {
        bytesIn += chunk.length;
        if (compare) {
          if (bytesIn <= policy.compare!.maxBodyBytes) chunks.push(chunk);
          else truncated = true;
        }
      },
      onResponseEnd() {
        finish();
      },
      onResponseError(_ctl, err) {
        finish(err);
      },
    };
    try {
      this.upstreams.pool(cluster, endpoint).dispatch({ method: req.method, path: req.path, headers, body, blocking: false }, handler);
    } catch (err) {
      finish(err);
    }
  }

  private breakerResult(policy: MirrorPolicy, ok: boolean): void {
    const settings = policy.breaker ?? DEFAULT_BREAKER;
    let br = this.breakers.get(policy.name);
    if (ok) {
      if (br) {
        br.failures = 0;
        br.openUntil = 0;
        br.probing = false;
      }
      return;
    }
    if (!br) this.breakers.set(policy.name, (br = { failures: 0, openUntil: 0, probing: false }));
    br.failures++;
    br.probing = false;
    if (br.failures >= settings.consecutiveFailures) br.openUntil = Date.now() + settings.cooldownMs;
  }

  breakerState(name: string): 'closed' | 'open' | 'half-open' {
    const br = this.breakers.get(name);
    if (!br || br.openUntil === 0) return 'closed';
    return Date.now() < br.openUntil ? 'open' : 'half-open';
  }
}

function recordPair(p: MirrorPairing): void {
  if (p.primaryStatus === undefined || p.mirrorStatus === undefined) return;
  const a = statusClass(p.primaryStatus);
  const b = statusClass(p.mirrorStatus);
  const row = (p.counters.pairs[a] ??= {});
  row[b] = (row[b] ?? 0) + 1;
}

/** Called by the primary when its status is known. */
export function primaryStatusKnown(p: MirrorPairing, status: number): void {
  p.primaryStatus = status;
  recordPair(p);
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const h = headerString(header);
  if (!h || !name) return undefined;
  for (const part of h.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
