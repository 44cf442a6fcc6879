// Translates Istio VirtualService HTTP rules (networking.istio.io) into proxy routes: matches,
// weighted destinations, rewrites, redirects, header operations, faults, CORS and mirrors.
// Field semantics follow istio.io/latest/docs/reference/config/networking/virtual-service/.

import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import { exact, prefix, regex, RegexSyntaxError, type Matcher } from '../model/matchers.js';
import { percentToPpm, PPM_ALL } from '../model/percent.js';
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
  RouteMatch,
  WeightedBackend,
} from '../model/route-table.js';
import type { ClusterBuilder } from './clusters.js';
import { parseDurationMs } from './duration.js';
import { issueAt } from './issue-at.js';
import { findMirrorPolicy, mirrorPolicy, type MirrorDefaults } from './mirror-policies.js';
import type { MeshService, ServiceRegistry } from './service-registry.js';

type StringMatch = { exact?: string; prefix?: string; regex?: string };
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
interface HttpMatch {
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
}
interface Percent {
  value?: number;
}
export interface IstioHttpRule {
  name?: string;
  match?: HttpMatch[];
  route?: { destination: Destination; weight?: number; headers?: { request?: IstioHeaders; response?: IstioHeaders } }[];
  redirect?: { uri?: string; authority?: string; port?: number; derivePort?: string; scheme?: string; redirectCode?: number };
  directResponse?: { status: number; body?: { string?: string; bytes?: string } };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match: string; rewrite: string } };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string };
  fault?: {
    delay?: { fixedDelay?: string; percentage?: Percent; percent?: number };
    abort?: { httpStatus?: number; percentage?: Percent };
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
  };
  headers?: { request?: IstioHeaders; response?: IstioHeaders };
}
export interface VirtualServiceView {
  hosts: string[];
  http?: IstioHttpRule[];
}

export interface IstioContext {
  readonly registry: ServiceRegistry;
  readonly clusters: ClusterBuilder;
  readonly mirrorPolicies: readonly Resource[];
  readonly mirrorDefaults: MirrorDefaults;
  readonly issues: ConfigIssue[];
}

/** Compiles one StringMatch, turning a non-RE2 pattern into a config issue. */
function stringMatcher(vs: Resource, path: string, m: StringMatch | undefined, issues: ConfigIssue[], ignoreCase = false): Matcher | undefined | null {
  if (!m) return undefined;
  try {
    if (m.exact !== undefined) return exact(m.exact, ignoreCase);
    if (m.prefix !== undefined) return prefix(m.prefix, ignoreCase);
    if (m.regex !== undefined) return regex(m.regex, ignoreCase);
  } catch (e) {
    if (e instanceof RegexSyntaxError) {
      issues.push(issueAt(vs, `${path}.regex`, 'error', e.message));
      return null;
    }
    throw e;
  }
  return undefined; // {} — presence only
}

function headerMatches(vs: Resource, path: string, map: Record<string, StringMatch> | undefined, issues: ConfigIssue[]): HeaderMatch[] | undefined {
  if (!map) return undefined;
  return Object.entries(map).map(([name, m]) => ({
    name: name.toLowerCase(),
    value: stringMatcher(vs, `${path}.${name}`, m, issues) ?? undefined,
  }));
}

function queryMatches(vs: Resource, path: string, map: Record<string, StringMatch> | undefined, issues: ConfigIssue[]): QueryMatch[] | undefined {
  if (!map) return undefined;
  return Object.entries(map).map(([name, m]) => ({ name, value: stringMatcher(vs, `${path}.${name}`, m, issues) ?? undefined }));
}

