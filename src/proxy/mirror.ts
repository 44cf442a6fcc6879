// The shadow writer: sends a copy of a request to a mirror cluster, fire-and-forget. Nothing here
// is awaited by the primary; the copy has its own timeout, in-flight cap and breaker, and its
// response is read only to count it (docs/architecture.md, "Semantics the code relies on").

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { MirrorPolicy, RouteTable } from '../model/route-table.js';
import { shadowAuthority } from '../model/shadow-authority.js';
import { PPM_ALL } from '../model/percent.js';
import {
  bodyBytesTaken,
  MirrorBodyBudget,
  MirrorOverflowError,
  releaseBody,
  tapBody,
  type BodyTap,
} from './body-tee.js';
import { StratifiedSampler } from './mirror-sampler.js';
import {
  MIRROR_FAILED_CLASS,
  newMirrorCounters,
  observeLatency,
  statusClass,
  type MirrorCounters,
  type MirrorFailReason,
} from '../model/mirror-stats.js';
import type { Upstreams } from './upstreams.js';
import { hashKey } from '../model/consistent-hash.js';
import { MIRROR_MARKER, MIRROR_PROOF, MirrorMarker } from './mirror-marker.js';
import { classifyUpstreamError } from './upstream-errors.js';

export { MIRROR_MARKER } from './mirror-marker.js';
import {
  MIRROR_OVERFLOW_FLAG,
  type MirrorLogEntry,
  type MirrorObserver,
  type MirrorRequest,
} from '../model/data-plane-events.js';

export { MIRROR_OVERFLOW_FLAG };
export type { MirrorLogEntry, MirrorObserver, MirrorRequest };

/** For policies built by hand (tests); translation always sets a breaker (MirrorDefaults.breaker). */
const DEFAULT_BREAKER = { consecutiveFailures: 5, cooldownMs: 10_000 };

interface BreakerState {
  failures: number;
  openUntil: number;
  probing: boolean;
}

/** Tells the mirror what the primary answered, to pair status classes ("is v2 safe?"). */
export interface MirrorPairing {
  primaryClass?: string;
  /** "2xx"… or "failed" when the copy got no answer; unset for copies that were dropped. */
  mirrorClass?: string;
  counters: MirrorCounters;
}

export interface MirrorComparisonSink {
  /** Called once the mirror's response is complete (only for policies with compare set). */
  mirrorResponse(
    policy: MirrorPolicy,
    requestId: string,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer | null,
    truncated: boolean,
  ): void;
}

/** The first error along the `cause` chain that carries a code (undici may wrap a body stream's error). */
function coded(err: unknown): unknown {
  let e: unknown = err;
  for (let i = 0; i < 3 && e; i++) {
    if (typeof (e as { code?: unknown }).code === 'string') return e;
    e = (e as { cause?: unknown }).cause;
  }
  return err;
}

/**
 * Why a copy failed, by the same table as a primary's failure (upstream-errors.ts): a connect or
 * TLS failure is `connect`, a timeout `timeout`, the client's own abort `client_abort`, a reset
 * `reset`, a malformed response `other`.
 */
function failReason(err: unknown): MirrorFailReason {
  const e = coded(err);
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'UMBRA_MIRROR_TIMEOUT') return 'timeout';
  switch (classifyUpstreamError(e).flag) {
    case 'DC':
      return 'client_abort';
    case 'UF':
      return 'connect';
    case 'UT':
      return 'timeout';
    case 'UC':
      return 'reset';
    default:
      return 'other';
  }
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

/** Names the copy must not carry from the primary: its own Host, a forged marker, and the policy's removals. */
const copyDropSets = new WeakMap<MirrorPolicy, ReadonlySet<string>>();
function copyDropSet(policy: MirrorPolicy): ReadonlySet<string> {
  let s = copyDropSets.get(policy);
  if (!s) {
    const h = policy.headers;
    copyDropSets.set(
      policy,
      (s = new Set([
        'host',
        MIRROR_MARKER,
        MIRROR_PROOF,
        ...(h?.remove ?? []),
        ...(h?.set ?? []).map(([n]) => n),
      ])),
    );
  }
  return s;
}

/**
 * The copy's header list in one pass: the primary's headers less the dropped ones, the copy's Host,
 * the policy's set/add, and last the marker — so no policy can remove it (loop protection).
 */
