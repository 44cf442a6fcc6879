// Translates Istio VirtualService HTTP rules (networking.istio.io) into proxy routes: matches,
// weighted destinations, rewrites, redirects, header operations, faults, CORS and mirrors.
// Field semantics follow istio.io/latest/docs/reference/config/networking/virtual-service/.

import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import { exact, prefix, regex, RegexSyntaxError, type Matcher } from '../model/matchers.js';
import { percentToPpm, PPM_ALL } from '../model/percent.js';
import { parseRetryOn } from '../model/retry-on.js';
import type {
  CorsPolicy,
  FaultPolicy,
  HeaderMatch,
  HeaderOps,
  MirrorPolicy,
  PathReplacement,
  QueryMatch,
  Route,
  RouteAction,
  RetryPolicy,
  RouteMatch,
  WeightedBackend,
} from '../model/route-table.js';
import type { ClusterBuilder } from './clusters.js';
import { parseDurationMs } from '../config/duration.js';
import { formatPath } from '../config/yaml-source.js';
import { issueAt } from './issue-at.js';
import { grpcStatusCode, httpStatusForGrpc } from '../model/grpc-status.js';
import { expandRules } from './istio-delegates.js';
import { findMirrorPolicy, linkBaselines, mirrorPolicy, type MirrorDefaults } from './mirror-policies.js';
import type { MeshService, ServiceRegistry } from './service-registry.js';

export type StringMatch = { exact?: string; prefix?: string; regex?: string };
interface Destination {
  host: string;
  subset?: string;
  port?: { number?: number };
}
interface IstioHeaders {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}
export interface HttpMatch {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  port?: number;
  ignoreUriCase?: boolean;
  /** Conditions on the client or the gateway; Umbra's clients have no labels and are the mesh. */
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
}
interface Percent {
  value?: number;
}
export interface IstioHttpRule {
  name?: string;
  match?: HttpMatch[];
  route?: {
    destination: Destination;
    weight?: number;
    headers?: { request?: IstioHeaders; response?: IstioHeaders };
  }[];
  redirect?: {
    uri?: string;
    prefixRewrite?: string;
    authority?: string;
    port?: number;
    derivePort?: string;
    scheme?: string;
    redirectCode?: number;
  };
  directResponse?: { status: number; body?: { string?: string; bytes?: string } };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match: string; rewrite: string } };
  delegate?: { name: string; namespace?: string };
  timeout?: string;
  retries?: {
    attempts?: number;
    perTryTimeout?: string;
    retryOn?: string;
    retryIgnorePreviousHosts?: boolean;
    backoff?: string;
  };
  fault?: {
    delay?: { fixedDelay?: string; percentage?: Percent; percent?: number };
    abort?: { httpStatus?: number; grpcStatus?: string; percentage?: Percent };
  };
  mirror?: Destination;
  mirrorPercentage?: Percent;
  mirrorPercent?: number;
  mirrors?: { destination: Destination; percentage?: Percent }[];
  corsPolicy?: {
    allowOrigins?: StringMatch[];
    allowOrigin?: string[];
    allowMethods?: string[];
    allowHeaders?: string[];
    exposeHeaders?: string[];
    maxAge?: string;
    allowCredentials?: boolean;
    unmatchedPreflights?: string;
  };
  headers?: { request?: IstioHeaders; response?: IstioHeaders };
}
export interface VirtualServiceView {
  hosts?: string[];
  gateways?: string[];
  http?: IstioHttpRule[];
}

/** Istio applies a VirtualService (or a match block's `gateways`) to sidecars only with `mesh` listed. */
export const appliesToMesh = (gateways: readonly string[] | undefined) =>
  !gateways || gateways.length === 0 || gateways.includes('mesh');

