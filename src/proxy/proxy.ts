// The request path through Umbra: target → virtual host → route → (fault, redirect, direct
// response) → primary upstream via `forward`, copies via the mirror writer. Nothing throws out of
// here: every failure ends as a local reply with a response flag and one access-log line.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ForwardAction, HeaderOps, MirrorPolicy, Route, RouteTable, VirtualHost } from '../model/route-table.js';
import { sampled } from '../model/percent.js';
import type { ConfigState } from '../runtime/config-state.js';
import { AccessLog, type AccessLogEntry } from './access-log.js';
import { BodyTee, MirrorBodyBudget } from './body-tee.js';
import { applyHeaderOps } from './header-ops.js';
import { MIRROR_MARKER, MirrorWriter, primaryStatusKnown, type MirrorPairing, type MirrorRequest } from './mirror.js';
import { copyRequestFrom } from './mirror-copy.js';
import { LOCAL_REPLY_TEXT } from './response-flags.js';
import { prepareRequestHeaders, responseHeaders } from './request-headers.js';
import { isTargetError, parseTarget, type RequestTarget } from './request-target.js';
import { matchRoute, pickBackend, type RequestView } from './router.js';
import { rewritePath, redirectLocation } from './rewrites.js';
import { Upstreams } from './upstreams.js';

