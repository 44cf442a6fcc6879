// A dry run of the request path over a RouteTable, without sockets: which virtual host and route a
// request meets, what that route does (local reply, redirect, forward), to which cluster and
// endpoint, with which path, Host and headers, and which mirrors get a copy. It calls the same
// router, rewrite, CORS and load-balancing functions the proxy does; random draws come from
// `random`, so a test (or `umbra` tooling) can make them deterministic.

import type { IncomingHttpHeaders } from 'node:http';
import { PPM_ALL } from '../model/percent.js';
import type {
  HeaderOps,
  MirrorPolicy,
  RetryPolicy,
  Route,
  RouteOrigin,
  RouteTable,
  VirtualHost,
} from '../model/route-table.js';
import { shadowAuthority } from '../model/shadow-authority.js';
import { corsDecision } from './cors.js';
import { applyHeaderOps } from './header-ops.js';
import { chooseEndpoint, generatedCookie, hashKeyOf, keyHash } from './load-balancer.js';
import { isTargetError, parseTarget } from './request-target.js';
import { rewritePath, redirectLocation } from './rewrites.js';
import { findVirtualHost, matchRoute, pickBackend, queryValue, type RequestView } from './router.js';

export interface SimRequest {
  readonly method?: string;
  /** Absolute ("http://httpbin:8000/x?y=1") or origin form ("/x?y=1", with a `host` header). */
  readonly url: string;
  /** Header names in any case; `host` is the authority for origin-form URLs. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly remoteAddress?: string;
}

export interface SimOptions {
  /** Uniform draws in [0, 1) for weights, fault and mirror percentages, random balancing. */
  readonly random?: () => number;
  /** Round-robin cursors by cluster name, kept across calls to walk a round robin. */
  readonly cursors?: Map<string, { rr: number }>;
  /** Finds the virtual host (default: the outbound listener's, like `umbra run`). */
  readonly resolve?: (table: RouteTable, authority: string) => VirtualHost | undefined;
}

export interface SimMirror {
  readonly name: string;
  readonly cluster: string;
  readonly ppm: number;
  /** Whether this request's draw took the copy (sampling only; caps and breakers are runtime state). */
  readonly sampled: boolean;
  /** Host the copy is sent with. */
  readonly authority: string;
}

export interface SimResult {
  /** What happens: answered here, redirected, or forwarded upstream. */
  readonly outcome: 'local' | 'redirect' | 'direct' | 'forward' | 'preflight';
  /** Status for everything but `forward` (the upstream decides that one). */
  readonly status?: number;
  /** Envoy response flag for local outcomes (NR, UH, FI…) and fault delays (DI); '-' otherwise. */
  readonly flag: string;
  readonly vhost?: string;
  readonly route?: string;
  readonly origin?: RouteOrigin;
  readonly cluster?: string;
  /** "address:port". */
  readonly endpoint?: string;
  /** Path and query sent upstream. */
  readonly path?: string;
  /** Host sent upstream. */
  readonly authority?: string;
  /** Request headers after the route's and the backend's operations (names lower case). */
  readonly requestHeaders?: readonly (readonly [string, string])[];
  readonly responseHeaderOps?: readonly HeaderOps[];
  /** Headers of a CORS preflight answer, or CORS headers added to the response. */
  readonly cors?: readonly (readonly [string, string])[];
  readonly location?: string;
  readonly body?: string;
  readonly delayMs?: number;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly mirrors: readonly SimMirror[];
}

const draw = (random: () => number, ppm: number) => ppm >= PPM_ALL || (ppm > 0 && random() * PPM_ALL < ppm);

/** Runs `req` through `table` as the proxy would, without sending anything. */
export function simulate(table: RouteTable, req: SimRequest, o: SimOptions = {}): SimResult {
  const random = o.random ?? Math.random;
  const method = (req.method ?? 'GET').toUpperCase();
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const target = parseTarget(req.url, headers.host, undefined, method);
  if (isTargetError(target)) return { outcome: 'local', status: target.status, flag: 'DPE', mirrors: [] };
  const vhost = (o.resolve ?? findVirtualHost)(table, target.authority);
  if (!vhost) return { outcome: 'local', status: 404, flag: 'NR', mirrors: [] };
  const view: RequestView = {
    method,
    path: target.path,
    query: target.query,
    authority: target.authority,
    port: target.port,
    scheme: target.scheme,
    headers,
  };
  const route = matchRoute(vhost, view);
  if (!route) return { outcome: 'local', status: 404, flag: 'NR', vhost: vhost.name, mirrors: [] };
  const base = { vhost: vhost.name, route: route.name, origin: route.origin };

  let cors: readonly (readonly [string, string])[] | undefined;
  if (route.cors) {
    const d = corsDecision(route.cors, method, headers);
    if (d && 'preflight' in d)
      return { ...base, outcome: 'preflight', status: 200, flag: '-', cors: d.preflight, mirrors: [] };
    if (d && d.response.length > 0) cors = d.response;
  }
  let flag = '-';
  let delayMs: number | undefined;
  const f = route.fault;
  if (f?.delay && f.delay.ms > 0 && draw(random, f.delay.ppm)) {
    delayMs = f.delay.ms;
    flag = 'DI';
  }
  if (f?.abort && draw(random, f.abort.ppm))
    return {
      ...base,
      outcome: 'local',
      status: f.abort.status,
      flag: flag === 'DI' ? 'DI,FI' : 'FI',
      delayMs,
      cors,
      mirrors: [],
    };
  return forwardOrAnswer(table, route, target, headers, req, random, o, { ...base, flag, delayMs, cors });
}