function routeMatch(vs: Resource, path: string, m: HttpMatch, issues: ConfigIssue[]): RouteMatch {
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

export function istioHeaderOps(h: IstioHeaders | undefined): HeaderOps | undefined {
  if (!h) return undefined;
  return {
    set: h.set ? Object.entries(h.set).map(([k, v]) => [k.toLowerCase(), v] as const) : undefined,
    add: h.add ? Object.entries(h.add).map(([k, v]) => [k.toLowerCase(), v] as const) : undefined,
    remove: h.remove?.map((x) => x.toLowerCase()),
  };
}

/** Picks the service port for a destination: explicit, else the service's only port, else the listener's. */
function destinationPort(svc: MeshService, dest: Destination, listenerPort: number | undefined): number | undefined {
  if (dest.port?.number) return dest.port.number;
  if (svc.ports.length === 1) return svc.ports[0].port;
  if (listenerPort !== undefined && svc.ports.some((p) => p.port === listenerPort)) return listenerPort;
  return undefined;
}

function resolveCluster(ctx: IstioContext, vs: Resource, path: string, dest: Destination, listenerPort: number | undefined): { cluster?: string; svc?: MeshService } {
  const svc = ctx.registry.resolve(dest.host, vs.metadata.namespace);
  if (!svc) {
    ctx.issues.push(issueAt(vs, `${path}.host`, 'warning', `host "${dest.host}" does not resolve to any Service or ServiceEntry`, 'requests to it are answered 503 (no healthy upstream)'));
    return {};
  }
  const port = destinationPort(svc, dest, listenerPort);
  if (port === undefined) {
    ctx.issues.push(issueAt(vs, `${path}.port`, 'error', `service ${svc.fqdn} has several ports; destination.port.number is required`));
    return { svc };
  }
  if (!svc.ports.some((p) => p.port === port)) {
    ctx.issues.push(issueAt(vs, `${path}.port.number`, 'error', `service ${svc.fqdn} has no port ${port}`, `ports: ${svc.ports.map((p) => p.port).join(', ')}`));
    return { svc };
  }
  return { cluster: ctx.clusters.get(svc, port, dest.subset, { resource: vs, path: `${path}.subset` }), svc };
}

function mirrors(ctx: IstioContext, vs: Resource, path: string, rule: IstioHttpRule, listenerPort: number | undefined): MirrorPolicy[] {
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
    targets.push({ dest: m.destination, ppm: m.percentage ? percentToPpm(m.percentage.value ?? 0) : PPM_ALL, path: `${path}.mirrors[${i}].destination` }),
  );
  const out: MirrorPolicy[] = [];
  for (const t of targets) {
    const { cluster, svc } = resolveCluster(ctx, vs, t.path, t.dest, listenerPort);
    if (!cluster || !svc || t.ppm === 0) continue;
    const policy = findMirrorPolicy(ctx.mirrorPolicies, svc, t.dest.subset);
    out.push(mirrorPolicy(cluster, `${svc.name}.${svc.namespace}${t.dest.subset ? `|${t.dest.subset}` : ''}`, t.ppm, policy, ctx.mirrorDefaults));
  }
  return out;
}

function pathRewrite(rule: IstioHttpRule, m: HttpMatch | undefined, vs: Resource, path: string, issues: ConfigIssue[]): PathReplacement | undefined {
  const rw = rule.rewrite;
  if (!rw) return undefined;
  if (rw.uriRegexRewrite) {
    try {
      // Istio takes RE2 substitutions (\1); re2js's replaceAll wants $1.
      return { kind: 'regex', pattern: regex(rw.uriRegexRewrite.match), substitution: rw.uriRegexRewrite.rewrite.replace(/\\(\d)/g, '$$$1') };
    } catch (e) {
      issues.push(issueAt(vs, `${path}.rewrite.uriRegexRewrite.match`, 'error', (e as Error).message));
      return undefined;
    }
  }
  if (rw.uri === undefined) return undefined;
  // "If the original URI was matched based on prefix, the value replaces the matched prefix."
  if (m?.uri?.prefix !== undefined) return { kind: 'prefix', prefix: m.uri.prefix, value: rw.uri };
  return { kind: 'full', value: rw.uri };
}

function fault(rule: IstioHttpRule): FaultPolicy | undefined {
  const f = rule.fault;
  if (!f) return undefined;
  const pct = (p: Percent | undefined, legacy?: number) => (p ? percentToPpm(p.value ?? 0) : legacy !== undefined ? percentToPpm(legacy) : PPM_ALL);
  return {
    delay: f.delay?.fixedDelay ? { ms: parseDurationMs(f.delay.fixedDelay) ?? 0, ppm: pct(f.delay.percentage, f.delay.percent) } : undefined,
    abort: f.abort?.httpStatus ? { status: f.abort.httpStatus, ppm: pct(f.abort.percentage) } : undefined,
  };
}

function cors(vs: Resource, path: string, rule: IstioHttpRule, issues: ConfigIssue[]): CorsPolicy | undefined {
  const c = rule.corsPolicy;
  if (!c) return undefined;
  const origins: Matcher[] = [];
  (c.allowOrigins ?? []).forEach((o, i) => {
    const m = stringMatcher(vs, `${path}.corsPolicy.allowOrigins[${i}]`, o, issues);
    if (m) origins.push(m);
  });
  for (const o of c.allowOrigin ?? []) origins.push(o === '*' ? prefix('') : exact(o));
  return {
    allowOrigins: origins,
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    maxAgeSeconds: c.maxAge ? Math.floor((parseDurationMs(c.maxAge) ?? 0) / 1000) : undefined,
    allowCredentials: c.allowCredentials,
  };
}