/**
 * Whether a match block can match a request from Umbra's clients. Istio filters blocks by the
 * client's gateway, workload labels and namespace when it builds a proxy's routes; Umbra's clients
 * are the mesh, in Umbra's namespace, with no labels, so a block narrowed to a gateway, to source
 * labels or to another namespace never matches (ignoring the condition would send every request there).
 */
const reachableFromMesh = (m: HttpMatch, clientNamespace: string | undefined) =>
  appliesToMesh(m.gateways) &&
  (m.sourceLabels === undefined || Object.keys(m.sourceLabels).length === 0) &&
  (m.sourceNamespace === undefined || m.sourceNamespace === clientNamespace);

/** The Istio Gateway whose listener the routes are built for (istio-gateways.ts). */
export interface GatewayScope {
  /** "namespace/name". */
  readonly name: string;
  /** Umbra's own labels (`umbra run --labels`): a gateway workload's labels, for `sourceLabels`. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A gateway reference of a VirtualService as "namespace/name" (a bare name is in the VS's namespace). */
export const qualifyGateway = (g: string, vsNamespace: string) =>
  g.includes('/') ? g : `${vsNamespace}/${g}`;

/**
 * Whether a match block applies on an Istio Gateway: its `gateways` (when given) name that gateway,
 * and its sourceLabels are among the gateway workload's labels (Istio filters blocks the same way).
 */
const reachableFromGateway = (
  m: HttpMatch,
  gw: GatewayScope,
  vsNamespace: string,
  clientNamespace?: string,
) =>
  (!m.gateways ||
    m.gateways.length === 0 ||
    m.gateways.some((g) => qualifyGateway(g, vsNamespace) === gw.name)) &&
  Object.entries(m.sourceLabels ?? {}).every(([k, v]) => gw.labels[k] === v) &&
  (m.sourceNamespace === undefined || m.sourceNamespace === clientNamespace);

export interface IstioContext {
  readonly registry: ServiceRegistry;
  readonly clusters: ClusterBuilder;
  readonly mirrorPolicies: readonly Resource[];
  readonly mirrorDefaults: MirrorDefaults;
  readonly issues: ConfigIssue[];
  /** Host-less VirtualServices by "namespace/name", for `http[].delegate`. */
  readonly delegates?: ReadonlyMap<string, Resource>;
  /** The namespace Umbra's clients are in (`--namespace`), for `sourceNamespace`. */
  readonly clientNamespace?: string;
}

/**
 * Compiles one StringMatch, turning a non-RE2 pattern into a config issue. `ignoreCase` (Istio
 * ignoreUriCase) applies to exact and prefix only: Envoy's case_sensitive does not touch regexes.
 */
function stringMatcher(
  vs: Resource,
  path: string,
  m: StringMatch | undefined,
  issues: ConfigIssue[],
  ignoreCase = false,
): Matcher | undefined | null {
  if (!m) return undefined;
  try {
    if (m.exact !== undefined) return exact(m.exact, ignoreCase);
    if (m.prefix !== undefined) return prefix(m.prefix, ignoreCase);
    if (m.regex !== undefined) return regex(m.regex);
  } catch (e) {
    if (e instanceof RegexSyntaxError) {
      issues.push(issueAt(vs, `${path}.regex`, 'error', e.message));
      return null;
    }
    throw e;
  }
  return undefined; // {} — presence only
}

/** Istio turns `regex: "*"` (not RE2) into a presence test, like an empty match (istio #20629). */
function presenceOr(vs: Resource, path: string, m: StringMatch, issues: ConfigIssue[]): Matcher | undefined {
  if (m.regex === '*') return undefined;
  return stringMatcher(vs, path, m, issues) ?? undefined;
}

/** `path` + a map key, quoted when it is not a plain name ("headers[\"@request.auth.claims.sub\"]"). */
const keyPath = (path: string, key: string) => path + formatPath(['_', key]).slice(1);

/** A condition no request meets (JWT claim headers: Umbra validates no JWTs, so no claims exist). */
const NEVER: Matcher = { kind: 'exact', value: '\u0000never', test: () => false };

function headerMatches(
  vs: Resource,
  path: string,
  map: Record<string, StringMatch> | undefined,
  issues: ConfigIssue[],
): HeaderMatch[] | undefined {
  if (!map) return undefined;
  return Object.entries(map).map(([name, m]) => {
    if (name.startsWith('@request.auth.claims')) {
      issues.push(
        issueAt(
          vs,
          keyPath(path, name),
          'warning',
          'JWT claim matching is not supported by Umbra (it validates no JWTs); this condition never matches',
        ),
      );
      return { name: name.toLowerCase(), value: NEVER };
    }
    return { name: name.toLowerCase(), value: presenceOr(vs, keyPath(path, name), m, issues) };
  });
}

function queryMatches(
  vs: Resource,
  path: string,
  map: Record<string, StringMatch> | undefined,
  issues: ConfigIssue[],
): QueryMatch[] | undefined {
  if (!map) return undefined;
  return Object.entries(map).map(([name, m]) => ({
    name,
    value: presenceOr(vs, keyPath(path, name), m, issues),
  }));
}

/** Pseudo-headers a match may test through `headers`, and the match field each one is. */
const PSEUDO_FIELDS = { ':method': 'method', ':authority': 'authority', ':scheme': 'scheme' } as const;

/**
 * Istio passes a header match on `:method`, `:authority` or `:scheme` to Envoy, which tests the
 * request's method, authority or scheme — the same as the `method`/`authority`/`scheme` fields, so
 * they are moved there. Both given at once (Envoy would test both) and `:path`/`:status`, or any
 * pseudo-header under withoutHeaders, are refused: Umbra has no single matcher for them.
 */
function splitPseudoHeaders(
  vs: Resource,
  path: string,
  m: HttpMatch,
  issues: ConfigIssue[],
): { match: HttpMatch; ok: boolean } {
  let ok = true;
  const refuse = (at: string, message: string) => {
    issues.push(issueAt(vs, at, 'error', message));
    ok = false;
  };
  for (const k of Object.keys(m.withoutHeaders ?? {}))
    if (k.startsWith(':'))
      refuse(
        keyPath(`${path}.withoutHeaders`, k),
        `withoutHeaders on pseudo-header ${k} is not supported by Umbra`,
      );
  if (!m.headers || !Object.keys(m.headers).some((k) => k.startsWith(':'))) return { match: m, ok };
  const headers: Record<string, StringMatch> = {};
  const out: HttpMatch = { ...m, headers };
  for (const [k, v] of Object.entries(m.headers)) {
    if (!k.startsWith(':')) {
      headers[k] = v;
      continue;
    }
    const field = PSEUDO_FIELDS[k as keyof typeof PSEUDO_FIELDS];
    const at = keyPath(`${path}.headers`, k);
    if (!field) refuse(at, `matching on ${k} is not supported by Umbra`);
    else if (m[field] !== undefined) refuse(at, `${k} is matched twice: here and in ${field}; keep one`);
    else if (v.exact === undefined && v.prefix === undefined && (v.regex === undefined || v.regex === '*'))
      continue; // presence: every request has a method, an authority and a scheme
    else out[field] = v;
  }
  return { match: out, ok };
}

function routeMatch(vs: Resource, path: string, raw: HttpMatch, issues: ConfigIssue[]): RouteMatch {
  const { match: m, ok } = splitPseudoHeaders(vs, path, raw, issues);
  if (!ok) return { path: NEVER };
  return {
    path: stringMatcher(vs, `${path}.uri`, m.uri, issues, m.ignoreUriCase) ?? undefined,
    scheme: stringMatcher(vs, `${path}.scheme`, m.scheme, issues) ?? undefined,
    method: stringMatcher(vs, `${path}.method`, m.method, issues) ?? undefined,
    authority: stringMatcher(vs, `${path}.authority`, m.authority, issues) ?? undefined,
    port: m.port,
    headers: headerMatches(vs, `${path}.headers`, m.headers, issues),
    queryParams: queryMatches(vs, `${path}.queryParams`, m.queryParams, issues),
    withoutHeaders: headerMatches(vs, `${path}.withoutHeaders`, m.withoutHeaders, issues),
    ignoreCase: m.ignoreUriCase,
  };
}

/** Pseudo-headers and Host are never set or removed as headers (istio TranslateHeadersOperations). */
const isInternalHeader = (k: string) => k.startsWith(':') || k === 'host';
const isAuthorityHeader = (k: string) => k === ':authority' || k === 'host';

export function istioHeaderOps(h: IstioHeaders | undefined): HeaderOps | undefined {
  if (!h) return undefined;
  const pairs = (m: Record<string, string> | undefined) => {
    const out = m
      ? Object.entries(m)
          .map(([k, v]) => [k.toLowerCase(), v] as const)
          .filter(([k]) => !isInternalHeader(k))
      : [];
    return out.length > 0 ? out : undefined;
  };
  const remove = h.remove?.map((x) => x.toLowerCase()).filter((k) => !isInternalHeader(k));
  const ops: HeaderOps = {
    set: pairs(h.set),
    add: pairs(h.add),
    remove: remove && remove.length > 0 ? remove : undefined,
  };
  return ops.set || ops.add || ops.remove ? ops : undefined;
}

/** `host` / `:authority` under headers.request set (or add) rewrite the authority in Istio. */
function headerAuthority(h: IstioHeaders | undefined): string | undefined {
  const find = (m: Record<string, string> | undefined) =>
    Object.entries(m ?? {}).find(([k]) => isAuthorityHeader(k.toLowerCase()))?.[1];
  return find(h?.set) ?? find(h?.add);
}

/** Picks the service port for a destination: explicit, else the service's only port, else the listener's. */
function destinationPort(
  svc: MeshService,
  dest: Destination,
  listenerPort: number | undefined,
): number | undefined {
  if (dest.port?.number) return dest.port.number;
  if (svc.ports.length === 1) return svc.ports[0].port;
  if (listenerPort !== undefined && svc.ports.some((p) => p.port === listenerPort)) return listenerPort;
  return undefined;
}

function resolveCluster(
  ctx: IstioContext,
  vs: Resource,
  path: string,
  dest: Destination,
  listenerPort: number | undefined,
  mirror = false,
): { cluster?: string; svc?: MeshService } {
  const svc = ctx.registry.resolve(dest.host, vs.metadata.namespace);
  if (!svc) {
    ctx.issues.push(
      mirror
        ? issueAt(
            vs,
            `${path}.host`,
            'warning',
            `mirror host "${dest.host}" does not resolve to any Service or ServiceEntry; no copies are sent`,
            'declare it with a Service (and WorkloadEntries) or a ServiceEntry',
          )
        : issueAt(
            vs,
            `${path}.host`,
            'warning',
            `host "${dest.host}" does not resolve to any Service or ServiceEntry`,
            'requests to it are answered 503 (no healthy upstream); declare it with a Service or a ServiceEntry',
          ),
    );
    return {};
  }
  const port = destinationPort(svc, dest, listenerPort);
  if (port === undefined) {
    // Istio takes the port the request came in on (the listener's) for a destination without one;
    // where the destination's service lacks it, that cluster does not exist and only requests on
    // this port fail (503) — the VirtualService is not refused (istiod accepts it).
    ctx.issues.push(
      issueAt(
        vs,
        `${path}.port`,
        'warning',
        listenerPort === undefined
          ? `service ${svc.fqdn} has several ports and none is given; requests are answered 503`
          : `service ${svc.fqdn} has no port ${listenerPort} and several others; requests on port ${listenerPort} are answered 503`,
        'set destination.port.number',
      ),
    );
    return { svc };
  }
  if (!svc.ports.some((p) => p.port === port)) {
    ctx.issues.push(
      issueAt(
        vs,
        `${path}.port.number`,
        'error',
        `service ${svc.fqdn} has no port ${port}`,
        `ports: ${svc.ports.map((p) => p.port).join(', ')}`,
      ),
    );
    return { svc };
  }
  return { cluster: ctx.clusters.get(svc, port, dest.subset, { resource: vs, path: `${path}.subset` }), svc };
}

function mirrors(
  ctx: IstioContext,
  vs: Resource,
  path: string,
  rule: IstioHttpRule,
  listenerPort: number | undefined,
): MirrorPolicy[] {
  const targets: { dest: Destination; ppm: number; path: string }[] = [];
  if (rule.mirror) {
    // Absent mirrorPercentage → 100 %; deprecated integer mirrorPercent applies only without it.
    const ppm =
      rule.mirrorPercentage !== undefined
        ? percentToPpm(rule.mirrorPercentage.value ?? 0)
        : rule.mirrorPercent !== undefined
          ? percentToPpm(rule.mirrorPercent)
          : PPM_ALL;
    targets.push({ dest: rule.mirror, ppm, path: `${path}.mirror` });
  }
  (rule.mirrors ?? []).forEach((m, i) =>
    targets.push({
      dest: m.destination,
      ppm: m.percentage ? percentToPpm(m.percentage.value ?? 0) : PPM_ALL,
      path: `${path}.mirrors[${i}].destination`,
    }),
  );
  const out: MirrorPolicy[] = [];
  for (const t of targets) {
    const { cluster, svc } = resolveCluster(ctx, vs, t.path, t.dest, listenerPort, true);
    if (!cluster || !svc || t.ppm === 0) continue;
    const policy = findMirrorPolicy(
      ctx.mirrorPolicies,
      svc,
      t.dest.subset,
      ctx.clusters.destinationRuleFor(svc),
    );
    out.push(
      mirrorPolicy(
        cluster,
        `${svc.name}.${svc.namespace}${t.dest.subset ? `|${t.dest.subset}` : ''}`,
        t.ppm,
        policy,
        ctx.mirrorDefaults,
      ),
    );
  }
  // Comparison with a baseline (issue 9): the policy's baseline must be one of this rule's mirrors.
  return linkBaselines(
    out,
    (host, ns) => ctx.registry.resolve(host, ns)?.fqdn,
    (m, message) =>
      ctx.issues.push(
        issueAt(vs, path, 'warning', message, `MirrorPolicy ${m.policy ?? ''} sets compare.baseline`),
      ),
  );
}

function pathRewrite(
  rule: IstioHttpRule,
  m: HttpMatch | undefined,
  vs: Resource,
  path: string,
  issues: ConfigIssue[],
): PathReplacement | undefined {
  const rw = rule.rewrite;
  if (!rw) return undefined;
  if (rw.uriRegexRewrite) {
    try {
      // Istio takes RE2 substitutions (\1); re2js's replaceAll wants $1.
      return {
        kind: 'regex',
        pattern: regex(rw.uriRegexRewrite.match),
        substitution: rw.uriRegexRewrite.rewrite.replace(/\\(\d)/g, '$$$1'),
      };
    } catch (e) {
      issues.push(issueAt(vs, `${path}.rewrite.uriRegexRewrite.match`, 'error', (e as Error).message));
      return undefined;
    }
  }
  if (!rw.uri) return undefined;
  return replaceMatched(m, rw.uri);
}

/**
 * Envoy's prefix_rewrite (Istio rewrite.uri, and redirect.prefixRewrite on a redirect) replaces what
 * the route matched: the prefix of a prefix match, the whole path of an exact or regex match, and
 * "/" when there is no uri match (so "/v2" on "/a" gives "/v2a", as it does under Istio).
 */
function replaceMatched(m: HttpMatch | undefined, value: string): PathReplacement {
  const uri = m?.uri;
  if (uri?.prefix !== undefined) return { kind: 'head', length: uri.prefix.length, value };
  if (uri?.exact !== undefined || uri?.regex !== undefined) return { kind: 'full', value };
  return { kind: 'head', length: 1, value };
}

/**
 * Istio: "If left unspecified, no request will be delayed" / "no request will be aborted" — an
 * absent percentage is 0 % (the deprecated integer `percent` still counts for delays).
 */
function fault(
  vs: Resource,
  path: string,
  rule: IstioHttpRule,
  issues: ConfigIssue[],
): FaultPolicy | undefined {
  const f = rule.fault;
  if (!f) return undefined;
  const pct = (p: Percent | undefined, legacy?: number) =>
    p ? percentToPpm(p.value ?? 0) : legacy !== undefined ? percentToPpm(legacy) : 0;
  const delay = f.delay?.fixedDelay
    ? { ms: parseDurationMs(f.delay.fixedDelay) ?? 0, ppm: pct(f.delay.percentage, f.delay.percent) }
    : undefined;
  const abort = f.abort?.httpStatus
    ? { status: f.abort.httpStatus, ppm: pct(f.abort.percentage) }
    : f.abort?.grpcStatus !== undefined
      ? grpcAbort(vs, path, f.abort.grpcStatus, pct(f.abort.percentage), issues)
      : undefined;
  if (delay && delay.ppm === 0 && !f.delay?.percentage)
    issues.push(
      issueAt(
        vs,
        `${path}.fault.delay`,
        'warning',
        'a delay without percentage delays no request (Istio: unspecified means 0 %)',
        'set percentage: {value: 100} to delay every request',
      ),
    );
  if (abort && abort.ppm === 0 && !f.abort?.percentage)
    issues.push(
      issueAt(
        vs,
        `${path}.fault.abort`,
        'warning',
        'an abort without percentage aborts no request (Istio: unspecified means 0 %)',
        'set percentage: {value: 100} to abort every request',
      ),
    );
  return delay || abort ? { delay, abort } : undefined;
}

/** fault.abort.grpcStatus: a gRPC status name ("UNAVAILABLE") or number, as Envoy's fault filter takes it. */
function grpcAbort(
  vs: Resource,
  path: string,
  name: string,
  ppm: number,
  issues: ConfigIssue[],
): { status: number; ppm: number; grpcStatus: number } | undefined {
  const code = grpcStatusCode(name);
  if (code === undefined) {
    issues.push(
      issueAt(
        vs,
        `${path}.fault.abort.grpcStatus`,
        'error',
        `"${name}" is not a gRPC status`,
        'use a name such as UNAVAILABLE, NOT_FOUND or DEADLINE_EXCEEDED, or a number 0-16',
      ),
    );
    return undefined;
  }
  return { status: httpStatusForGrpc(code), ppm, grpcStatus: code };
}

function cors(
  vs: Resource,
  path: string,
  rule: IstioHttpRule,
  issues: ConfigIssue[],
): CorsPolicy | undefined {
  const c = rule.corsPolicy;
  if (!c) return undefined;
  // allowOrigins wins over the deprecated allowOrigin (istio TranslateCORSPolicy); an exact "*"
  // allows every origin, as Envoy's CORS filter tests each matcher against "*" too.
  const origins: Matcher[] = [];
  if (c.allowOrigins)
    c.allowOrigins.forEach((o, i) => {
      const m = stringMatcher(vs, `${path}.corsPolicy.allowOrigins[${i}]`, o, issues);
      if (m) origins.push(m.test('*') ? prefix('') : m);
    });
  else for (const o of c.allowOrigin ?? []) origins.push(o === '*' ? prefix('') : exact(o));
  return {
    allowOrigins: origins,
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    maxAgeSeconds: c.maxAge ? Math.floor((parseDurationMs(c.maxAge) ?? 0) / 1000) : undefined,
    allowCredentials: c.allowCredentials,
    forwardNotMatchingPreflights: c.unmatchedPreflights !== 'IGNORE',
  };
}

/**
 * Routes for one VirtualService as seen from one service port (`listenerPort`): each rule becomes
 * one route per match block (blocks are OR-ed), in rule order — Istio's first-match-wins.
 */
export function virtualServiceRoutes(
  root: Resource,
  ctx: IstioContext,
  listenerPort: number | undefined,
  /** Set when building an Istio Gateway's listener; undefined for the mesh. */
  gateway?: GatewayScope,
): Route[] {
  const routes: Route[] = [];
  for (const { rule, resource: vs, path, index: ri } of expandRules(root, ctx.delegates, ctx.issues)) {
    const matches: (HttpMatch | undefined)[] = rule.match && rule.match.length > 0 ? rule.match : [undefined];
    const requestHeaders = istioHeaderOps(rule.headers?.request);
    const responseHeaders = istioHeaderOps(rule.headers?.response);
    const faultPolicy = fault(vs, path, rule, ctx.issues);
    const corsPolicy = cors(vs, path, rule, ctx.issues);
    const mirrorList = rule.route ? mirrors(ctx, vs, path, rule, listenerPort) : [];
    // Istio's route name: the rule's name, ".<match name>" appended for a named match block.
    const base = rule.name ?? `${vs.metadata.namespace}/${vs.metadata.name}#${ri}`;
    matches.forEach((m, mi) => {
      if (m?.port !== undefined && listenerPort !== undefined && m.port !== listenerPort) return;
      if (
        m &&
        !(gateway
          ? reachableFromGateway(m, gateway, vs.metadata.namespace, ctx.clientNamespace)
          : reachableFromMesh(m, ctx.clientNamespace))
      )
        return;
      const action = ruleAction(ctx, vs, path, rule, m, listenerPort, mirrorList);
      if (!action) return;
      routes.push({
        name: m?.name ? `${base}.${m.name}` : matches.length > 1 ? `${base}.${mi}` : base,
        origin: {
          kind: 'VirtualService',
          namespace: vs.metadata.namespace,
          name: vs.metadata.name,
          path: m ? `${path}.match[${mi}]` : path,
        },
        match: m ? routeMatch(vs, `${path}.match[${mi}]`, m, ctx.issues) : {},
        action,
        requestHeaders,
        responseHeaders,
        fault: faultPolicy,
        cors: corsPolicy,
      });
    });
  }
  return routes;
}

/** Istio's retry policy when a rule sets none (istio pilot retry.DefaultPolicy). */
export const ISTIO_DEFAULT_RETRY_ON =
  'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
const DEFAULT_RETRY_ATTEMPTS = 2;
/** Envoy's base retry back-off interval. */
const DEFAULT_BACKOFF_MS = 25;

/**
 * Istio's retry translation (retry.ConvertPolicy): no `retries` → the default policy (2 retries on
 * connect failures and 503); `attempts: 0` → none; otherwise the default with the given fields.
 * With consistent hashing, retries stay on the same endpoint unless retryIgnorePreviousHosts says so.
 */
export function istioRetryPolicy(
  retries: IstioHttpRule['retries'],
  consistentHash: boolean,
): RetryPolicy | undefined {
  if (retries && (retries.attempts ?? 0) <= 0) return undefined;
  const parsed = parseRetryOn(retries?.retryOn ?? ISTIO_DEFAULT_RETRY_ON);
  return {
    attempts: retries?.attempts ?? DEFAULT_RETRY_ATTEMPTS,
    perTryTimeoutMs: parseDurationMs(retries?.perTryTimeout) ?? 0,
    retryOn: parsed.names,
    conditions: parsed.conditions,
    // The default policy retries 503; a user's retryOn lists its own codes (none → none).
    retriableStatusCodes: retries?.retryOn === undefined ? [503] : parsed.codes,
    backoffBaseMs: parseDurationMs(retries?.backoff) ?? DEFAULT_BACKOFF_MS,
    ignorePreviousHosts: retries?.retryIgnorePreviousHosts ?? !consistentHash,
  };
}

function ruleAction(
  ctx: IstioContext,
  vs: Resource,
  path: string,
  rule: IstioHttpRule,
  m: HttpMatch | undefined,
  listenerPort: number | undefined,
  mirrorList: MirrorPolicy[],
): RouteAction | undefined {
  if (rule.redirect) {
    const r = rule.redirect;
    // istio ApplyRedirect: FROM_REQUEST_PORT is the port the route serves; FROM_PROTOCOL_DEFAULT
    // (like no port at all) leaves the port to Envoy, which keeps the request's; an explicit 80 on
    // http or 443 on https becomes "no port redirect" too (so the request's port stays, as in Istio).
    let port = r.port ?? (r.derivePort === 'FROM_REQUEST_PORT' ? listenerPort : undefined);
    const scheme = r.scheme ?? 'http';
    if ((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https')) port = undefined;
    return {
      kind: 'redirect',
      scheme: r.scheme,
      host: r.authority,
      port,
      path: r.uri
        ? { kind: 'full', value: r.uri }
        : r.prefixRewrite !== undefined
          ? replaceMatched(m, r.prefixRewrite)
          : undefined,
      status: r.redirectCode ?? 301, // Istio's default redirect code
    };
  }
  if (rule.directResponse) {
    const b = rule.directResponse.body;
    return {
      kind: 'direct',
      status: rule.directResponse.status,
      body:
        b?.string ?? (b?.bytes !== undefined ? Buffer.from(b.bytes, 'base64').toString('latin1') : undefined),
    };
  }
  if (!rule.route || rule.route.length === 0) {
    ctx.issues.push(issueAt(vs, path, 'error', 'rule has neither route, redirect nor directResponse'));
    return undefined;
  }
  const lone = rule.route.length === 1;
  const backends: WeightedBackend[] = rule.route.map((d, di) => {
    const { cluster } = resolveCluster(
      ctx,
      vs,
      `${path}.route[${di}].destination`,
      d.destination,
      listenerPort,
    );
    return {
      cluster,
      // A lone destination takes all traffic whatever its weight; otherwise an unset weight is 0 (Istio).
      weight: lone ? 100 : (d.weight ?? 0),
      requestHeaders: istioHeaderOps(d.headers?.request),
      responseHeaders: istioHeaderOps(d.headers?.response),
      authority: headerAuthority(d.headers?.request),
    };
  });
  const totalWeight = backends.reduce((a, b) => a + b.weight, 0);
  if (totalWeight === 0)
    ctx.issues.push(
      issueAt(
        vs,
        `${path}.route`,
        'warning',
        'all route weights are 0; matching requests are answered 503',
        'give at least one destination a weight above 0',
      ),
    );
  // Route-level authority: rewrite.authority, else a host/:authority header set on the rule.
  const authority = rule.rewrite?.authority || headerAuthority(rule.headers?.request);
  const rewritePathTo = rule.rewrite ? pathRewrite(rule, m, vs, path, ctx.issues) : undefined;
  const consistentHash =
    lone &&
    backends[0].cluster !== undefined &&
    ctx.clusters.clusters.get(backends[0].cluster)?.lb.kind === 'hash';
  const retry = istioRetryPolicy(rule.retries, consistentHash);
  return {
    kind: 'forward',
    backends,
    totalWeight,
    noBackendStatus: 503,
    rewrite: rewritePathTo || authority ? { path: rewritePathTo, authority } : undefined,
    timeoutMs: parseDurationMs(rule.timeout) ?? 0,
    perTryTimeoutMs: retry?.perTryTimeoutMs ?? 0,
    retry,
    mirrors: mirrorList,
  };
}
