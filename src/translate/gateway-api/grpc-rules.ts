// Translates one GRPCRoute into proxy routes. A gRPC method is the HTTP/2 `:path`
// "/{service}/{method}", so each GRPCMethodMatch becomes a path matcher and the rule is compiled by
// the HTTPRoute compiler (filters, mirrors, backends and verdicts are the same types); only the
// precedence differs (GRPCRouteRule, gateway.networking.k8s.io/v1): most characters in the matching
// service, then in the method, then most header matches; then oldest route, name, rule order.

import type { Resource } from '../../config/resource.js';
import type {
  GRPCRouteMatch,
  GRPCRouteSpec,
  HTTPRouteMatch,
  HTTPRouteSpec,
} from '../../config/schemas/gateway-api.js';
import type { GatewayApiContext } from './context.js';
import { compileRoute, type CompiledRoute, type RouteEntry } from './rules.js';
import type { PrecedenceKey } from './precedence.js';

/** Service and method names hold only [A-Za-z0-9_.] when Exact (CEL rules), so only "." needs escaping. */
function literal(s: string): string {
  return s.replace(/\./g, '\\.');
}

/**
 * The `:path` matcher of a method match. Exact service + method is an exact path; a missing part
 * matches any one path segment; RegularExpression parts are RE2 patterns for that segment.
 */
export function grpcPathMatch(m: GRPCRouteMatch['method']): HTTPRouteMatch['path'] {
  if (!m) return { type: 'PathPrefix', value: '/' };
  if (m.type === 'Exact' && m.service && m.method)
    return { type: 'Exact', value: `/${m.service}/${m.method}` };
  const part = (v: string | undefined) => (v ? (m.type === 'Exact' ? literal(v) : `(?:${v})`) : '[^/]+');
  return { type: 'RegularExpression', value: `/${part(m.service)}/${part(m.method)}` };
}

/** Service characters count before method characters: both are at most 1024 long. */
function grpcPrecedence(m: GRPCRouteMatch, key: PrecedenceKey): PrecedenceKey {
  const service = m.method?.service?.length ?? 0;
  const method = m.method?.method?.length ?? 0;
  return { ...key, pathRank: 2, pathLength: service * 2048 + method, hasMethod: false, queryParams: 0 };
}

export function compileGrpcRoute(ctx: GatewayApiContext, gr: Resource<GRPCRouteSpec>): CompiledRoute {
  const matchesOf = (rule: GRPCRouteSpec['rules'][number]): GRPCRouteMatch[] =>
    rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
  // The same rule in HTTPRoute terms. GRPCRoute has no timeouts or retry fields: Istio's default
  // retry policy applies, as it does to an HTTPRoute without `retry`.
  const spec: HTTPRouteSpec = {
    parentRefs: gr.spec.parentRefs,
    hostnames: gr.spec.hostnames,
    rules: gr.spec.rules.map((rule) => ({
      name: rule.name,
      matches: matchesOf(rule).map((m) => ({
        path: grpcPathMatch(m.method),
        headers: m.headers,
        queryParams: undefined,
        method: undefined,
      })),
      filters: rule.filters,
      backendRefs: rule.backendRefs,
      sessionPersistence: rule.sessionPersistence,
    })) as HTTPRouteSpec['rules'],
  };
  const compiled = compileRoute(ctx, { ...gr, spec } as Resource<HTTPRouteSpec>);
  let i = 0;
  const flat = gr.spec.rules.flatMap((rule) => matchesOf(rule));
  const entries: RouteEntry[] = compiled.entries.map((e) => {
    const m = flat[i++];
    const action =
      e.route.action.kind === 'forward'
        ? // GRPCRouteRule.backendRefs: requests for invalid backends get UNAVAILABLE, which is what a
          // 503 local reply maps to on a gRPC request.
          { ...e.route.action, noBackendStatus: 503 }
        : e.route.action;
    return {
      ...e,
      route: { ...e.route, action, origin: { ...e.route.origin, kind: 'GRPCRoute' } },
      key: grpcPrecedence(m, e.key),
    };
  });
  return { ...compiled, resource: gr as unknown as CompiledRoute['resource'], entries };
}