/**
 * Routes for one VirtualService as seen from one service port (`listenerPort`): each rule becomes
 * one route per match block (blocks are OR-ed), in rule order — Istio's first-match-wins.
 */
export function virtualServiceRoutes(vs: Resource, ctx: IstioContext, listenerPort: number | undefined): Route[] {
  const spec = vs.spec as VirtualServiceView;
  const routes: Route[] = [];
  (spec.http ?? []).forEach((rule, ri) => {
    const path = `spec.http[${ri}]`;
    const matches: (HttpMatch | undefined)[] = rule.match && rule.match.length > 0 ? rule.match : [undefined];
    const requestHeaders = istioHeaderOps(rule.headers?.request);
    const responseHeaders = istioHeaderOps(rule.headers?.response);
    const faultPolicy = fault(rule);
    const corsPolicy = cors(vs, path, rule, ctx.issues);
    const mirrorList = rule.route ? mirrors(ctx, vs, path, rule, listenerPort) : [];
    matches.forEach((m, mi) => {
      if (m?.port !== undefined && listenerPort !== undefined && m.port !== listenerPort) return;
      const action = ruleAction(ctx, vs, path, rule, m, listenerPort, mirrorList);
      if (!action) return;
      routes.push({
        name: rule.name ?? `${vs.metadata.namespace}/${vs.metadata.name}#${ri}${matches.length > 1 ? `.${mi}` : ''}`,
        origin: { kind: 'VirtualService', namespace: vs.metadata.namespace, name: vs.metadata.name, path: m ? `${path}.match[${mi}]` : path },
        match: m ? routeMatch(vs, `${path}.match[${mi}]`, m, ctx.issues) : {},
        action,
        requestHeaders,
        responseHeaders,
        fault: faultPolicy,
        cors: corsPolicy,
      });
    });
  });
  return routes;
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
    return {
      kind: 'redirect',
      scheme: r.scheme,
      host: r.authority,
      port: r.port,
      path: r.uri !== undefined ? { kind: 'full', value: r.uri } : undefined,
      status: r.redirectCode ?? 301, // Istio's default redirect code
    };
  }
  if (rule.directResponse) {
    const b = rule.directResponse.body;
    return {
      kind: 'direct',
      status: rule.directResponse.status,
      body: b?.string ?? (b?.bytes !== undefined ? Buffer.from(b.bytes, 'base64').toString('latin1') : undefined),
    };
  }
  if (!rule.route || rule.route.length === 0) {
    ctx.issues.push(issueAt(vs, path, 'error', 'rule has neither route, redirect nor directResponse'));
    return undefined;
  }
  const backends: WeightedBackend[] = rule.route.map((d, di) => {
    const { cluster } = resolveCluster(ctx, vs, `${path}.route[${di}].destination`, d.destination, listenerPort);
    // A lone destination takes all traffic; otherwise an unset weight is 0 (Istio).
    const weight = d.weight ?? (rule.route!.length === 1 ? 100 : 0);
    return {
      cluster,
      weight,
      requestHeaders: istioHeaderOps(d.headers?.request),
      responseHeaders: istioHeaderOps(d.headers?.response),
    };
  });
  const totalWeight = backends.reduce((a, b) => a + b.weight, 0);
  if (totalWeight === 0) ctx.issues.push(issueAt(vs, `${path}.route`, 'warning', 'all route weights are 0; matching requests are answered 503'));
  const retries = rule.retries;
  return {
    kind: 'forward',
    backends,
    totalWeight,
    noBackendStatus: 503,
    rewrite: rule.rewrite ? { path: pathRewrite(rule, m, vs, path, ctx.issues), authority: rule.rewrite.authority } : undefined,
    timeoutMs: parseDurationMs(rule.timeout) ?? 0,
    perTryTimeoutMs: parseDurationMs(retries?.perTryTimeout) ?? 0,
    retry:
      retries && (retries.attempts ?? 0) > 0
        ? {
            attempts: retries.attempts ?? 0,
            perTryTimeoutMs: parseDurationMs(retries.perTryTimeout) ?? 0,
            retryOn: (retries.retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes').split(',').map((s) => s.trim()),
          }
        : undefined,
    mirrors: mirrorList,
  };
}
