// The life of one request (docs/request-lifecycle.md): one object owns it from head to access-log
// line — Envoy's router filter split into a downstream request, upstream attempts and shadows. It
// routes, answers locally or forwards (attempts one at a time, retries, timeouts), starts the copies,
// and ends in exactly one place, `end`, which settles the client's body, detaches the tee, writes the
// one access-log line and settles the counters. Nothing throws out of it.

import type { Readable } from 'node:stream';
import type {
  Cluster,
  Endpoint,
  ForwardAction,
  HeaderOps,
  MirrorPolicy,
  Route,
  RouteTable,
  WeightedBackend,
} from '../model/route-table.js';
import { sampled } from '../model/percent.js';
import type { AccessLogEntry } from './access-log.js';
import { BodyTee } from './body-tee.js';
import { corsDecision } from './cors.js';
import type { DownstreamOwner, DownstreamStream, ResponseHeaderMap } from './downstream-stream.js';
import { applyHeaderOps, withHeader } from './header-ops.js';
import { generatedCookie, hashKeyOf } from './load-balancer.js';
import { type MirrorPairing, type MirrorRequest, primaryStatusKnown } from './mirror.js';
import { copyRequestFrom } from './mirror-copy.js';
import { LOCAL_REPLY_TEXT } from './response-flags.js';
import { prepareRequestHeaders, responseHeaders, trustedClientAddress } from './request-headers.js';
import { ASTERISK, isTargetError, parseTarget, type RequestTarget } from './request-target.js';
import { checkRequestHead } from './request-checks.js';
import { effectiveGrpcTimeoutMs, grpcLocalReplyHeaders, isGrpcContentType } from './grpc.js';
import {
  backoffMs,
  ReplayableBody,
  RETRY_BODY_LIMIT,
  retryOnFailure,
  retryOnResponse,
  type AttemptFailure,
} from './retry.js';
import { rewritePath, redirectLocation } from './rewrites.js';
import { matchRoute, pickBackend, queryValue, type RequestView } from './router.js';
import { classifyUpstreamError } from './upstream-errors.js';
import {
  AttemptDroppedError,
  startHttp1Attempt,
  type AttemptEvents,
  type UpstreamAttempt,
} from './upstream-attempt.js';
import type { EndpointState } from './upstreams.js';
import type { Proxy, VhostResolver } from './proxy.js';

/** Where a request is in its life. Each state has one way forward; `ended` is final. */
export type RequestState = 'routing' | 'waiting' | 'responding' | 'ended';

/** What a request ended with. */
interface Ending {
  readonly status: number;
  readonly flags: string;
  /** reply: a local reply (a reset when a response has already started); reset: cut the response. */
  readonly how: 'complete' | 'reply' | 'reset' | 'gone';
  readonly text?: string;
  /** Close the connection after the reply (a head or framing that cannot be trusted). */
  readonly close?: boolean;
  /** Counted against the endpoint by outlier detection. */
  readonly outlier?: number | 'connect-failure';
  readonly localOrigin?: boolean;
  /** Body bytes of a complete local answer (direct response, redirect), for the log. */
  readonly sent?: number;
  /** The gRPC status of a local reply to a gRPC request, when not the HTTP status's mapping (fault abort). */
  readonly grpcStatus?: number;
}

class UpstreamTimeoutError extends Error {
  readonly code = 'UMBRA_UPSTREAM_TIMEOUT';
}
/** One attempt ran past retries.perTryTimeout (a 504 UT when it is the last). */
class PerTryTimeoutError extends UpstreamTimeoutError {}

/** Methods a stale keep-alive connection may carry again (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Responses that never have a body (RFC 9110 §6.4.1), whatever their headers say. */
function bodyless(method: string, status: number): boolean {
  return status === 204 || status === 304 || method === 'HEAD' || (status >= 100 && status < 200);
}

/** What a failed attempt counts as for retryOn; undefined for failures never retried. */
function attemptFailure(err: unknown): AttemptFailure | undefined {
  if (err instanceof PerTryTimeoutError) return 'per-try-timeout';
  if (err instanceof UpstreamTimeoutError) return undefined;
  const f = classifyUpstreamError(err).flag;
  return f === 'UF' ? 'connect-failure' : f === 'UC' ? 'reset' : undefined;
}

