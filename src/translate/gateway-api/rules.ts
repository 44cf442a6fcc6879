// Translates one HTTPRoute into proxy routes: one Route per match of every rule, each with its
// precedence key, plus the route's verdicts — Accepted (every filter supported) and ResolvedRefs
// (every backend found and permitted). A route that is not accepted yields no routes at all, so it
// is never half-applied. Semantics: HTTPRouteRule / HTTPRouteFilter, gateway.networking.k8s.io/v1.

import type { Resource } from '../../config/resource.js';
import type {
  HTTPBackendRef,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  HTTPRouteSpec,
} from '../../config/schemas/gateway-api.js';
import { exact, regex, segmentPrefix, type Matcher } from '../../model/matchers.js';
import { fractionToPpm, percentToPpm, PPM_ALL } from '../../model/percent.js';
import type {
  CorsPolicy,
  HeaderMatch,
  HeaderOps,
  MirrorPolicy,
  MirrorSource,
  QueryMatch,
  RedirectAction,
  Route,
  RouteAction,
  RetryPolicy,
  RouteMatch,
  WeightedBackend,
} from '../../model/route-table.js';
import { parseDurationMs } from '../../config/duration.js';
import { istioRetryPolicy, ISTIO_DEFAULT_RETRY_ON } from '../istio-routes.js';
import { issueAt } from '../issue-at.js';
import { findMirrorPolicy, linkBaselines, mirrorPolicy } from '../mirror-policies.js';
import { resolveBackend, type BackendRefLike } from './backends.js';
import type { GatewayApiContext } from './context.js';
import { corsPolicy, headerOps, pathReplacement, schemePort } from './filters.js';
import { resourceName, type PrecedenceKey } from './precedence.js';
import {
  ACCEPTED,
  REFS_RESOLVED,
  type RouteAcceptedReason,
  type RouteResolvedRefsReason,
  type Verdict,
} from './status.js';

export interface RouteEntry {
  readonly route: Route;
  readonly key: PrecedenceKey;
  /** A redirect with neither scheme nor port: its Location carries the listener's port. */
  readonly redirectToListenerPort: boolean;
}

export interface CompiledRoute {
  readonly resource: Resource<HTTPRouteSpec>;
  /** Empty when the route is not accepted. */
  readonly entries: readonly RouteEntry[];
  readonly accepted: Verdict<RouteAcceptedReason>;
  readonly refs: Verdict<RouteResolvedRefsReason>;
}

/** Filter types Umbra implements, on rules and on backendRefs. */
const RULE_FILTERS = new Set([
  'RequestHeaderModifier',
  'ResponseHeaderModifier',
  'RequestRedirect',
  'URLRewrite',
  'RequestMirror',
  'CORS',
]);
const BACKEND_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier']);

/** Per-route translation state: the first problem of each kind decides the verdicts. */
class RouteProblems {
  accepted: Verdict<RouteAcceptedReason> = ACCEPTED;
  refs: Verdict<RouteResolvedRefsReason> = REFS_RESOLVED;

  constructor(
    private readonly ctx: GatewayApiContext,
    private readonly hr: Resource,
  ) {}

  unsupported(path: string, message: string): void {
    if (this.accepted.ok) this.accepted = { ok: false, reason: 'UnsupportedValue', message };
    this.ctx.build.issues.push(
      issueAt(
        this.hr,
        path,
        'warning',
        `${message}; the route is not served`,
        'Umbra reports it as Accepted=False (UnsupportedValue) and serves none of its rules',
      ),
    );
  }

  reference(path: string, problem: Verdict<RouteResolvedRefsReason>, consequence: string): void {
    if (this.refs.ok) this.refs = problem;
    this.ctx.build.issues.push(
      issueAt(this.hr, path, 'warning', `${problem.message} (${problem.reason})`, consequence),
    );
  }
}

function matcherOf(type: string, value: string): Matcher {
  return type === 'RegularExpression' ? regex(value) : exact(value);
}

