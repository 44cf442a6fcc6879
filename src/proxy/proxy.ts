// The request path through Umbra: target → virtual host → route → (fault, redirect, direct
// response) → primary upstream via `forward`, copies via the mirror writer. Nothing throws out of
// here: every failure ends as a local reply with a response flag and one access-log line.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type {
  Endpoint,
  ForwardAction,
  HeaderOps,
  MirrorPolicy,
  RetryPolicy,
  Route,
  RouteTable,
  VirtualHost,
} from '../model/route-table.js';
import { sampled } from '../model/percent.js';
import type { ConfigState } from '../runtime/config-state.js';
import { AccessLog, type AccessLogEntry } from './access-log.js';
import { BodyTee, MirrorBodyBudget } from './body-tee.js';
import { CopyRecorder, type CopyRecorderOptions } from '../record/copy-recorder.js';
import { corsDecision } from './cors.js';
import { applyHeaderOps, withHeader } from './header-ops.js';
import { generatedCookie, hashKeyOf } from './load-balancer.js';
import {
  backoffMs,
  ReplayableBody,
  RETRY_BODY_LIMIT,
  retryOnFailure,
  retryOnResponse,
  type AttemptFailure,
} from './retry.js';
import type { ResponseCapture } from '../compare/primary-capture.js';
import {
  MIRROR_MARKER,
  MirrorWriter,
  primaryStatusKnown,
  type MirrorPairing,
  type MirrorRequest,
} from './mirror.js';
import { copyRequestFrom } from './mirror-copy.js';
import { LOCAL_REPLY_TEXT } from './response-flags.js';
import { prepareRequestHeaders, responseHeaders, trustedClientAddress } from './request-headers.js';
import { ASTERISK, isTargetError, parseTarget, type RequestTarget } from './request-target.js';
import { checkRequestHead } from './request-checks.js';
import { DEFAULT_DOWNSTREAM, type DownstreamOptions } from './downstream-options.js';
import { pathNormalizer, type PathNormalizer } from './path-normalize.js';
import { classifyUpstreamError } from './upstream-errors.js';
import { matchRoute, pickBackend, queryValue, type RequestView } from './router.js';
import { rewritePath, redirectLocation } from './rewrites.js';
import { Upstreams } from './upstreams.js';
import { timedOut } from './client-timeouts.js';

export interface ProxyOptions {
  /** Total bytes of request bodies buffered for all mirrors together. */
  readonly mirrorBodyBudget: number;
  readonly accessLog?: (s: string) => void;
  readonly accessLogFormat?: 'text' | 'json';
  /** Client-side limits and policies (header limits, timeouts, XFF trust, path normalisation). */
  readonly downstream?: Partial<DownstreamOptions>;
  /** The recording sink of MirrorPolicy `record` (issue 16). */
  readonly record?: CopyRecorderOptions;
}

/** Finds the virtual host for a request on one listener. */
export type VhostResolver = (table: RouteTable, authority: string) => VirtualHost | undefined;

/** Hooks for telemetry and comparison; each is optional and called after the fact. */
export interface RequestObserver {
  (e: AccessLogEntry, route: Route | undefined, cluster: string | undefined): void;
}

class UpstreamTimeoutError extends Error {
  readonly code = 'UMBRA_UPSTREAM_TIMEOUT';
}
class DownstreamClosedError extends Error {
  readonly code = 'UMBRA_DOWNSTREAM_CLOSED';
}
/** One attempt ran past retries.perTryTimeout (a 504 UT when it is the last). */
class PerTryTimeoutError extends UpstreamTimeoutError {}

/** What a failed attempt counts as for retryOn; undefined for failures never retried (route timeout, client gone). */
function attemptFailure(err: unknown): AttemptFailure | undefined {
  if (err instanceof PerTryTimeoutError) return 'per-try-timeout';
  if (err instanceof UpstreamTimeoutError || err instanceof DownstreamClosedError) return undefined;
  const f = classifyUpstreamError(err).flag;
  return f === 'UF' ? 'connect-failure' : f === 'DC' ? undefined : 'reset';
}

/** Shared empty list: most requests have no copies and no response header operations to allocate for. */
const NONE: readonly never[] = Object.freeze([]);

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Responses that never have a body (RFC 9110 §6.4.1), whatever their headers say. */
function bodyless(method: string, status: number): boolean {
  return status === 204 || status === 304 || method === 'HEAD' || (status >= 100 && status < 200);
}

