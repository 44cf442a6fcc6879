// Decides what a request gets from the current RouteTable: the virtual host by authority, then the
// first route whose match passes (tables are already in the API's precedence order), then a backend.

import type { IncomingHttpHeaders } from 'node:http';
import type {
  GatewayListener,
  HeaderMatch,
  Route,
  RouteMatch,
  RouteTable,
  VirtualHost,
  WeightedBackend,
  WildcardHost,
} from '../model/route-table.js';

export interface RequestView {
  readonly method: string;
  /** Path without the query string, as matched and forwarded. */
  readonly path: string;
  /** The raw query string without '?', or ''. */
  readonly query: string;
  readonly authority: string;
  /** Port the request was addressed to (from the authority; 80 when absent). */
  readonly port: number;
  readonly scheme: string;
  readonly headers: IncomingHttpHeaders;
}

function lookupHost(
  hostIndex: ReadonlyMap<string, VirtualHost>,
  wildcards: readonly WildcardHost[],
  authority: string,
): VirtualHost | undefined {
  const exact = hostIndex.get(authority);
  if (exact) return exact;
  const colon = authority.lastIndexOf(':');
  const hasPort = colon !== -1 && authority.lastIndexOf(']') < colon;
  const host = hasPort ? authority.slice(0, colon) : authority;
  const anyPort = hostIndex.get(`${host}:*`);
  if (anyPort) return anyPort;
  for (const w of wildcards) {
    if (host.endsWith(w.suffix) && (w.port === undefined || authority.endsWith(`:${w.port}`))) return w.vhost;
  }
  return undefined;
}

/** The virtual host for an authority on the outbound listener (lower-case "host[:port]"). */
export function findVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  return lookupHost(table.hostIndex, table.wildcardHosts, authority);
}

export function findGatewayVirtualHost(
  listener: GatewayListener,
  authority: string,
): VirtualHost | undefined {
  return lookupHost(listener.hostIndex, listener.wildcardHosts, authority) ?? listener.catchAll;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

function headersPass(list: readonly HeaderMatch[] | undefined, headers: IncomingHttpHeaders): boolean {
  if (!list) return true;
  for (const h of list) {
    const v = headerValue(headers, h.name);
    if (v === undefined || (h.value && !h.value.test(v))) return false;
  }
  return true;
}

/**
 * Istio withoutHeaders is Envoy's inverted header match with treat_missing_header_as_empty when a
 * value is given: a missing header counts as "" (so `regex: ".*"` rejects requests without it too).
 */
function withoutHeadersPass(list: readonly HeaderMatch[] | undefined, headers: IncomingHttpHeaders): boolean {
  if (!list) return true;
  for (const h of list) {
    const v = headerValue(headers, h.name);
    if (h.value ? h.value.test(v ?? '') : v !== undefined) return false;
  }
  return true;
}

/**
 * The first raw value of a query parameter, as Envoy's route matching reads it
 * (Utility::QueryParamsMulti::parseQueryString: no percent-decoding); "" for "?flag"; undefined if absent.
 */
export function queryValue(query: string, name: string): string | undefined {
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq !== -1 && eq < end ? eq : end;
    if (keyEnd - start === name.length && query.startsWith(name, start))
      return keyEnd === end ? '' : query.slice(keyEnd + 1, end);
    start = end + 1;
  }
  return undefined;
}

export function matches(m: RouteMatch, req: RequestView): boolean {
  if (m.path && !m.path.test(req.path)) return false;
  if (m.method && !m.method.test(req.method)) return false;
  if (m.port !== undefined && m.port !== req.port) return false;
  if (m.scheme && !m.scheme.test(req.scheme)) return false;
  if (m.authority && !m.authority.test(req.authority)) return false;
  if (!headersPass(m.headers, req.headers)) return false;
  if (!withoutHeadersPass(m.withoutHeaders, req.headers)) return false;
  if (m.queryParams) {
    for (const p of m.queryParams) {
      const v = queryValue(req.query, p.name);
      if (v === undefined || (p.value && !p.value.test(v))) return false;
    }
  }
  return true;
}

export function matchRoute(vhost: VirtualHost, req: RequestView): Route | undefined {
  for (const r of vhost.routes) if (matches(r.match, req)) return r;
  return undefined;
}

/** Weighted random choice; undefined when every weight is zero. `draw` in [0, 1) is for simulation. */
export function pickBackend(
  backends: readonly WeightedBackend[],
  totalWeight: number,
  draw?: number,
): WeightedBackend | undefined {
  if (backends.length === 1) return backends[0].weight > 0 ? backends[0] : undefined;
  if (totalWeight <= 0) return undefined;
  let n = (draw ?? Math.random()) * totalWeight;
  for (const b of backends) {
    if (n < b.weight) return b;
    n -= b.weight;
  }
  return backends[backends.length - 1];
}