export function copyHeaders(
  primary: readonly string[],
  authority: string,
  policy: MirrorPolicy,
  proof?: string,
): string[] {
  const drop = copyDropSet(policy);
  const out: string[] = [];
  for (let i = 0; i < primary.length; i += 2) if (!drop.has(primary[i])) out.push(primary[i], primary[i + 1]);
  out.push('host', authority);
  const h = policy.headers;
  const mine = (n: string) => n === 'host' || n === MIRROR_MARKER || n === MIRROR_PROOF;
  if (h?.set) for (const [n, v] of h.set) if (!mine(n)) out.push(n, v);
  if (h?.add) for (const [n, v] of h.add) if (!mine(n)) out.push(n, v);
  out.push(MIRROR_MARKER, policy.name);
  if (proof !== undefined) out.push(MIRROR_PROOF, proof);
  return out;
}

export class MirrorWriter {
  readonly counters = new Map<string, MirrorCounters>();
  /** Body bytes buffered per mirror (MirrorPolicy totalBodyBufferBytes); outlives reloads like the counters. */
  private readonly budgets = new Map<string, MirrorBodyBudget>();
  private readonly breakers = new Map<string, BreakerState>();
  private readonly samplers = new WeakMap<MirrorPolicy, StratifiedSampler>();
  observer?: MirrorObserver;
  comparison?: MirrorComparisonSink;

  /**
   * Where an admitted copy leaves Umbra (recording hooks in here): called once per copy, right
   * before it is dispatched, with its request and exact header list. Return a tap to see its body
   * chunks as the copy is given them (never read the copy's stream itself: that would take them).
   */
  onCopy?: (policy: MirrorPolicy, req: MirrorRequest, headers: readonly string[]) => BodyTap | undefined;
  /** Refuses new copies when set and true (the overload guard's hook); counted as in_flight_cap. */
  refuseCopies?: () => boolean;

  constructor(
    private readonly upstreams: Upstreams,
    readonly marker: MirrorMarker = new MirrorMarker(),
  ) {}