export class Proxy {
  readonly upstreams = new Upstreams();
  readonly mirrors: MirrorWriter;
  readonly recorder: CopyRecorder;
  readonly budget: MirrorBodyBudget;
  readonly log: AccessLog;
  observer?: RequestObserver;
  /** Client-side limits every listener of this proxy applies (listener.ts reads them too). */
  readonly downstream: DownstreamOptions;
  private readonly normalizePath: PathNormalizer;
  /** Shadow comparison (issue 9): a capture only for requests mirrored with compare on. */
  comparison?: {
    begin(
      requestId: string,
      route: string,
      method: string,
      path: string,
      admitted: readonly MirrorPolicy[],
    ): ResponseCapture | undefined;
  };

  constructor(
    readonly state: ConfigState,
    opts: ProxyOptions,
  ) {
    this.mirrors = new MirrorWriter(this.upstreams);
    this.recorder = new CopyRecorder(opts.record);
    this.budget = new MirrorBodyBudget(opts.mirrorBodyBudget);
    this.log = new AccessLog(opts.accessLog, opts.accessLogFormat);
    this.downstream = { ...DEFAULT_DOWNSTREAM, ...opts.downstream };
    this.normalizePath = pathNormalizer(this.downstream.pathNormalization);
    this.mirrors.observer = (m) =>
      this.log.enabled &&
      this.log.log({
        start: Date.now() - m.durationMs,
        method: m.req.method,
        path: m.req.path,
        protocol: 'HTTP/1.1',
        status: m.status,
        flags: m.flag,
        // Seen from the copy, like the primary's line: what was sent to the mirror, what came back.
        bytesIn: m.bodyBytesSent,
        bytesOut: m.bytesIn,
        durationMs: m.durationMs,
        upstream: m.upstream,
        authority: m.authority,
        requestId: m.req.requestId,
        userAgent: String(m.req.headersIn['user-agent'] ?? ''),
        route: '-',
        mirror: m.policy.name,
      });
    state.on('swap', (t: RouteTable) => this.upstreams.retain(t));
  }

  handle(req: IncomingMessage, res: ServerResponse, resolve: VhostResolver): void {
    const start = Date.now();
    try {
      this.routeRequest(req, res, start, resolve);
    } catch (err) {
      // A bug must cost one request, never the process (and never a hung client).
      this.localReply(
        req,
        res,
        start,
        500,
        'LR',
        undefined,
        `internal error: ${(err as Error)?.message ?? String(err)}`,
        undefined,
        '-',
        true,
      );
    }
  }

  private routeRequest(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    resolve: VhostResolver,
  ): void {
    const table = this.state.table;
    const bad = checkRequestHead(req, this.downstream.maxHeadersCount);
    if (bad)
      return this.localReply(
        req,
        res,
        start,
        bad.status,
        'DPE',
        undefined,
        bad.message,
        undefined,
        '-',
        true,
      );
    const target = parseTarget(
      req.url ?? '',
      req.headers.host,
      this.normalizePath,
      req.method,
      (req.socket as { encrypted?: boolean }).encrypted === true,
    );
    if (isTargetError(target)) {
      if (target === ASTERISK) return this.asteriskReply(req, res, start);
      return this.localReply(
        req,
        res,
        start,
        target.status,
        'DPE',
        undefined,
        target.message,
        undefined,
        '-',
        true,
      );
    }
    const vhost = resolve(table, target.authority);
    if (!vhost)
      return this.localReply(
        req,
        res,
        start,
        404,
        'NR',
        target,
        `no service or route for host "${target.authority}"`,
        undefined,
      );
    const view: RequestView = {
      method: req.method ?? 'GET',
      path: target.path,
      query: target.query,
      authority: target.authority,
      port: target.port,
      scheme: target.scheme,
      headers: req.headers,
    };
    const route = matchRoute(vhost, view);
    if (!route) return this.localReply(req, res, start, 404, 'NR', target, undefined, undefined);

    // Istio's filter order is cors → fault → router: a preflight is answered before any fault.
    if (route.cors && req.headers.origin) {
      const d = corsDecision(route.cors, view.method, req.headers);
      if (d && 'preflight' in d) return this.corsPreflight(req, res, start, target, route, d.preflight);
      // Set now, so every answer to an allowed origin carries them — upstream, local or fault.
      if (d) for (const [k, v] of d.response) res.setHeader(k, v);
    }
    const fault = route.fault;
    if (fault) {
      // Envoy's fault filter delays first, then aborts (a delayed abort is flagged DI,FI).
      if (fault.delay && fault.delay.ms > 0 && sampled(fault.delay.ppm)) {
        setTimeout(() => {
          if (fault.abort && sampled(fault.abort.ppm))
            return this.localReply(
              req,
              res,
              start,
              fault.abort.status,
              'DI,FI',
              target,
              LOCAL_REPLY_TEXT.FI,
              route,
            );
          this.dispatchRoute(req, res, start, table, target, view, route, 'DI');
        }, fault.delay.ms);
        return;
      }
      if (fault.abort && sampled(fault.abort.ppm))
        return this.localReply(req, res, start, fault.abort.status, 'FI', target, undefined, route);
    }
    this.dispatchRoute(req, res, start, table, target, view, route, '-');
  }