function forwardOrAnswer(
  table: RouteTable,
  route: Route,
  target: Exclude<ReturnType<typeof parseTarget>, { message: string }>,
  headers: IncomingHttpHeaders,
  req: SimRequest,
  random: () => number,
  o: SimOptions,
  base: Pick<SimResult, 'vhost' | 'route' | 'origin' | 'flag' | 'delayMs' | 'cors'>,
): SimResult {
  const action = route.action;
  if (action.kind === 'direct')
    return {
      ...base,
      outcome: 'direct',
      status: action.status,
      body: action.body ?? '',
      responseHeaderOps: route.responseHeaders ? [route.responseHeaders] : [],
      mirrors: [],
    };
  if (action.kind === 'redirect')
    return {
      ...base,
      outcome: 'redirect',
      status: action.status,
      location: redirectLocation(action, target),
      mirrors: [],
    };

  const backend = pickBackend(action.backends, action.totalWeight, random());
  const cluster = backend?.cluster !== undefined ? table.clusters.get(backend.cluster) : undefined;
  if (!backend || !cluster)
    return { ...base, outcome: 'local', status: action.noBackendStatus, flag: 'UH', mirrors: [] };
  const path = action.rewrite?.path ? rewritePath(action.rewrite.path, target.path) : target.path;
  const authority = action.rewrite?.authority ?? backend.authority ?? target.authority;
  const respOps: HeaderOps[] = [];
  if (route.responseHeaders) respOps.push(route.responseHeaders);
  if (backend.responseHeaders) respOps.push(backend.responseHeaders);

  let key: string | undefined;
  if (cluster.lb.kind === 'hash') {
    key = hashKeyOf(
      cluster.lb,
      { headers, query: target.query, remoteAddress: req.remoteAddress },
      queryValue,
    );
    if (key === undefined && req.remoteAddress) {
      const g = generatedCookie(cluster.lb, req.remoteAddress);
      if (g) {
        key = g.value;
        respOps.push({ add: [['set-cookie', g.setCookie]] });
      }
    }
  }
  const cursor = o.cursors?.get(cluster.name) ?? { rr: 0 };
  o.cursors?.set(cluster.name, cursor);
  const endpoint = chooseEndpoint(cluster, {
    hash: key !== undefined ? keyHash(key) : undefined,
    cursor,
    random,
  });
  if (!endpoint)
    return { ...base, outcome: 'local', status: 503, flag: 'UH', cluster: cluster.name, mirrors: [] };

  let upstreamHeaders: string[] = ['host', authority];
  for (const [k, v] of Object.entries(headers))
    if (k !== 'host' && typeof v === 'string') upstreamHeaders.push(k, v);
  upstreamHeaders = applyHeaderOps(
    applyHeaderOps(upstreamHeaders, route.requestHeaders),
    backend.requestHeaders,
  );
  const pairs: [string, string][] = [];
  for (let i = 0; i < upstreamHeaders.length; i += 2)
    pairs.push([upstreamHeaders[i], upstreamHeaders[i + 1]]);

  return {
    ...base,
    outcome: 'forward',
    cluster: cluster.name,
    endpoint: `${endpoint.address}:${endpoint.port}`,
    path: target.query ? `${path}?${target.query}` : path,
    authority,
    requestHeaders: pairs,
    responseHeaderOps: respOps,
    timeoutMs: action.timeoutMs,
    retry: action.retry,
    mirrors: action.mirrors.map((m: MirrorPolicy) => ({
      name: m.name,
      cluster: m.cluster,
      ppm: m.ppm,
      sampled: draw(random, m.ppm),
      authority: shadowAuthority(m.authority, authority),
    })),
  };
}
