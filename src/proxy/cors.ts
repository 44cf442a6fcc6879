// CORS for a route with a policy (Istio corsPolicy, Gateway API CORS filter), with the semantics of
// Envoy's CORS filter: preflights from an allowed origin are answered here; other responses to an
// allowed origin carry Access-Control-Allow-Origin (the request's origin), -Credentials and -Expose-Headers.

import type { IncomingHttpHeaders } from 'node:http';
import type { CorsPolicy } from '../model/route-table.js';

export type CorsDecision =
  /** Not a CORS request for this policy (no Origin): nothing to do. */
  | undefined
  /** Answer locally: 200 with these headers and no body. */
  | { readonly preflight: readonly (readonly [string, string])[] }
  /** Go on; add these headers to whatever response the request gets (empty: origin not allowed). */
  | { readonly response: readonly (readonly [string, string])[] };

export function originAllowed(p: CorsPolicy, origin: string): boolean {
  for (const m of p.allowOrigins) if (m.test('*') || m.test(origin)) return true;
  return false;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A preflight is OPTIONS with a non-empty Origin and Access-Control-Request-Method. From an origin
 * not allowed it goes upstream (unmatchedPreflights FORWARD, the default) or gets a bare 200 (IGNORE).
 */
export function corsDecision(p: CorsPolicy, method: string, headers: IncomingHttpHeaders): CorsDecision {
  const origin = one(headers.origin);
  if (!origin) return undefined;
  const allowed = originAllowed(p, origin);
  const requestMethod = one(headers['access-control-request-method']);
  if (method === 'OPTIONS' && requestMethod) {
    if (!allowed && p.forwardNotMatchingPreflights !== false) return { response: [] };
    const out: [string, string][] = [];
    if (allowed) out.push(['access-control-allow-origin', origin]);
    if (p.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
    const methods = p.allowMethods.join(',');
    if (methods) out.push(['access-control-allow-methods', methods === '*' ? requestMethod : methods]);
    const allowHeaders = p.allowHeaders.join(',');
    if (allowHeaders) {
      const asked = one(headers['access-control-request-headers']) ?? '';
      if (allowHeaders !== '*') out.push(['access-control-allow-headers', allowHeaders]);
      else if (asked) out.push(['access-control-allow-headers', asked]);
    }
    if (p.maxAgeSeconds !== undefined) out.push(['access-control-max-age', String(p.maxAgeSeconds)]);
    return { preflight: out };
  }
  if (!allowed) return { response: [] };
  const out: [string, string][] = [['access-control-allow-origin', origin]];
  if (p.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
  const expose = p.exposeHeaders.join(',');
  if (expose) out.push(['access-control-expose-headers', expose]);
  return { response: out };
}