  private dispatchRoute(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    table: RouteTable,
    target: RequestTarget,
    view: RequestView,
    route: Route,
    flag: string,
  ): void {
    const action = route.action;
    if (res.destroyed) return;
    switch (action.kind) {
      case 'direct': {
        const body = action.body ?? '';
        // The route's response header operations apply to direct responses too (Envoy).
        const h = {
          'content-type': 'text/plain',
          'content-length': String(Buffer.byteLength(body, 'latin1')),
        };
        res.writeHead(action.status, route.responseHeaders ? applyObjectOps(h, [route.responseHeaders]) : h);
        res.end(body, 'latin1');
        this.drainBody(req);
        return this.logPrimary(
          req,
          start,
          target,
          action.status,
          flag,
          Buffer.byteLength(body),
          '-',
          route,
          undefined,
        );
      }
      case 'redirect': {
        const location = redirectLocation(action, target);
        const h = { location, 'content-length': '0' };
        res.writeHead(action.status, route.responseHeaders ? applyObjectOps(h, [route.responseHeaders]) : h);
        res.end();
        this.drainBody(req);
        return this.logPrimary(req, start, target, action.status, flag, 0, '-', route, undefined);
      }
      case 'forward':
        return this.forward(req, res, start, table, target, view, route, action, flag);
    }
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    table: RouteTable,
    target: RequestTarget,
    view: RequestView,
    route: Route,
    action: ForwardAction,
    flag: string,
  ): void {
    const backend = pickBackend(action.backends, action.totalWeight);
    const cluster = backend?.cluster !== undefined ? table.clusters.get(backend.cluster) : undefined;
    if (!backend || !cluster)
      return this.localReply(req, res, start, action.noBackendStatus, 'UH', target, undefined, route);
    // Consistent hashing: the request's key, or a generated cookie (httpCookie with a ttl).
    const lb = cluster.lb;
    let key: string | undefined;
    let setCookie: string | undefined;
    if (lb.kind === 'hash') {
      // useSourceIp hashes Envoy's downstream address: the trusted client address behind trusted proxies.
      const hops = this.downstream.xffTrustedHops;
      const remoteAddress =
        hops > 0
          ? trustedClientAddress(req.headers['x-forwarded-for'], req.socket.remoteAddress, hops)
          : req.socket.remoteAddress;
      key = hashKeyOf(lb, { headers: req.headers, query: target.query, remoteAddress }, queryValue);
      if (key === undefined && lb.cookieTtlSeconds !== undefined) {
        const g = generatedCookie(lb, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
        if (g) ({ value: key, setCookie } = g);
      }
    }
    let endpoint = this.upstreams.pick(cluster, key);
    if (!endpoint) return this.localReply(req, res, start, 503, 'UH', target, undefined, route);

    // Path and Host after rewrites: both the primary and its copies use them.
    const path = action.rewrite?.path ? rewritePath(action.rewrite.path, target.path) : target.path;
    const fullPath = target.query ? `${path}?${target.query}` : path;
    const authority = action.rewrite?.authority ?? backend.authority ?? target.authority;
    const prepared = prepareRequestHeaders(
      req.rawHeaders,
      authority,
      req.socket.remoteAddress,
      target.scheme,
      this.downstream.xffTrustedHops,
    );
    let headers = applyHeaderOps(prepared.headers, route.requestHeaders);
    headers = applyHeaderOps(headers, backend.requestHeaders);
    // Istio asks Envoy to count attempts upstream (include_request_attempt_count): 1 on the first,
    // and on copies (those built from the unmodified request too: Gateway API mirrors).
    headers.push('x-envoy-attempt-count', '1');
    if (headers !== prepared.headers) prepared.headers.push('x-envoy-attempt-count', '1');
    const method = req.method ?? 'GET';

    // Mirrors: admitted (sampled, capped, breaker) before any body byte flows.
    const withBody = hasBody(req);
    let admitted: MirrorPolicy[] | undefined;
    if (action.mirrors.length > 0) {
      const isCopy = req.headers[MIRROR_MARKER] !== undefined;
      for (const m of action.mirrors)
        if (this.mirrors.admit(m, method, isCopy, req.headers)) (admitted ??= []).push(m);
    }
    let body: Readable | null = withBody ? req : null;
    let tee: BodyTee | undefined;
    let pairings: readonly MirrorPairing[] = NONE;
    let capture: ResponseCapture | undefined;
    if (admitted) {
      const paired: MirrorPairing[] = [];
      pairings = paired;
      // Before the copies leave, so their responses find the pending comparison.
      if (this.comparison)
        capture = this.comparison.begin(prepared.requestId, route.name, method, target.path, admitted);
      if (withBody) tee = new BodyTee(req, this.budget);
      const mreq: MirrorRequest = {
        method,
        path: fullPath,
        headers,
        authority,
        requestId: prepared.requestId,
        headersIn: req.headers,
      };
      for (const m of admitted) {
        const copy = m.copyOf ? copyRequestFrom(m.copyOf, mreq, prepared.headers, target) : mreq;
        // Recording (issue 16): the admitted copy, its body from a branch of its own.
        if (m.record) this.recorder.record(m, copy, tee);
        if (m.record?.sendCopies === false) continue;
        const p: MirrorPairing = { counters: this.mirrors.countersFor(m.name) };
        paired.push(p);
        this.mirrors.send(
          table,
          m,
          copy,
          tee ? tee.branch(m.bodyBufferBytes, this.mirrors.budgetFor(m)) : null,
          p,
        );
      }
      if (tee) {
        body = tee.primary;
        tee.start();
      }
    }

    let st = this.upstreams.state(cluster, endpoint);
    let upstream = st.hostPort;
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let bytesOut = 0;
    let done = false;
    /** The client's response is complete at its head (HEAD, 204, 304): nothing upstream can add to it. */
    let headOnly = false;
    let timer: NodeJS.Timeout | undefined;
    let respOps: readonly HeaderOps[] = NONE;
    if (route.responseHeaders || backend.responseHeaders || setCookie) {
      const ops: HeaderOps[] = [];
      if (route.responseHeaders) ops.push(route.responseHeaders);
      if (backend.responseHeaders) ops.push(backend.responseHeaders);
      if (setCookie) ops.push({ add: [['set-cookie', setCookie]] });
      respOps = ops;
    }
    const upstreams = this.upstreams;

    // Attempts (Istio retries, src/proxy/retry.ts): at most retry.attempts + 1, one at a time. A body
    // stays replayable while it fits the replay buffer; a larger one goes out once, never retried.
    const retry = action.retry;
    const declared = req.headers['content-length'];
    const replay =
      retry && retry.attempts > 0 && body && !(declared !== undefined && Number(declared) > RETRY_BODY_LIMIT)
        ? new ReplayableBody(body)
        : undefined;
    const perTryMs = retry ? retry.perTryTimeoutMs : action.perTryTimeoutMs;
    let attempt = 1;
    /** The current attempt holds its place in the endpoint's and the cluster's counters. */
    let live = false;
    let perTry: NodeJS.Timeout | undefined;
    let backoff: NodeJS.Timeout | undefined;
    let tried: Endpoint[] | undefined;
    /** Retries ran out on a retriable outcome (Envoy's URX flag). */
    let exhausted = false;
    /** This request holds one of the cluster's maxRetries places. */
    let retrySlot = false;

    /** The current attempt is over; `final`: so is the request (its retry place is given back). */
    const endAttempt = (final: boolean) => {
      if (perTry) clearTimeout(perTry);
      perTry = undefined;
      if (live) {
        live = false;
        upstreams.end(cluster, st);
      }
      if (final && retrySlot) {
        retrySlot = false;
        upstreams.clusterState(cluster).retries--;
      }
    };

    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      endAttempt(true);
      if (timer) clearTimeout(timer);
      if (backoff) clearTimeout(backoff);
      if (err && headOnly) err = undefined; // e.g. undici's length check on a 304 with Content-Length
      if (err) {
        capture?.fail();
        const e = classifyUpstreamError(err);
        // A client that went away says nothing about the upstream's health.
        if (e.flag !== 'DC')
          upstreams.record(cluster, st, e.flag === 'UF' ? 'connect-failure' : e.status || 503, true);
        if (e.flag === 'DC') {
          tee?.primary.destroy();
          // The listener answered 408 itself (request or idle timeout): log that, not a client abort.
          const slow = !status && timedOut(req.socket);
          return this.logPrimary(
            req,
            start,
            target,
            status || (slow ? 408 : 499),
            slow ? 'SI' : 'DC',
            bytesOut,
            upstream,
            route,
            cluster.name,
            prepared.requestId,
          );
        }
        if (!res.headersSent) {
          for (const p of pairings) primaryStatusKnown(p, e.status);
          this.drainBody(req);
          return this.localReply(
            req,
            res,
            start,
            e.status,
            exhausted ? `${e.flag},URX` : e.flag,
            target,
            LOCAL_REPLY_TEXT[e.flag],
            route,
            upstream,
            false,
            prepared.requestId,
          );
        }
        // Mid-body failure: abort the client's connection so it never sees a clean, short response.
        res.destroy(err as Error);
        return this.logPrimary(
          req,
          start,
          target,
          status,
          e.flag,
          bytesOut,
          upstream,
          route,
          cluster.name,
          prepared.requestId,
        );
      }
      upstreams.record(cluster, st, status);
      this.logPrimary(
        req,
        start,
        target,
        status,
        exhausted ? (flag === '-' ? 'URX' : `${flag},URX`) : flag,
        bytesOut,
        upstream,
        route,
        cluster.name,
        prepared.requestId,
      );
    };

    /** Ends the request with a local reply before (another) attempt could start: no endpoint, or overflow. */
    const giveUp = (code: number, why: string) => {
      done = true;
      endAttempt(true);
      if (timer) clearTimeout(timer);
      capture?.fail();
      for (const p of pairings) primaryStatusKnown(p, code);
      // Nobody reads the primary's body now; keep it flowing so mirror copies still get theirs.
      if (replay) replay.drain();
      else if (body && body !== req) body.resume();
      this.localReply(
        req,
        res,
        start,
        code,
        why,
        target,
        undefined,
        route,
        upstream,
        false,
        prepared.requestId,
      );
    };

    /**
     * After attempt `attempt` failed with `outcome` (a status, or a failure without response):
     * schedules the next attempt when retries, the retry budget and the body allow it.
     */
    // Created only for routes that retry (Istio's default policy gives one to every VirtualService route).
    const retryAfter =
      retry &&
      ((outcome: number | 'connect-failure', localOrigin: boolean, retry: RetryPolicy): boolean => {
        if (done || res.headersSent) return false;
        if (attempt > retry.attempts) {
          exhausted = true;
          return false;
        }
        if (body && (!replay || !replay.replayable)) return false;
        const cs = upstreams.clusterState(cluster);
        const maxRetries = cluster.pool.maxRetries ?? 0;
        if (maxRetries > 0 && cs.retries - (retrySlot ? 1 : 0) >= maxRetries) return false; // Envoy: retry overflow
        upstreams.record(cluster, st, outcome, localOrigin);
        (tried ??= []).push(endpoint!);
        endAttempt(false);
        if (!retrySlot) {
          retrySlot = true;
          cs.retries++;
        }
        replay?.hold();
        attempt++;
        backoff = setTimeout(startAttempt, backoffMs(retry, attempt - 1));
        return true;
      });

    const onAttemptError = (n: number, err: unknown) => {
      if (n !== attempt || done) return; // an attempt already given up on
      const kind = retry && !headOnly ? attemptFailure(err) : undefined;
      if (
        kind &&
        retryOnFailure(retry!, kind) &&
        retryAfter!(
          kind === 'connect-failure' ? 'connect-failure' : kind === 'per-try-timeout' ? 504 : 503,
          true,
          retry!,
        )
      )
        return;
      finish(err);
    };

    const handlerFor = (n: number): Dispatcher.DispatchHandler => ({
      onRequestStart(ctl) {
        if (done || n !== attempt) return ctl.abort(new DownstreamClosedError('attempt abandoned'));
        controller = ctl;
      },
      onResponseStart(ctl, statusCode, h) {
        if (done || n !== attempt) return ctl.abort(new DownstreamClosedError('attempt abandoned'));
        status = statusCode;
        // A retriable answer is dropped (the connection with it) and the request tried again.
        if (
          retry &&
          retryOnResponse(retry, statusCode, h, req.headers) &&
          retryAfter!(statusCode, false, retry)
        )
          return ctl.abort(new DownstreamClosedError('retrying'));
        for (const p of pairings) primaryStatusKnown(p, statusCode);
        let out = responseHeaders(h);
        if (respOps.length > 0) out = applyObjectOps(out, respOps);
        // CORS headers set on the response before (src/proxy/cors.ts) win over the upstream's, as in Envoy.
        if (route.cors && res.hasHeader('access-control-allow-origin')) {
          if (out === h) out = { ...h };
          for (const name of res.getHeaderNames()) delete out[name];
        }
        // RFC 9110 §8.6: no Content-Length in a 204.
        if (statusCode === 204 && out['content-length'] !== undefined) {
          if (out === h) out = { ...h };
          delete out['content-length'];
        }
        res.writeHead(statusCode, out as Record<string, string | string[]>);
        if (capture) capture.start(statusCode, h);
        if (res.destroyed) return ctl.abort(new DownstreamClosedError('client went away'));
        if (bodyless(method, statusCode)) {
          // Complete now: undici may still fail the exchange (it checks a 304's Content-Length
          // against an empty body), which must not reset a response that is already whole.
          headOnly = true;
          res.end();
        }
      },
      onResponseData(ctl, chunk) {
        if (headOnly || n !== attempt) return;
        bytesOut += chunk.length;
        if (!res.write(chunk)) {
          ctl.pause();
          res.once('drain', () => ctl.resume());
        }
        // After the client's write: a copy of the chunk, only when this request is compared.
        if (capture) capture.data(chunk);
      },
      onResponseEnd() {
        if (n !== attempt) return;
        if (!headOnly) res.end();
        if (capture) capture.end();
        finish();
      },
      onResponseError(_ctl, err) {
        onAttemptError(n, err);
      },
    });

    function startAttempt(): void {
      backoff = undefined;
      if (done) return;
      if (attempt > 1) {
        // Envoy's previous_hosts predicate: a retry prefers endpoints not tried yet.
        const next = upstreams.pick(cluster!, key, retry!.ignorePreviousHosts ? tried : undefined);
        if (!next) return giveUp(503, 'UH');
        endpoint = next;
        st = upstreams.state(cluster!, next);
        upstream = st.hostPort;
      }
      // Circuit breakers (connectionPool): an overflow is answered 503 UO and never retried.
      if (upstreams.overflow(cluster!, st)) return giveUp(503, 'UO');
      // The per-attempt timeout (Istio perTryTimeout, Gateway API backendRequest) runs until the
      // response is complete; past the response head it can only cut the response short.
      upstreams.begin(cluster!, st);
      live = true;
      controller = undefined;
      const n = attempt;
      if (perTryMs > 0 && (action.timeoutMs === 0 || perTryMs < action.timeoutMs))
        perTry = setTimeout(() => {
          if (n !== attempt || done) return;
          const e = new PerTryTimeoutError(`per-try timeout ${perTryMs} ms`);
          if (controller) controller.abort(e);
          else onAttemptError(n, e);
        }, perTryMs);
      try {
        const h = n === 1 ? headers : withHeader(headers, 'x-envoy-attempt-count', String(n));
        const once = cluster!.pool.maxRequestsPerConnection === 1 ? true : undefined; // Connection: close
        // undici takes the SNI from Host unless the request names one (DestinationRule tls.sni).
        const opts: Dispatcher.DispatchOptions & { servername?: string } = {
          method,
          path: fullPath,
          headers: h,
          body: replay ? replay.attempt() : body,
          reset: once,
          servername: cluster!.tls?.sni,
        };
        upstreams.pool(cluster!, endpoint!).dispatch(opts, handlerFor(n));
      } catch (err) {
        onAttemptError(n, err);
      }
    }

    res.once('close', () => {
      if (!done && !res.writableFinished) {
        const e = new DownstreamClosedError('client went away');
        if (controller && live) controller.abort(e);
        else finish(e);
      }
    });
    // The route timeout bounds the whole exchange, every attempt and back-off included (Envoy).
    if (action.timeoutMs > 0) {
      timer = setTimeout(() => {
        const e = new UpstreamTimeoutError(`route timeout ${action.timeoutMs} ms`);
        if (controller && live) controller.abort(e);
        else finish(e);
      }, action.timeoutMs);
    }
    startAttempt();
  }