export interface ProxyOptions {
  /** Total bytes of request bodies buffered for all mirrors together. */
  readonly mirrorBodyBudget: number;
  readonly accessLog?: (s: string) => void;
  readonly accessLogFormat?: 'text' | 'json';
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

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function errorFlag(err: unknown): { status: number; flag: string } {
  const code = (err as { code?: string })?.code ?? '';
  if (code === 'UMBRA_UPSTREAM_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return { status: 504, flag: 'UT' };
  if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return { status: 503, flag: 'UF' };
  if (code === 'HPE_INVALID_CONSTANT' || code?.startsWith('HPE_') || code === 'UND_ERR_INFO') return { status: 502, flag: 'UPE' };
  if (code === 'UMBRA_DOWNSTREAM_CLOSED') return { status: 0, flag: 'DC' };
  return { status: 503, flag: 'UC' };
}

export class Proxy {
  readonly upstreams = new Upstreams();
  readonly mirrors: MirrorWriter;
  readonly budget: MirrorBodyBudget;
  readonly log: AccessLog;
  observer?: RequestObserver;

  constructor(
    readonly state: ConfigState,
    opts: ProxyOptions,
  ) {
    this.mirrors = new MirrorWriter(this.upstreams);
    this.budget = new MirrorBodyBudget(opts.mirrorBodyBudget);
    this.log = new AccessLog(opts.accessLog, opts.accessLogFormat);
    this.mirrors.observer = (m) =>
      this.log.log({
        start: Date.now() - m.durationMs,
        method: m.req.method,
        path: m.req.path,
        protocol: 'HTTP/1.1',
        status: m.status,
        flags: m.flag,
        bytesIn: 0,
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
    const table = this.state.table;
    const target = parseTarget(req.url ?? '', req.headers.host);
    if (isTargetError(target)) return this.localReply(req, res, start, target.status, 'DPE', undefined, target.message, undefined);
    const vhost = resolve(table, target.authority);
    if (!vhost) return this.localReply(req, res, start, 404, 'NR', target, `no service or route for host "${target.authority}"`, undefined);
    const view: RequestView = { method: req.method ?? 'GET', path: target.path, query: target.query, authority: target.authority, port: target.port, scheme: target.scheme, headers: req.headers };
    const route = matchRoute(vhost, view);
    if (!route) return this.localReply(req, res, start, 404, 'NR', target, undefined, undefined);

    const fault = route.fault;
    if (fault?.abort && sampled(fault.abort.ppm)) return this.localReply(req, res, start, fault.abort.status, 'FI', target, undefined, route);
    if (fault?.delay && fault.delay.ms > 0 && sampled(fault.delay.ppm)) {
      setTimeout(() => this.dispatchRoute(req, res, start, table, target, view, route, 'DI'), fault.delay.ms);
      return;
    }
    this.dispatchRoute(req, res, start, table, target, view, route, '-');
  }

  private dispatchRoute(req: IncomingMessage, res: ServerResponse, start: number, table: RouteTable, target: RequestTarget, view: RequestView, route: Route, flag: string): void {
    const action = route.action;
    if (res.destroyed) return;
    switch (action.kind) {
      case 'direct': {
        const body = action.body ?? '';
        res.writeHead(action.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body, 'latin1') });
        res.end(body, 'latin1');
        this.drainBody(req);
        return this.logPrimary(req, start, target, action.status, flag, Buffer.byteLength(body), '-', route, undefined);
      }
      case 'redirect': {
        const location = redirectLocation(action, target);
        res.writeHead(action.status, { location, 'content-length': 0 });
        res.end();
        this.drainBody(req);
        return this.logPrimary(req, start, target, action.status, flag, 0, '-', route, undefined);
      }
      case 'forward':
        return this.forward(req, res, start, table, target, view, route, action, flag);
    }
  }

  private forward(req: IncomingMessage, res: ServerResponse, start: number, table: RouteTable, target: RequestTarget, view: RequestView, route: Route, action: ForwardAction, flag: string): void {
    const backend = pickBackend(action.backends, action.totalWeight);
    const cluster = backend?.cluster !== undefined ? table.clusters.get(backend.cluster) : undefined;
    if (!backend || !cluster) return this.localReply(req, res, start, action.noBackendStatus, 'UH', target, undefined, route);
    const endpoint = this.upstreams.pick(cluster, hashKey(cluster.lb, req));
    if (!endpoint) return this.localReply(req, res, start, 503, 'UH', target, undefined, route);

    // Path and Host after rewrites: both the primary and its copies use them.
    const path = action.rewrite?.path ? rewritePath(action.rewrite.path, target.path) : target.path;
    const fullPath = target.query ? `${path}?${target.query}` : path;
    const authority = action.rewrite?.authority ?? target.authority;
    const prepared = prepareRequestHeaders(req.rawHeaders, authority, req.socket.remoteAddress, target.scheme);
    let headers = applyHeaderOps(prepared.headers, route.requestHeaders);
    headers = applyHeaderOps(headers, backend.requestHeaders);
    const method = req.method ?? 'GET';

    // Mirrors: admitted (sampled, capped, breaker) before any body byte flows.
    const withBody = hasBody(req);
    let admitted: MirrorPolicy[] | undefined;
    if (action.mirrors.length > 0) {
      const isCopy = req.headers[MIRROR_MARKER] !== undefined;
      for (const m of action.mirrors) if (this.mirrors.admit(m, method, isCopy, req.headers)) (admitted ??= []).push(m);
    }
    let body: Readable | null = withBody ? req : null;
    let tee: BodyTee | undefined;
    const pairings: MirrorPairing[] = [];
    if (admitted) {
      if (withBody) tee = new BodyTee(req, this.budget);
      const mreq: MirrorRequest = { method, path: fullPath, headers, authority, requestId: prepared.requestId, headersIn: req.headers };
      for (const m of admitted) {
        const p: MirrorPairing = { counters: this.mirrors.countersFor(m.name) };
        pairings.push(p);
        const copy = m.copyOf ? copyRequestFrom(m.copyOf, mreq, prepared.headers, target) : mreq;
        this.mirrors.send(table, m, copy, tee ? tee.branch(m.bodyBufferBytes) : null, p);
      }
      if (tee) {
        body = tee.primary;
        tee.start();
      }
    }

    const st = this.upstreams.state(cluster, endpoint);
    st.inFlight++;
    const upstream = `${endpoint.address}:${endpoint.port}`;
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let bytesOut = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const respOps: HeaderOps[] = [];
    if (route.responseHeaders) respOps.push(route.responseHeaders);
    if (backend.responseHeaders) respOps.push(backend.responseHeaders);
    const upstreams = this.upstreams;

    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      st.inFlight--;
      if (timer) clearTimeout(timer);
      if (err) {
        const e = errorFlag(err);
        upstreams.record(cluster, st, e.flag === 'UF' ? 'connect-failure' : e.status || 503);
        if (e.flag === 'DC') {
          tee?.primary.destroy();
          return this.logPrimary(req, start, target, status || 499, 'DC', bytesOut, upstream, route, cluster.name, prepared.requestId);
        }
        if (!res.headersSent) {
          for (const p of pairings) primaryStatusKnown(p, e.status);
          this.drainBody(req);
          return this.localReply(req, res, start, e.status, e.flag, target, undefined, route, upstream);
        }
        // Mid-body failure: abort the client's connection so it never sees a clean, short response.
        res.destroy(err as Error);
        return this.logPrimary(req, start, target, status, e.flag, bytesOut, upstream, route, cluster.name, prepared.requestId);
      }
      upstreams.record(cluster, st, status);
      this.logPrimary(req, start, target, status, flag, bytesOut, upstream, route, cluster.name, prepared.requestId);
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctl) {
        controller = ctl;
        if (done) ctl.abort(new DownstreamClosedError('client went away'));
      },
      onResponseStart(ctl, statusCode, h) {
        status = statusCode;
        for (const p of pairings) primaryStatusKnown(p, statusCode);
        let out = responseHeaders(h);
        if (respOps.length > 0) out = applyObjectOps(out, respOps);
        res.writeHead(statusCode, out as Record<string, string | string[]>);
        if (res.destroyed) ctl.abort(new DownstreamClosedError('client went away'));
      },
      onResponseData(ctl, chunk) {
        bytesOut += chunk.length;
        if (!res.write(chunk)) {
          ctl.pause();
          res.once('drain', () => ctl.resume());
        }
      },
      onResponseEnd() {
        res.end();
        finish();
      },
      onResponseError(_ctl, err) {
        finish(err);
      },
    };

    res.once('close', () => {
      if (!done && !res.writableFinished) {
        const e = new DownstreamClosedError('client went away');
        if (controller) controller.abort(e);
        else finish(e);
      }
    });
    // One upstream attempt: bounded by the route timeout and by the per-attempt timeout (Gateway API
    // timeouts.backendRequest, Istio retries.perTryTimeout), whichever is shorter.
    const limitMs = action.perTryTimeoutMs > 0 && (action.timeoutMs === 0 || action.perTryTimeoutMs < action.timeoutMs) ? action.perTryTimeoutMs : action.timeoutMs;
    if (limitMs > 0) {
      timer = setTimeout(() => {
        const e = new UpstreamTimeoutError(`${limitMs === action.timeoutMs ? 'route' : 'per-attempt'} timeout ${limitMs} ms`);
        if (controller) controller.abort(e);
        else finish(e);
      }, limitMs);
    }
    try {
      this.upstreams.pool(cluster, endpoint).dispatch({ method, path: fullPath, headers, body }, handler);
    } catch (err) {
      finish(err);
    }
  }