  countersFor(name: string): MirrorCounters {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = newMirrorCounters()));
    return c;
  }

  /**
   * Decides whether this request is copied to `policy`'s cluster. Returns true when a copy will be
   * sent, so the caller can give it a body branch. Counting here keeps sent + dropped + skipped = N.
   */
  admit(
    policy: MirrorPolicy,
    method: string,
    isCopy: boolean,
    headersIn: Readonly<Record<string, string | string[] | undefined>>,
  ): boolean {
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
    const open = br !== undefined && br.openUntil > 0;
    // Open: drop until the cool-down ends, then let one probe through (half-open).
    if (open && (br.probing || Date.now() < br.openUntil)) {
      c.dropped.breaker++;
      return false;
    }
    if (c.inFlight >= policy.maxInFlight || this.refuseCopies?.() === true) {
      c.dropped.in_flight_cap++;
      return false;
    }
    if (open) br.probing = true;
    return true;
  }

  /** The budget all copies to this mirror share; its limit follows the newest policy. */
  budgetFor(policy: MirrorPolicy): MirrorBodyBudget {
    let b = this.budgets.get(policy.name);
    if (!b) this.budgets.set(policy.name, (b = new MirrorBodyBudget(policy.totalBodyBufferBytes)));
    else b.limit = policy.totalBodyBufferBytes;
    return b;
  }

  private sample(
    policy: MirrorPolicy,
    headersIn: Readonly<Record<string, string | string[] | undefined>>,
  ): boolean {
    if (policy.ppm >= PPM_ALL) return true;
    const key = policy.sampleKey;
    if (key) {
      const value = key.header
        ? headerString(headersIn[key.header])
        : cookieValue(headersIn['cookie'], key.cookie ?? '');
      // Keyed sampling: the same key is in or out on every replica and every run.
      if (value !== undefined)
        // FNV-1a plus MurmurHash3's finaliser: neighbouring keys ("user-17", "user-18") land far apart.
        return (hashKey(`${policy.name}|${value}`) / 0x1_0000_0000) * PPM_ALL < policy.ppm;
    }
    // Per policy object, so a reload starts afresh and two routes never share one stream of draws.
    let s = this.samplers.get(policy);
    if (!s) this.samplers.set(policy, (s = new StratifiedSampler(policy.ppm)));
    return s.take();
  }

  /** Sends the copy. Never throws; never awaited by the primary. */
  send(
    table: RouteTable,
    policy: MirrorPolicy,
    req: MirrorRequest,
    body: Readable | null,
    pairing: MirrorPairing,
    /** Whether the client's body has yet to begin (the copy's head then goes out alone, first). */
    bodyWaiting?: () => boolean,
  ): void {
    const c = pairing.counters;
    const cluster = table.clusters.get(policy.cluster);
    const endpoint = cluster && this.upstreams.pick(cluster, undefined);
    if (!cluster || !endpoint) {
      // Nothing left Umbra: a drop, and no verdict on the mirror's health.
      c.dropped.no_endpoint++;
      releaseBody(body);
      this.releaseProbe(policy);
      return;
    }
    c.inFlight++;
    const ep = this.upstreams.state(cluster, endpoint);
    ep.mirrorInFlight++;
    // `sent` counts a copy once its whole body has been taken by the connection (or once it ended
    // otherwise) — never one abandoned mid-body, which is a drop — so the counter only grows.
    let counted = false;
    const countSent = () => {
      if (counted) return;
      counted = true;
      c.sent++;
    };
    if (body) body.once('end', countSent);
    else countSent();
    const authority = shadowAuthority(policy.authority, req.authority);
    const headers = copyHeaders(req.headers, authority, policy, this.marker.proof());
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
      ep.mirrorInFlight--;
      const durationMs = performance.now() - started;
      let flag = '-';
      if (err) {
        const overflow = overflowOf(err);
        if (overflow && !counted) {
          // The copy was abandoned mid-body (it fell behind): a drop, never a truncated copy.
          c.dropped[overflow.reason]++;
          flag = MIRROR_OVERFLOW_FLAG;
          this.releaseProbe(policy);
        } else {
          const reason = timedOut ? 'timeout' : failReason(err);
          countSent();
          c.failed[reason]++;
          flag =
            reason === 'timeout'
              ? 'UT'
              : reason === 'connect'
                ? 'UF'
                : reason === 'client_abort'
                  ? 'DC'
                  : 'UC';
          // A client that gave up on its upload says nothing about the mirror's health.
          if (reason === 'client_abort') this.releaseProbe(policy);
          else this.breakerResult(policy, false);
          pairing.mirrorClass = MIRROR_FAILED_CLASS;
          recordPair(pairing);
        }
      } else {
        countSent();
        const cls = statusClass(status);
        c.completed[cls] = (c.completed[cls] ?? 0) + 1;
        observeLatency(c, durationMs);
        const slow = policy.breaker?.latencyMs !== undefined && durationMs > policy.breaker.latencyMs;
        this.breakerResult(policy, status < 500 && !slow);
        pairing.mirrorClass = cls;
        recordPair(pairing);
        if (compare)
          this.comparison!.mirrorResponse(
            policy,
            req.requestId,
            status,
            respHeaders,
            Buffer.concat(chunks),
            truncated,
          );
      }
      const bodyBytesSent = bodyBytesTaken(body);
      // Gives the copy's body bytes back to the budgets (its socket is done with them now).
      releaseBody(body);
      this.observer?.({
        policy,
        req,
        authority,
        upstream: ep.hostPort,
        status,
        flag,
        bodyBytesSent,
        bytesIn,
        durationMs,
      });
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
      onResponseEnd(_ctl, trailers) {
        // gRPC puts its status in trailers: compared with the headers (grpc-status, grpc-message).
        if (compare && trailers && Object.keys(trailers).length > 0)
          respHeaders = { ...respHeaders, ...trailers };
        finish();
      },
      onResponseError(_ctl, err) {
        finish(err);
      },
    };
    try {
      // servername: a DestinationRule's tls.sni; otherwise undici sends the copy's Host (as Istio's auto SNI).
      const options = {
        method: req.method,
        path: req.path,
        headers,
        body,
        blocking: false,
        servername: cluster.tls?.sni,
      } as Dispatcher.DispatchOptions;
      const tap = this.onCopy?.(policy, req, headers);
      if (tap && body) tapBody(body, tap);
      // The mirror's own pool: a copy never takes a connection its primary needs.
      this.upstreams
        .dispatcher(cluster, endpoint, true, req.h2 === true, body ? bodyWaiting : undefined)
        .dispatch(options, handler);
    } catch (err) {
      finish(err);
    }
  }

  /** A probe that ended without a verdict (dropped, or the client went away): let the next one try. */
  private releaseProbe(policy: MirrorPolicy): void {
    const br = this.breakers.get(policy.name);
    if (br) br.probing = false;
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

/** Counts the pair once both sides are known, whichever finishes last. */
function recordPair(p: MirrorPairing): void {
  if (p.primaryClass === undefined || p.mirrorClass === undefined) return;
  const row = (p.counters.pairs[p.primaryClass] ??= {});
  row[p.mirrorClass] = (row[p.mirrorClass] ?? 0) + 1;
}

/** Called by the primary when its status is known. */
export function primaryStatusKnown(p: MirrorPairing, status: number): void {
  if (p.primaryClass !== undefined) return;
  p.primaryClass = statusClass(status);
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