  /** Reads and discards a request body we are not forwarding, so keep-alive stays usable. */
  private drainBody(req: IncomingMessage): void {
    if (!req.complete) req.resume();
  }

  /**
   * @param close end the connection after the reply: for requests whose framing or head cannot
   *   be trusted (a protocol error), so nothing left of them is read as a next request.
   */
  private localReply(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    status: number,
    flag: string,
    target: RequestTarget | undefined,
    text: string | undefined,
    route: Route | undefined,
    upstream = '-',
    close = false,
    requestId?: string,
  ): void {
    const body = `${text ?? LOCAL_REPLY_TEXT[flag] ?? 'error'}\n`;
    if (!res.headersSent && !res.destroyed) {
      if (close) res.shouldKeepAlive = false;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } else if (!res.writableEnded) res.destroy();
    this.drainBody(req);
    this.logPrimary(
      req,
      start,
      target,
      status,
      flag,
      Buffer.byteLength(body),
      upstream,
      route,
      undefined,
      requestId,
    );
  }

  /** A CORS preflight from an allowed origin (or any, with unmatchedPreflights IGNORE): 200, no body. */
  private corsPreflight(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    target: RequestTarget,
    route: Route,
    headers: readonly (readonly [string, string])[],
  ): void {
    res.writeHead(200, [...headers.flat(), 'content-length', '0']);
    res.end();
    this.drainBody(req);
    this.logPrimary(req, start, target, 200, '-', 0, '-', route, undefined);
  }

