// Reads where a downstream request is going: absolute-form targets ("GET http://httpbin:8000/x",
// what curl sends through http_proxy) carry their own authority; origin-form ones use Host
// (RFC 9112 §3.2). Anything else is refused before routing.

export interface RequestTarget {
  /** Lower-case host[:port] without a trailing dot. */
  readonly authority: string;
  readonly path: string;
  readonly query: string;
  readonly port: number;
  readonly scheme: string;
}

export type TargetError = { readonly status: number; readonly message: string };

function splitPathQuery(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

function normaliseAuthority(a: string): string {
  let s = a.toLowerCase();
  const colon = s.lastIndexOf(':');
  const hasPort = colon !== -1 && s.lastIndexOf(']') < colon;
  let host = hasPort ? s.slice(0, colon) : s;
  if (host.endsWith('.')) host = host.slice(0, -1);
  s = hasPort ? `${host}${s.slice(colon)}` : host;
  return s;
}

function portOf(authority: string, scheme: string): number {
  const colon = authority.lastIndexOf(':');
  if (colon !== -1 && authority.lastIndexOf(']') < colon) return Number(authority.slice(colon + 1));
  return scheme === 'https' ? 443 : 80;
}

// RFC 3986 reg-name / IPv4 / [IPv6] with an optional port: nothing that could smuggle a path.
const AUTHORITY = /^(?:\[[0-9a-f:.]+\]|[a-z0-9._~%!$&'()*+,;=-]+)(?::\d{1,5})?$/i;

export function parseTarget(url: string, host: string | string[] | undefined): RequestTarget | TargetError {
  if (url.charCodeAt(0) === 47 /* / */) {
    if (host === undefined || host === '') return { status: 400, message: 'missing Host header' };
    if (Array.isArray(host)) return { status: 400, message: 'duplicate Host header' };
    if (!AUTHORITY.test(host)) return { status: 400, message: 'malformed Host header' };
    const { path, query } = splitPathQuery(url);
    const authority = normaliseAuthority(host);
    return { authority, path, query, port: portOf(authority, 'http'), scheme: 'http' };
  }
  const lower = url.slice(0, 8).toLowerCase();
  const scheme = lower.startsWith('http://') ? 'http' : lower.startsWith('https://') ? 'https' : undefined;
  if (scheme) {
    const rest = url.slice(scheme.length + 3);
    const slash = rest.search(/[/?#]/);
    const rawAuthority = slash === -1 ? rest : rest.slice(0, slash);
    if (!AUTHORITY.test(rawAuthority) || rawAuthority.includes('@')) return { status: 400, message: 'malformed authority in request target' };
    let target = slash === -1 ? '/' : rest.slice(slash);
    if (target.startsWith('?')) target = `/${target}`;
    const hash = target.indexOf('#');
    if (hash !== -1) target = target.slice(0, hash);
    const { path, query } = splitPathQuery(target);
    const authority = normaliseAuthority(rawAuthority);
    return { authority, path, query, port: portOf(authority, scheme), scheme };
  }
  return { status: 400, message: 'unsupported request target' };
}

export function isTargetError(t: RequestTarget | TargetError): t is TargetError {
  return (t as TargetError).status !== undefined;
}