  /** Reads and discards a request body we are not forwarding, so keep-alive stays usable. */
  private drainBody(req: IncomingMessage): void {
    if (!req.complete) req.resume();
  }

  private localReply(req: IncomingMessage, res: ServerResponse, start: number, status: number, flag: string, target: RequestTarget | undefined, text: string | undefined, route: Route | undefined, upstream = '-'): void {
    const body = `${text ?? LOCAL_REPLY_TEXT[flag] ?? 'error'}\n`;
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
    this.drainBody(req);
    this.logPrimary(req, start, target, status, flag, Buffer.byteLength(body), upstream, route, undefined);
  }

  private logPrimary(req: IncomingMessage, start: number, target: RequestTarget | undefined, status: number, flags: string, bytesOut: number, upstream: string, route: Route | undefined, cluster: string | undefined, requestId?: string): void {
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
    await this.upstreams.close();
  }
}

function hashKey(lb: { kind: string; header?: string; cookie?: string; sourceIp?: boolean; queryParam?: string }, req: IncomingMessage): string | undefined {
  if (lb.kind !== 'hash') return undefined;
  if (lb.header) {
    const v = req.headers[lb.header];
    return Array.isArray(v) ? v[0] : v;
  }
  if (lb.cookie) {
    const c = req.headers.cookie ?? '';
    const m = c.split(';').map((s) => s.trim()).find((s) => s.startsWith(`${lb.cookie}=`));
    return m?.slice(lb.cookie.length + 1);
  }
  if (lb.sourceIp) return req.socket.remoteAddress;
  if (lb.queryParam) {
    const q = (req.url ?? '').split('?')[1];
    return q ? (new URLSearchParams(q).get(lb.queryParam) ?? undefined) : undefined;
  }
  return undefined;
}

function applyObjectOps(h: Record<string, string | string[] | undefined>, ops: HeaderOps[]): Record<string, string | string[] | undefined> {
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