/** Only the first entry for a header (case-insensitive) or query param (exact) name counts. */
function firstByName<T extends { name: string }>(
  list: readonly T[] | undefined,
  norm: (n: string) => string,
): T[] {
  const seen = new Set<string>();
  return (list ?? []).filter((x) => {
    const k = norm(x.name);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function routeMatch(m: HTTPRouteMatch): { match: RouteMatch; headers: number; queryParams: number } {
  const p = m.path;
  const path =
    p.type === 'Exact' ? exact(p.value) : p.type === 'PathPrefix' ? segmentPrefix(p.value) : regex(p.value);
  const headers: HeaderMatch[] = firstByName(m.headers, (n) => n.toLowerCase()).map((h) => ({
    name: h.name.toLowerCase(),
    value: matcherOf(h.type, h.value),
  }));
  const queryParams: QueryMatch[] = firstByName(m.queryParams, (n) => n).map((q) => ({
    name: q.name,
    value: matcherOf(q.type, q.value),
  }));
  return {
    match: {
      path,
      method: m.method ? exact(m.method) : undefined,
      headers: headers.length > 0 ? headers : undefined,
      queryParams: queryParams.length > 0 ? queryParams : undefined,
    },
    headers: headers.length,
    queryParams: queryParams.length,
  };
}

function precedence(
  hr: Resource,
  m: HTTPRouteMatch,
  headers: number,
  queryParams: number,
  rule: number,
  match: number,
): PrecedenceKey {
  return {
    pathRank: m.path.type === 'Exact' ? 3 : m.path.type === 'PathPrefix' ? 2 : 1,
    pathLength: m.path.value.length,
    hasMethod: m.method !== undefined,
    headers,
    queryParams,
    created: hr.metadata.creationTimestamp ?? '',
    id: resourceName(hr),
    rule,
    match,
  };
}

interface RuleParts {
  requestHeaders?: HeaderOps;
  responseHeaders?: HeaderOps;
  redirect?: NonNullable<HTTPRouteFilter['requestRedirect']>;
  rewrite?: NonNullable<HTTPRouteFilter['urlRewrite']>;
  cors?: CorsPolicy;
  mirrors: MirrorPolicy[];
}

function mirrorFilter(
  ctx: GatewayApiContext,
  hr: Resource,
  problems: RouteProblems,
  path: string,
  m: NonNullable<HTTPRouteFilter['requestMirror']>,
  copyOf: MirrorSource | undefined,
): MirrorPolicy | undefined {
  // Neither percent nor fraction: every request (HTTPRequestMirrorFilter).
  const ppm = m.fraction
    ? fractionToPpm(m.fraction.numerator, m.fraction.denominator)
    : m.percent !== undefined
      ? percentToPpm(m.percent)
      : PPM_ALL;
  if (ppm === 0) return undefined;
  const r = resolveBackend(ctx, hr, m.backendRef as BackendRefLike);
  if (r.problem || !r.cluster || !r.svc) {
    problems.reference(
      `${path}.requestMirror.backendRef`,
      r.problem ?? { ok: false, reason: 'BackendNotFound', message: 'mirror backend not found' },
      'no copies are sent for this mirror',
    );
    return undefined;
  }
  const policy = findMirrorPolicy(
    ctx.build.mirrorPolicies,
    r.svc,
    undefined,
    ctx.build.clusters.destinationRuleFor(r.svc),
  );
  const mp = mirrorPolicy(
    r.cluster,
    `${r.svc.name}.${r.svc.namespace}`,
    ppm,
    policy,
    ctx.build.mirrorDefaults,
  );
  return copyOf ? { ...mp, copyOf } : mp;
}

/** Rule-level filters in listed order; each RequestMirror sees only what was listed before it. */
function ruleParts(
  ctx: GatewayApiContext,
  hr: Resource,
  problems: RouteProblems,
  rule: HTTPRouteRule,
  path: string,
): RuleParts {
  const filters = rule.filters ?? [];
  const parts: RuleParts = { mirrors: [] };
  const indexOf = (t: string) => filters.findIndex((f) => f.type === t);
  const headerAt = indexOf('RequestHeaderModifier');
  const rewriteAt = indexOf('URLRewrite');
  const backendHeaders = (rule.backendRefs ?? []).some((b) =>
    (b.filters ?? []).some((f) => f.type === 'RequestHeaderModifier'),
  );
  filters.forEach((f, fi) => {
    const at = `${path}.filters[${fi}]`;
    if (!RULE_FILTERS.has(f.type))
      return problems.unsupported(at, `filter type ${f.type} is not supported by Umbra`);
    switch (f.type) {
      case 'RequestHeaderModifier':
        parts.requestHeaders = headerOps(f.requestHeaderModifier);
        break;
      case 'ResponseHeaderModifier':
        parts.responseHeaders = headerOps(f.responseHeaderModifier);
        break;
      case 'RequestRedirect':
        parts.redirect = f.requestRedirect;
        break;
      case 'URLRewrite':
        parts.rewrite = f.urlRewrite;
        break;
      case 'CORS':
        parts.cors = corsPolicy(f.cors);
        break;
      case 'RequestMirror': {
        const seesHeaders = headerAt !== -1 && headerAt < fi;
        const seesRewrite = rewriteAt === -1 || rewriteAt < fi;
        // The copy differs from the primary's request only if a change it must not see exists.
        const differs = (headerAt !== -1 && !seesHeaders) || !seesRewrite || backendHeaders;
        const copyOf: MirrorSource | undefined = differs
          ? {
              requestHeaders: seesHeaders ? headerOps(filters[headerAt].requestHeaderModifier) : undefined,
              rewritten: seesRewrite,
            }
          : undefined;
        const mp = f.requestMirror && mirrorFilter(ctx, hr, problems, at, f.requestMirror, copyOf);
        if (mp) parts.mirrors.push(mp);
        break;
      }
    }
  });
  // Comparison with a baseline (issue 9): the policy's baseline must be another mirror of this rule.
  if (parts.mirrors.some((m) => m.compare?.baselineTarget))
    parts.mirrors = linkBaselines(
      parts.mirrors,
      (host, ns) => ctx.build.registry.resolve(host, ns)?.fqdn,
      (m, message) =>
        ctx.build.issues.push(
          issueAt(hr, path, 'warning', message, `MirrorPolicy ${m.policy ?? ''} sets compare.baseline`),
        ),
    );
  return parts;
}

function backends(
  ctx: GatewayApiContext,
  hr: Resource,
  problems: RouteProblems,
  refs: readonly HTTPBackendRef[],
  path: string,
): WeightedBackend[] {
  return refs.map((b, bi) => {
    const at = `${path}.backendRefs[${bi}]`;
    let requestHeaders: HeaderOps | undefined;
    let responseHeaders: HeaderOps | undefined;
    (b.filters ?? []).forEach((f, fi) => {
      if (!BACKEND_FILTERS.has(f.type))
        return problems.unsupported(
          `${at}.filters[${fi}]`,
          `filter type ${f.type} on a backendRef is not supported by Umbra`,
        );
      if (f.type === 'RequestHeaderModifier') requestHeaders = headerOps(f.requestHeaderModifier);
      else responseHeaders = headerOps(f.responseHeaderModifier);
    });
    const r = resolveBackend(ctx, hr, b);
    // An invalid backend keeps its weight: the requests it would have had are answered 500.
    if (r.problem)
      problems.reference(
        at,
        r.problem,
        b.weight > 0
          ? 'requests that would go to it are answered 500'
          : 'it has weight 0 and gets no requests anyway',
      );
    return { cluster: r.problem ? undefined : r.cluster, weight: b.weight, requestHeaders, responseHeaders };
  });
}

/**
 * Retries as Istio gives them to HTTPRoutes: without `retry`, Istio's default policy (2 retries on
 * connect failures and 503); with it, `attempts` (0 = none), `codes` as retriable status codes and
 * `backoff` as the base interval (HTTPRouteRetry, GEP-1731). Each attempt is bounded by
 * timeouts.backendRequest.
 */
function retryPolicy(
  ctx: GatewayApiContext,
  rule: HTTPRouteRule,
  weighted: WeightedBackend[],
): RetryPolicy | undefined {
  const r = rule.retry;
  if (r?.attempts === 0) return undefined;
  const lone =
    weighted.length === 1 && weighted[0].cluster !== undefined
      ? ctx.build.clusters.clusters.get(weighted[0].cluster)
      : undefined;
  const retryOn =
    r?.codes && r.codes.length > 0
      ? `connect-failure,refused-stream,unavailable,cancelled,${r.codes.join(',')}`
      : ISTIO_DEFAULT_RETRY_ON;
  const base = istioRetryPolicy(
    r ? { attempts: r.attempts, retryOn, backoff: r.backoff } : undefined,
    lone?.lb.kind === 'hash',
  );
  return base && { ...base, perTryTimeoutMs: parseDurationMs(rule.timeouts?.backendRequest) ?? 0 };
}

function action(
  ctx: GatewayApiContext,
  rule: HTTPRouteRule,
  parts: RuleParts,
  match: HTTPRouteMatch,
  weighted: WeightedBackend[],
): { action: RouteAction; toListenerPort: boolean } {
  const rd = parts.redirect;
  if (rd) {
    // Port: explicit; else the scheme's well-known port; else the listener's (filled in per parent).
    const port = rd.port ?? (rd.scheme ? schemePort(rd.scheme) : undefined);
    const redirect: RedirectAction = {
      kind: 'redirect',
      scheme: rd.scheme,
      host: rd.hostname,
      port,
      path: pathReplacement(rd.path, match),
      status: rd.statusCode,
    };
    return { action: redirect, toListenerPort: port === undefined };
  }
  const rw = parts.rewrite;
  return {
    action: {
      kind: 'forward',
      backends: weighted,
      totalWeight: weighted.reduce((a, b) => a + b.weight, 0),
      // HTTPRouteRule.backendRefs: no valid backend (or only weight 0) → 500.
      noBackendStatus: 500,
      rewrite:
        rw && (rw.hostname !== undefined || rw.path)
          ? { path: pathReplacement(rw.path, match), authority: rw.hostname }
          : undefined,
      timeoutMs: parseDurationMs(rule.timeouts?.request) ?? 0,
      perTryTimeoutMs: parseDurationMs(rule.timeouts?.backendRequest) ?? 0,
      retry: retryPolicy(ctx, rule, weighted),
      mirrors: parts.mirrors,
    },
    toListenerPort: false,
  };
}

export function compileRoute(ctx: GatewayApiContext, hr: Resource<HTTPRouteSpec>): CompiledRoute {
  const problems = new RouteProblems(ctx, hr);
  const entries: RouteEntry[] = [];
  const { namespace, name } = hr.metadata;
  hr.spec.rules.forEach((rule, ri) => {
    const path = `spec.rules[${ri}]`;
    const parts = ruleParts(ctx, hr, problems, rule, path);
    const weighted = parts.redirect ? [] : backends(ctx, hr, problems, rule.backendRefs ?? [], path);
    if (parts.redirect && parts.mirrors.length > 0)
      ctx.build.issues.push(
        issueAt(
          hr,
          `${path}.filters`,
          'warning',
          'RequestMirror has no effect on a rule that redirects (nothing is forwarded to copy)',
        ),
      );
    rule.matches.forEach((m, mi) => {
      const { match, headers, queryParams } = routeMatch(m);
      const { action: act, toListenerPort } = action(ctx, rule, parts, m, weighted);
      const base = rule.name ? `${namespace}/${name}/${rule.name}` : `${namespace}/${name}#${ri}`;
      entries.push({
        route: {
          name: rule.matches.length > 1 ? `${base}.${mi}` : base,
          origin: { kind: 'HTTPRoute', namespace, name, path: `${path}.matches[${mi}]` },
          match,
          action: act,
          requestHeaders: parts.requestHeaders,
          responseHeaders: parts.responseHeaders,
          cors: parts.cors,
        },
        key: precedence(hr, m, headers, queryParams, ri, mi),
        redirectToListenerPort: toListenerPort,
      });
    });
  });
  return {
    resource: hr,
    entries: problems.accepted.ok ? entries : [],
    accepted: problems.accepted,
    refs: problems.refs,
  };
}

/** The entries' routes for one listener port, with listener-port redirects filled in. */
export function routesForPort(entries: readonly RouteEntry[], port: number): Route[] {
  return entries.map((e) =>
    e.redirectToListenerPort && e.route.action.kind === 'redirect'
      ? { ...e.route, action: { ...e.route.action, port } }
      : e.route,
  );
}
