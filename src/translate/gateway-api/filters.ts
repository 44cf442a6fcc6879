// HTTPRoute filter pieces in proxy vocabulary: header modifiers, path modifiers for URLRewrite and
// RequestRedirect, and CORS (HTTPRouteFilter, gateway.networking.k8s.io/v1).

import { exact, prefix, regex, type Matcher } from '../../model/matchers.js';
import type { CorsPolicy, HeaderOps, PathReplacement } from '../../model/route-table.js';
import type { HTTPRouteFilter, HTTPRouteMatch } from '../../config/schemas/gateway-api.js';

type HeaderFilter = NonNullable<HTTPRouteFilter['requestHeaderModifier']>;
type PathModifier = NonNullable<NonNullable<HTTPRouteFilter['urlRewrite']>['path']>;
type CorsFilter = NonNullable<HTTPRouteFilter['cors']>;

/** RequestHeaderModifier / ResponseHeaderModifier; header names are case-insensitive. */
export function headerOps(h: HeaderFilter | undefined): HeaderOps | undefined {
  if (!h) return undefined;
  return {
    set: h.set?.map((x) => [x.name.toLowerCase(), x.value] as const),
    add: h.add?.map((x) => [x.name.toLowerCase(), x.value] as const),
    remove: h.remove?.map((x) => x.toLowerCase()),
  };
}

/**
 * ReplaceFullPath, or ReplacePrefixMatch against the match's PathPrefix. The prefix "/" is the empty
 * run of segments, so "/" → "/xyz" turns "/foo" into "/xyz/foo" (the spec's whole-segment reading).
 */
export function pathReplacement(
  mod: PathModifier | undefined,
  match: HTTPRouteMatch,
): PathReplacement | undefined {
  if (!mod) return undefined;
  if (mod.type === 'ReplaceFullPath') return { kind: 'full', value: mod.replaceFullPath ?? '/' };
  const p = match.path.type === 'PathPrefix' ? match.path.value : '/';
  return { kind: 'prefix', prefix: p === '/' ? '' : p, value: mod.replacePrefixMatch ?? '' };
}

/** Well-known port of a redirect scheme (HTTPRequestRedirectFilter.port). */
export function schemePort(scheme: string): number {
  return scheme === 'https' ? 443 : 80;
}

function originMatcher(o: string): Matcher {
  if (o === '*') return prefix('');
  if (!o.includes('*')) return exact(o.toLowerCase(), true);
  // "https://*.example.com": the wildcard stands for one or more host labels.
  const re = o
    .toLowerCase()
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('[a-z0-9.-]+');
  return regex(re, true);
}

export function corsPolicy(c: CorsFilter | undefined): CorsPolicy | undefined {
  if (!c) return undefined;
  return {
    allowOrigins: (c.allowOrigins ?? []).map(originMatcher),
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    maxAgeSeconds: c.maxAge,
    allowCredentials: c.allowCredentials,
  };
}