const NONE: readonly never[] = Object.freeze([]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class ProxiedRequest implements DownstreamOwner, AttemptEvents {
  state: RequestState = 'routing';
  private readonly start = Date.now();
  private target?: RequestTarget;
  private route?: Route;
  private cluster?: Cluster;
  private st?: EndpointState;
  private upstream = '-';
  private requestId?: string;
  /** Response flags gathered on the way (DI for a fault delay). */
  private flag = '-';
  /** Headers every answer carries (CORS), set before the answer is known. */
  private extraHeaders?: (readonly [string, string])[];

  // Forwarding state.
  private action?: ForwardAction;
  private endpoint?: Endpoint;
  private hashKey?: string;
  private method = 'GET';
  private path = '';
  private headers: readonly string[] = NONE;
  private respOps: readonly HeaderOps[] = NONE;
  private body?: BodyTee;
  private replay?: ReplayableBody;
  private attempt?: UpstreamAttempt;
  private attemptNo = 0;
  /** The current attempt holds its place in the endpoint's and the cluster's counters. */
  private live = false;
  private retrySlot = false;
  private exhausted = false;
  /** The one extra try the keep-alive race allows was used / is being started. */
  private staleRetried = false;
  private staleRetrying = false;
  private tried?: Endpoint[];
  private status = 0;
  /** The status the request ended with (its access-log status). */
  private endStatus = 0;
  private bytesOut = 0;
  /** The response was complete at its head (HEAD, 204, 304). */
  private headOnly = false;
  private routeTimer?: NodeJS.Timeout;
  private perTryTimer?: NodeJS.Timeout;
  private backoffTimer?: NodeJS.Timeout;
  private pairings: readonly MirrorPairing[] = NONE;
  /** A gRPC request: local replies are gRPC errors, grpc-timeout bounds the route (grpc.ts). */
  private readonly grpc: boolean;
  /** grpc-status of the response (head of a Trailers-Only response, or trailers). */
  private grpcStatus?: string;
  private capture?: ReturnType<NonNullable<Proxy['comparison']>['begin']>;

  constructor(
    private readonly p: Proxy,
    private readonly ds: DownstreamStream,
  ) {
    this.grpc = isGrpcContentType(ds.headers['content-type']);
  }

  // ─── routing ───────────────────────────────────────────────────────────────────────────────

  run(resolve: VhostResolver): void {
    try {
      this.routeRequest(resolve);
    } catch (err) {
      // A bug must cost one request, never the process (and never a hung client).
      this.end({
        status: 500,
        flags: 'LR',
        how: 'reply',
        text: `internal error: ${(err as Error)?.message ?? String(err)}`,
        close: true,
      });
    }
  }

  private routeRequest(resolve: VhostResolver): void {
    const ds = this.ds;
    const p = this.p;
    const table = p.tables.table;
    const bad = checkRequestHead(ds, p.downstream.maxHeadersCount);
    if (bad)
      return this.end({ status: bad.status, flags: 'DPE', how: 'reply', text: bad.message, close: true });
    const target = parseTarget(ds.target, ds.headers.host, p.normalizePath, ds.method, ds.encrypted);
    if (isTargetError(target)) {
      if (target === ASTERISK) return this.asteriskReply();
      return this.end({
        status: target.status,
        flags: 'DPE',
        how: 'reply',
        text: target.message,
        close: true,
      });
    }
    this.target = target;
    const vhost = resolve(table, target.authority);
    if (!vhost)
      return this.end({
        status: 404,
        flags: 'NR',
        how: 'reply',
        text: `no service or route for host "${target.authority}"`,
      });
    const view: RequestView = {
      method: ds.method,
      path: target.path,
      query: target.query,
      authority: target.authority,
      port: target.port,
      scheme: target.scheme,
      headers: ds.headers,
    };
    const route = matchRoute(vhost, view);
    if (!route) return this.end({ status: 404, flags: 'NR', how: 'reply' });
    this.route = route;

    // Istio's filter order is cors → fault → router: a preflight is answered before any fault.
    if (route.cors && ds.headers.origin) {
      const d = corsDecision(route.cors, view.method, ds.headers);
      if (d && 'preflight' in d) return this.preflight(d.preflight);
      // Kept, so every answer to an allowed origin carries them — upstream, local or fault.
      if (d) this.extraHeaders = [...d.response];
    }
    const fault = route.fault;
    if (fault) {
      // Envoy's fault filter delays first, then aborts (a delayed abort is flagged DI,FI).
      if (fault.delay && fault.delay.ms > 0 && sampled(fault.delay.ppm)) {
        this.flag = 'DI';
        this.routeTimer = setTimeout(() => {
          this.routeTimer = undefined;
          if (this.state === 'ended') return;
          if (fault.abort && sampled(fault.abort.ppm))
            return this.end({
              status: fault.abort.status,
              flags: 'DI,FI',
              how: 'reply',
              text: LOCAL_REPLY_TEXT.FI,
              grpcStatus: fault.abort.grpcStatus,
            });
          this.dispatch(table, target, route);
        }, fault.delay.ms);
        return;
      }
      if (fault.abort && sampled(fault.abort.ppm))
        return this.end({
          status: fault.abort.status,
          flags: 'FI',
          how: 'reply',
          grpcStatus: fault.abort.grpcStatus,
        });
    }
    this.dispatch(table, target, route);
  }

  private dispatch(table: RouteTable, target: RequestTarget, route: Route): void {
    const action = route.action;
    switch (action.kind) {
      case 'direct': {
        // The body is UTF-8 text (a YAML string); its length is counted in the bytes sent.
        const body = Buffer.from(action.body ?? '', 'utf8');
        const h = { 'content-type': 'text/plain', 'content-length': String(body.length) };
        return this.endWith(
          action.status,
          route.responseHeaders ? applyObjectOps(h, [route.responseHeaders]) : h,
          body,
        );
      }
      case 'redirect': {
        const h = { location: redirectLocation(action, target), 'content-length': '0' };
        return this.endWith(
          action.status,
          route.responseHeaders ? applyObjectOps(h, [route.responseHeaders]) : h,
          null,
        );
      }
      case 'forward':
        return this.forward(table, target, route, action);
    }
  }

  // ─── forwarding ────────────────────────────────────────────────────────────────────────────

  private forward(table: RouteTable, target: RequestTarget, route: Route, action: ForwardAction): void {
    const ds = this.ds;
    const p = this.p;
    const backend = pickBackend(action.backends, action.totalWeight);
    const cluster = backend?.cluster !== undefined ? table.clusters.get(backend.cluster) : undefined;
    if (!backend || !cluster) return this.end({ status: action.noBackendStatus, flags: 'UH', how: 'reply' });
    this.cluster = cluster;
    this.action = action;
    let setCookie: string | undefined;
    // Consistent hashing: the request's key, or a generated cookie (httpCookie with a ttl).
    const lb = cluster.lb;
    if (lb.kind === 'hash') {
      // useSourceIp hashes Envoy's downstream address: the trusted client address behind trusted proxies.
      const hops = p.downstream.xffTrustedHops;
      const remoteAddress =
        hops > 0
          ? trustedClientAddress(ds.headers['x-forwarded-for'], ds.remoteAddress, hops)
          : ds.remoteAddress;
      this.hashKey = hashKeyOf(lb, { headers: ds.headers, query: target.query, remoteAddress }, queryValue);
      if (this.hashKey === undefined && lb.cookieTtlSeconds !== undefined) {
        const g = generatedCookie(lb, `${ds.remoteAddress}:${ds.remotePort}`);
        if (g) ({ value: this.hashKey, setCookie } = g);
      }
    }
    const endpoint = p.upstreams.pick(cluster, this.hashKey);
    if (!endpoint) return this.end({ status: 503, flags: 'UH', how: 'reply' });
    this.endpoint = endpoint;
    this.st = p.upstreams.state(cluster, endpoint);
    this.upstream = this.st.hostPort;

    // Path and Host after rewrites: both the primary and its copies use them.
    const path = action.rewrite?.path ? rewritePath(action.rewrite.path, target.path) : target.path;
    this.path = target.query ? `${path}?${target.query}` : path;
    const authority = action.rewrite?.authority ?? backend.authority ?? target.authority;
    const prepared = prepareRequestHeaders(
      ds.rawHeaders,
      authority,
      ds.remoteAddress,
      target.scheme,
      p.downstream.xffTrustedHops,
    );
    this.requestId = prepared.requestId;
    let headers = applyHeaderOps(prepared.headers, route.requestHeaders);
    headers = applyHeaderOps(headers, backend.requestHeaders);
    // Istio asks Envoy to count attempts upstream (include_request_attempt_count): 1 on the first,
    // and on copies (those built from the unmodified request too: Gateway API mirrors).
    headers.push('x-envoy-attempt-count', '1');
    if (headers !== prepared.headers) prepared.headers.push('x-envoy-attempt-count', '1');
    // A genuine copy keeps its marker on the way on, so an Umbra further down does not copy it again.
    const marker = p.copyMarker(ds);
    this.headers = marker ? [...headers, ...marker] : headers;
    this.method = ds.method;
    this.respOps = responseOps(route, backend, setCookie);

    // The body has one owner from here on; neither the primary nor a copy reads the client directly.
    if (ds.body) this.body = new BodyTee(ds.body, p.budget);

    // Copies are decided (sampled, capped, breaker) and given body branches before any byte flows…
    const admitted = action.mirrors.length > 0 ? p.admitMirrors(action.mirrors, ds) : undefined;
    const retry = action.retry;
    const declared = ds.headers['content-length'];
    if (
      this.body &&
      retry &&
      retry.attempts > 0 &&
      !(declared !== undefined && Number(declared) > RETRY_BODY_LIMIT)
    )
      this.replay = new ReplayableBody(this.body.primary);
    // The route timeout bounds the whole exchange, every attempt and back-off included (Envoy).
    // A gRPC request's grpc-timeout bounds it too (the shorter wins).
    const timeoutMs = this.grpc
      ? effectiveGrpcTimeoutMs(action.timeoutMs, ds.headers['grpc-timeout'] as string | undefined)
      : action.timeoutMs;
    if (timeoutMs > 0)
      this.routeTimer = setTimeout(() => {
        this.routeTimer = undefined;
        this.attemptFailed(new UpstreamTimeoutError(`route timeout ${timeoutMs} ms`), false);
      }, timeoutMs);
    this.state = 'waiting';
    // …then the primary goes first, so that a copy never stands in front of it.
    this.startAttempt();
    if (admitted) this.startCopies(table, target, admitted, prepared.headers, authority);
    this.body?.start();
  }

  /** Starts the copies (fire-and-forget: nothing here waits for them). */
  private startCopies(
    table: RouteTable,
    target: RequestTarget,
    admitted: readonly MirrorPolicy[],
    prepared: readonly string[],
    authority: string,
  ): void {
    const p = this.p;
    const paired: MirrorPairing[] = [];
    this.pairings = paired;
    // Before the copies leave, so their responses find the pending comparison.
    if (p.comparison)
      this.capture = p.comparison.begin(
        this.requestId!,
        this.route!.name,
        this.method,
        target.path,
        admitted,
      );
    const mreq: MirrorRequest = {
      method: this.method,
      path: this.path,
      headers: this.headers,
      authority,
      requestId: this.requestId!,
      headersIn: this.ds.headers,
      h2: this.ds.httpVersionMajor === 2,
    };
    for (const m of admitted) {
      const copy = m.copyOf ? copyRequestFrom(m.copyOf, mreq, prepared, target) : mreq;
      // Recording (issue 16): the admitted copy, its body from a tee branch of its own.
      if (m.record) p.recorder?.record(m, copy, this.body);
      if (m.record?.sendCopies === false) continue;
      const pairing: MirrorPairing = { counters: p.mirrors.countersFor(m.name) };
      paired.push(pairing);
      const branch = this.body ? this.body.branch(m.bodyBufferBytes, p.mirrors.budgetFor(m)) : null;
      p.mirrors.send(table, m, copy, branch, pairing, this.body?.waiting);
    }
    // A primary that already ended (refused before its attempt could start) tells the copies now.
    if (this.state === 'ended') {
      this.capture?.fail();
      if (this.endStatus > 0) for (const x of paired) primaryStatusKnown(x, this.endStatus);
    }
  }

  private startAttempt(): void {
    this.backoffTimer = undefined;
    if (this.state === 'ended') return;
    const p = this.p;
    const cluster = this.cluster!;
    this.attemptNo++;
    const n = this.attemptNo;
    if (n > 1 && !this.staleRetrying) {
      // Envoy's previous_hosts predicate: a retry prefers endpoints not tried yet.
      const retry = this.action!.retry!;
      const next = p.upstreams.pick(
        cluster,
        this.hashKey,
        retry.ignorePreviousHosts ? this.tried : undefined,
      );
      if (!next) return this.end({ status: 503, flags: 'UH', how: 'reply' });
      this.endpoint = next;
      this.st = p.upstreams.state(cluster, next);
      this.upstream = this.st.hostPort;
    }
    this.staleRetrying = false;
    const st = this.st!;
    // Circuit breakers (connectionPool): an overflow is answered 503 UO and never retried.
    if (p.upstreams.overflow(cluster, st)) return this.end({ status: 503, flags: 'UO', how: 'reply' });
    p.upstreams.begin(cluster, st);
    this.live = true;
    // The per-attempt timeout (Istio perTryTimeout, Gateway API backendRequest) runs until the
    // response is complete; past the response head it can only cut the response short.
    const action = this.action!;
    const perTryMs = action.retry ? action.retry.perTryTimeoutMs : action.perTryTimeoutMs;
    if (perTryMs > 0 && (action.timeoutMs === 0 || perTryMs < action.timeoutMs))
      this.perTryTimer = setTimeout(() => {
        this.perTryTimer = undefined;
        if (n === this.attemptNo)
          this.attemptFailed(new PerTryTimeoutError(`per-try timeout ${perTryMs} ms`), false);
      }, perTryMs);
    const headers = n === 1 ? this.headers : withHeader(this.headers, 'x-envoy-attempt-count', String(n));
    const body: Readable | null = this.replay
      ? this.replay.attempt()
      : n === 1
        ? (this.body?.primary ?? null)
        : null;
    this.attempt = startHttp1Attempt(
      // undici's HTTP/1.1 pool, or HTTP/2 sessions with the same dispatch API (h2-dispatcher.ts);
      // a first attempt whose body has not begun goes head first (h1-head-first.ts).
      p.upstreams.dispatcher(
        cluster,
        this.endpoint!,
        false,
        this.ds.httpVersionMajor === 2,
        n === 1 ? this.body?.waiting : undefined,
      ),
      {
        method: this.method,
        path: this.path,
        headers,
        body,
        // Envoy max_requests_per_connection = 1: Connection: close on each request.
        reset: cluster.pool.maxRequestsPerConnection === 1 ? true : undefined,
        // undici takes the SNI from Host unless the request names one (DestinationRule tls.sni).
        servername: cluster.tls?.sni,
      },
      // Events of an attempt let go of (retried, dropped) never arrive: it is aborted first.
      this,
    );
  }

  /** The current attempt is over (its counters given back); `final`: so is the request's retry place. */
  private endAttempt(final: boolean): void {
    if (this.perTryTimer) clearTimeout(this.perTryTimer);
    this.perTryTimer = undefined;
    if (this.live) {
      this.live = false;
      this.p.upstreams.end(this.cluster!, this.st!);
    }
    if (final && this.retrySlot) {
      this.retrySlot = false;
      this.p.upstreams.clusterState(this.cluster!).retries--;
    }
  }

  /**
   * After the current attempt failed with `outcome`: schedules the next attempt when retries, the
   * retry budget and the body allow it.
   */
  private retryAfter(outcome: number | 'connect-failure', localOrigin: boolean): boolean {
    const retry = this.action?.retry;
    if (!retry || this.state === 'ended' || this.ds.headersSent) return false;
    if (this.attemptNo > retry.attempts) {
      this.exhausted = true;
      return false;
    }
    if (this.body && (!this.replay || !this.replay.replayable)) return false;
    const p = this.p;
    const cluster = this.cluster!;
    const cs = p.upstreams.clusterState(cluster);
    const maxRetries = cluster.pool.maxRetries ?? 0;
    if (maxRetries > 0 && cs.retries - (this.retrySlot ? 1 : 0) >= maxRetries) return false; // Envoy: retry overflow
    p.upstreams.record(cluster, this.st!, outcome, localOrigin);
    (this.tried ??= []).push(this.endpoint!);
    this.dropAttempt();
    if (!this.retrySlot) {
      this.retrySlot = true;
      cs.retries++;
    }
    this.replay?.hold();
    this.state = 'waiting';
    this.backoffTimer = setTimeout(() => this.startAttempt(), backoffMs(retry, this.attemptNo));
    return true;
  }

  /** Lets go of the current attempt (its connection is discarded if it is still running). */
  private dropAttempt(): void {
    const a = this.attempt;
    this.attempt = undefined;
    this.endAttempt(false);
    a?.abort(new AttemptDroppedError());
  }

  /**
   * The keep-alive race: a reused connection the upstream closed while idle fails before any byte
   * comes back. An idempotent request with nothing to replay is sent once more, on another
   * connection (as node's and undici's own clients do), without counting it as a retry.
   */
  private staleConnectionRetry(err: unknown): boolean {
    if (this.staleRetried || this.ds.headersSent || this.body || !IDEMPOTENT.has(this.method)) return false;
    if (classifyUpstreamError(err).flag !== 'UC') return false;
    this.staleRetried = true;
    this.dropAttempt();
    this.attemptNo--;
    this.staleRetrying = true;
    queueMicrotask(() => this.startAttempt());
    return true;
  }

  // ─── the primary's response ────────────────────────────────────────────────────────────────

  // AttemptEvents: what the current attempt reports.
  onHead(status: number, headers: Record<string, string | string[] | undefined>): boolean {
    return this.responseHead(status, headers);
  }
  onData(chunk: Buffer): boolean {
    return this.responseData(chunk);
  }
  onEnd(trailers: Record<string, string | string[] | undefined>): void {
    this.responseEnd(trailers);
  }
  onError(err: unknown, responded: boolean): void {
    this.attemptFailed(err, responded);
  }

  private responseHead(statusCode: number, h: Record<string, string | string[] | undefined>): boolean {
    if (this.state === 'ended') return false;
    const retry = this.action!.retry;
    // A retriable answer is dropped (the connection with it) and the request tried again.
    if (retry && retryOnResponse(retry, statusCode, h, this.ds.headers) && this.retryAfter(statusCode, false))
      return false;
    // An interim answer (102, 103) is not relayed; the final one follows on the same attempt. (A 101
    // to a request that asked for no upgrade never gets here: undici fails it, and that is 502 UPE.)
    if (statusCode < 200) return true;
    this.status = statusCode;
    const g = h['grpc-status'];
    if (typeof g === 'string') this.grpcStatus = g;
    this.state = 'responding';
    for (const x of this.pairings) primaryStatusKnown(x, statusCode);
    let out: ResponseHeaderMap = responseHeaders(h);
    if (this.respOps.length > 0) out = applyObjectOps(out, this.respOps);
    if (this.extraHeaders) {
      // CORS headers decided before win over the upstream's, as in Envoy.
      if (out === h) out = { ...h };
      for (const [k] of this.extraHeaders) delete out[k];
      for (const [k, v] of this.extraHeaders) out[k] = v;
    }
    // RFC 9110 §8.6: no Content-Length in a 204.
    if (statusCode === 204 && out['content-length'] !== undefined) {
      if (out === h) out = { ...h };
      delete out['content-length'];
    }
    // An early answer (the client's body is not all here): when what is left is more than the drain
    // bound, say now that the connection closes after it (the body is settled in `end`).
    if (!this.ds.bodyComplete && this.undrainable()) this.ds.closeAfterResponse();
    this.headOnly = bodyless(this.method, statusCode);
    this.ds.writeHead(statusCode, out, this.headOnly);
    this.capture?.start(statusCode, h);
    if (this.ds.gone) {
      this.clientGone();
      return false;
    }
    if (this.headOnly) {
      // Complete now: undici may still fail the exchange (it checks a 304's Content-Length against
      // an empty body), which must not reset a response that is already whole. The attempt runs
      // on to its end, so its connection goes back to the pool.
      this.capture?.end();
      this.end({ status: statusCode, flags: this.completeFlags(), how: 'complete', outlier: statusCode });
    }
    return true;
  }

  private responseData(chunk: Buffer): boolean {
    if (this.state !== 'responding') return true;
    this.bytesOut += chunk.length;
    const ok = this.ds.write(chunk);
    if (!ok) this.ds.onDrain(() => this.attempt?.resume());
    // After the client's write: a copy of the chunk, only when this request is compared.
    this.capture?.data(chunk);
    return ok;
  }

  private responseEnd(trailers: Record<string, string | string[] | undefined>): void {
    if (this.state !== 'responding') return;
    const g = trailers['grpc-status'];
    if (typeof g === 'string') this.grpcStatus = g;
    this.ds.end(trailers);
    this.capture?.end(trailers);
    this.end({ status: this.status, flags: this.completeFlags(), how: 'complete', outlier: this.status });
  }

  private completeFlags(): string {
    if (!this.exhausted) return this.flag;
    return this.flag === '-' ? 'URX' : `${this.flag},URX`;
  }

  /** The current attempt (or the whole exchange, for the route timeout) failed without a whole response. */
  private attemptFailed(err: unknown, responded: boolean): void {
    if (this.state === 'ended') return;
    if (this.headOnly) return; // already complete
    if (err instanceof AttemptDroppedError) return;
    const retry = this.action?.retry;
    const e = classifyUpstreamError(err);
    // The client's upload broke off under the attempt: the client's doing, not the upstream's.
    if (e.flag === 'DC') return this.end({ status: this.status || 499, flags: 'DC', how: 'reset' });
    if (!responded && !this.ds.headersSent) {
      const kind = retry ? attemptFailure(err) : undefined;
      if (
        kind &&
        retryOnFailure(retry!, kind) &&
        this.retryAfter(
          kind === 'connect-failure' ? 'connect-failure' : kind === 'per-try-timeout' ? 504 : 503,
          true,
        )
      )
        return;
      if (!(err instanceof UpstreamTimeoutError) && this.staleConnectionRetry(err)) return;
    }
    const outlier = e.flag === 'UF' ? ('connect-failure' as const) : e.status || 503;
    if (!this.ds.headersSent)
      return this.end({
        status: e.status,
        flags: this.exhausted ? `${e.flag},URX` : e.flag,
        how: 'reply',
        text: LOCAL_REPLY_TEXT[e.flag],
        outlier,
        localOrigin: true,
      });
    // Mid-body failure: cut the client's response so it never sees a clean, short one.
    this.end({ status: this.status, flags: e.flag, how: 'reset', outlier, localOrigin: true });
  }

  /** The client went away (or the listener timed it out) before the response was complete. */
  clientGone(): void {
    if (this.state === 'ended') return;
    // The listener answered 408 itself (request or idle timeout): logged as that, not a client abort.
    const slow = !this.status && this.ds.timedOut;
    this.end({ status: this.status || (slow ? 408 : 499), flags: slow ? 'SI' : 'DC', how: 'gone' });
  }

  /**
   * The client connection saw no byte either way for the listener's idle timeout. With the whole
   * request sent and no answer yet, the upstream is the idle one: 504 UT, as Envoy answers.
   */
  idleTimeout(): boolean {
    if (this.state !== 'waiting' || !this.ds.bodyComplete || this.ds.headersSent) return false;
    this.attemptFailed(new UpstreamTimeoutError('upstream idle'), false);
    return true;
  }

  // ─── local answers ─────────────────────────────────────────────────────────────────────────

  private endWith(status: number, headers: ResponseHeaderMap, body: Buffer | null): void {
    this.settleBody();
    const h = this.withExtraHeaders(headers);
    this.ds.writeHead(status, h, body === null || body.length === 0);
    if (body && body.length > 0) {
      this.ds.write(body);
      this.ds.end();
    }
    this.end({ status, flags: this.flag, how: 'complete', sent: body?.length ?? 0 });
  }

  /** A CORS preflight from an allowed origin (or any, with unmatchedPreflights IGNORE): 200, no body. */
  private preflight(headers: readonly (readonly [string, string])[]): void {
    const h: ResponseHeaderMap = {};
    for (const [k, v] of headers) h[k] = v;
    h['content-length'] = '0';
    this.endWith(200, h, null);
  }

  /** `OPTIONS *` asks about the server itself (RFC 9110 §9.3.7): Umbra answers, nothing is forwarded. */
  private asteriskReply(): void {
    this.endWith(200, { allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'content-length': '0' }, null);
  }

  private withExtraHeaders(h: ResponseHeaderMap): ResponseHeaderMap {
    if (!this.extraHeaders) return h;
    const out = { ...h };
    for (const [k, v] of this.extraHeaders) out[k] = v;
    return out;
  }

  /** Nobody reads the client's body any more: copies keep theirs, the rest is drained within a bound. */
  private settleBody(): void {
    this.body?.detachPrimary();
    this.replay?.drain();
    if (!this.ds.bodyComplete) {
      const d = this.p.downstream;
      // A body too large to drain (or of unknown size) is not worth the wait: close after the answer.
      if (this.undrainable()) this.ds.closeAfterResponse();
      this.ds.settleBody({ maxBytes: d.drainMaxBytes, maxMs: d.drainMaxMs });
    }
  }

  /** More of the body is still to come than the drain bound allows (or its size is unknown). */
  private undrainable(): boolean {
    const declared = Number(this.ds.headers['content-length'] ?? NaN);
    const left = Number.isFinite(declared) ? declared - (this.body?.bytes ?? 0) : Infinity;
    return left > this.p.downstream.drainMaxBytes;
  }

  // ─── the one ending ────────────────────────────────────────────────────────────────────────

  /**
   * Ends the request, whatever happened: (1) the client's body is settled — read to its end,
   * drained within a bound, or the connection closed after the answer; (2) every branch of the tee
   * is released or detached (copies go on alone); (3) the answer goes out (a local reply, or a
   * reset for a response cut short); (4) one access-log line and the counters.
   */
  private end(o: Ending): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endStatus = o.status;
    const ds = this.ds;
    if (this.routeTimer) clearTimeout(this.routeTimer);
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.routeTimer = this.backoffTimer = undefined;
    const a = this.attempt;
    this.attempt = undefined;
    this.endAttempt(true);
    if (o.how !== 'complete') a?.abort(new AttemptDroppedError());

    // (1, 2) The body: before the answer, so node never starts an unbounded drain of its own.
    this.settleBody();
    // (3) The answer.
    let bytesOut = o.sent ?? this.bytesOut;
    if (o.how === 'reply') {
      if (!ds.headersSent && !ds.gone && this.grpc) {
        // A gRPC client reads errors from grpc-status: a Trailers-Only response, as Envoy answers.
        const text = o.text ?? LOCAL_REPLY_TEXT[o.flags] ?? 'error';
        const h: Record<string, string> = grpcLocalReplyHeaders(o.status, text, o.grpcStatus);
        this.grpcStatus = h['grpc-status'];
        delete h[':status'];
        ds.writeHead(200, this.withExtraHeaders(h), true);
      } else if (!ds.headersSent && !ds.gone) {
        const body = Buffer.from(`${o.text ?? LOCAL_REPLY_TEXT[o.flags] ?? 'error'}\n`);
        if (o.close) ds.closeAfterResponse();
        ds.writeHead(
          o.status,
          this.withExtraHeaders({ 'content-type': 'text/plain', 'content-length': String(body.length) }),
        );
        ds.write(body);
        ds.end();
        bytesOut = body.length;
      } else ds.reset();
    } else if (o.how === 'reset') ds.reset();

    // (4) Counters: outlier detection hears about the upstream, copies about the primary's status.
    if (o.outlier !== undefined && this.cluster && this.st && o.how !== 'gone')
      this.p.upstreams.record(
        this.cluster,
        this.st,
        o.outlier,
        o.localOrigin ?? o.outlier === 'connect-failure',
      );
    if (o.how !== 'complete') this.capture?.fail();
    if (o.how !== 'gone' && o.status > 0) for (const x of this.pairings) primaryStatusKnown(x, o.status);
    this.log(o.status, o.flags, bytesOut);
  }

  private log(status: number, flags: string, bytesOut: number): void {
    const p = this.p;
    if (!p.log.enabled && !p.observer) return;
    const ds = this.ds;
    const t = this.target;
    const cl = ds.headers['content-length'];
    const tls = ds.encrypted ? ds.tls : undefined;
    // One object literal of a fixed shape (no spreads: they cost a copy per request on this path);
    // the rare fields are added after.
    const e: Mutable<AccessLogEntry> = {
      start: this.start,
      method: ds.method || '-',
      path: t ? (t.query ? `${t.path}?${t.query}` : t.path) : ds.target || '-',
      protocol: `HTTP/${ds.httpVersion}`,
      status,
      flags,
      // Bytes received (a chunked body's too); the declared length when nobody read the body.
      bytesIn: this.body ? this.body.bytes : cl ? Number(cl) || 0 : 0,
      bytesOut,
      durationMs: Date.now() - this.start,
      upstream: this.upstream,
      authority: t?.authority ?? String(ds.headers.host ?? '-'),
      requestId: this.requestId ?? String(ds.headers['x-request-id'] ?? '-'),
      userAgent: String(ds.headers['user-agent'] ?? ''),
      route: this.route?.name ?? '-',
    };
    if (this.grpc) {
      e.grpc = true;
      e.grpcStatus = this.grpcStatus;
    }
    if (tls) {
      e.tlsVersion = tls.version;
      e.sni = tls.sni;
    }
    p.log.log(e);
    p.observer?.(e, this.route, this.cluster?.name);
  }
}

function responseOps(
  route: Route,
  backend: WeightedBackend,
  setCookie: string | undefined,
): readonly HeaderOps[] {
  if (!route.responseHeaders && !backend.responseHeaders && !setCookie) return NONE;
  const ops: HeaderOps[] = [];
  if (route.responseHeaders) ops.push(route.responseHeaders);
  if (backend.responseHeaders) ops.push(backend.responseHeaders);
  if (setCookie) ops.push({ add: [['set-cookie', setCookie]] });
  return ops;
}

export function applyObjectOps(
  h: Record<string, string | string[] | number | undefined>,
  ops: readonly HeaderOps[],
): ResponseHeaderMap {
  const out: ResponseHeaderMap = { ...h };
  for (const op of ops) {
    for (const name of op.remove ?? []) delete out[name];
    for (const [name, value] of op.set ?? []) out[name] = value;
    for (const [name, value] of op.add ?? []) {
      const prev = out[name];
      out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
    }
  }
  return out;
}