  /** `OPTIONS *` asks about the server itself (RFC 9110 §9.3.7): Umbra answers, nothing is forwarded. */
  private asteriskReply(req: IncomingMessage, res: ServerResponse, start: number): void {
    res.writeHead(200, { allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'content-length': 0 });
    res.end();
    this.drainBody(req);
    this.logPrimary(req, start, undefined, 200, '-', 0, '-', undefined, undefined);
  }

  private logPrimary(
    req: IncomingMessage,
    start: number,
    target: RequestTarget | undefined,
    status: number,
    flags: string,
    bytesOut: number,
    upstream: string,
    route: Route | undefined,
    cluster: string | undefined,
    requestId?: string,
  ): void {
    if (!this.log.enabled && !this.observer) return;
    const cl = req.headers['content-length'];
    const e: AccessLogEntry = {
      start,
      method: req.method ?? '-',
      path: target ? (target.query ? `${target.path}?${target.query}` : target.path) : (req.url ?? '-'),
      protocol: `HTTP/${req.httpVersion}`,
      status,
      flags,
      bytesIn: cl ? Number(cl) : 0,
      bytesOut,
      durationMs: Date.now() - start,
      upstream,
      authority: target?.authority ?? String(req.headers.host ?? '-'),
      requestId: requestId ?? String(req.headers['x-request-id'] ?? '-'),
      userAgent: String(req.headers['user-agent'] ?? ''),
      route: route?.name ?? '-',
    };
    this.log.log(e);
    this.observer?.(e, route, cluster);
  }

  async close(): Promise<void> {
    this.log.flush();
    await Promise.all([this.upstreams.close(), this.recorder.close()]);
  }
}

function applyObjectOps(
  h: Record<string, string | string[] | undefined>,
  ops: readonly HeaderOps[],
): Record<string, string | string[] | undefined> {
  const out = { ...h };
  for (const op of ops) {
    for (const name of op.remove ?? []) delete out[name];
    for (const [name, value] of op.set ?? []) out[name] = value;
    for (const [name, value] of op.add ?? []) {
      const prev = out[name];
      out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
  }
  return out;
}
