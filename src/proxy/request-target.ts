// Reads where a downstream request is going: absolute-form targets ("GET http://httpbin:8000/x",
// what curl sends through http_proxy) carry their own authority; origin-form ones use Host
// (RFC 9112 §3.2). The path is normalised here, once, for matching and forwarding alike
// (path-normalize.ts). Anything else — "//" authorities in disguise, fragments, "*" — is refused
// or answered before routing, so no odd form can choose a different upstream.

import { pathNormalizer, type PathNormalizer } from './path-normalize.js';

export interface RequestTarget {
  /** Lower-case host[:port] without a trailing dot. */
  readonly authority: string;
  /** Normalised path, without the query string. */
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

// RFC 3986 reg-name / IPv4 / [IPv6] with an optional port: nothing that could smuggle a path, a
// userinfo ("@") or a second value (",": two Host lines joined).
const AUTHORITY = /^(?:\[[0-9a-f:.]+\]|[a-z0-9._~%!$&'()*+;=-]+)(?::\d{1,5})?$/i;

function checkAuthority(a: string): boolean {
  if (!AUTHORITY.test(a)) return false;
  const colon = a.lastIndexOf(':');
  if (colon === -1 || a.lastIndexOf(']') > colon) return true;
  const port = Number(a.slice(colon + 1));
  return port >= 1 && port <= 65535;
}

/** An accepted authority, normalised, with its port when it names one. */
interface CheckedAuthority {
  readonly authority: string;
  readonly port: number | undefined;
}

// Clients send a handful of distinct Host values, so each is checked (regex) and normalised once,
// not on every request. Bounded: emptied when full, so odd values cannot make it grow.
const checkedAuthorities = new Map<string, CheckedAuthority | null>();
const CHECKED_AUTHORITIES_MAX = 1024;

function checked(a: string): CheckedAuthority | null {
  let c = checkedAuthorities.get(a);
  if (c === undefined) {
    if (checkAuthority(a)) {
      const authority = normaliseAuthority(a);
      const colon = authority.lastIndexOf(':');
      c = {
        authority,
        port:
          colon !== -1 && authority.lastIndexOf(']') < colon ? Number(authority.slice(colon + 1)) : undefined,
      };
    } else c = null;
    if (checkedAuthorities.size >= CHECKED_AUTHORITIES_MAX) checkedAuthorities.clear();
    checkedAuthorities.set(a, c);
  }
  return c;
}

/** A Host header value or absolute-form authority Umbra accepts (port 1–65535 when given). */
export function validAuthority(a: string): boolean {
  return checked(a) !== null;
}

const defaultNormalizer = pathNormalizer('base');

/** Marks `OPTIONS *` (RFC 9112 §3.2.4): a question about Umbra itself, answered locally. */
export const ASTERISK: TargetError = { status: 200, message: '*' };

/**
 * @param host the Host header as node gives it (duplicates and bad values are refused earlier, by
 *   request-checks.ts); needed only for origin-form targets.
 * @param secure whether the connection is TLS; on a plaintext one an "https://" target is refused
 *   (Envoy does the same: it would let a client claim a scheme it did not use). Undefined: not
 *   judged (dry runs).
 */
export function parseTarget(
  url: string,
  host: string | string[] | undefined,
  normalize: PathNormalizer = defaultNormalizer,
  method = 'GET',
  secure?: boolean,
): RequestTarget | TargetError {
  let scheme = 'http';
  let authority: CheckedAuthority | null;
  let rest: string;
  if (url.charCodeAt(0) === 47 /* / */) {
    if (host === undefined || host === '') return { status: 400, message: 'missing Host header' };
    if (Array.isArray(host)) return { status: 400, message: 'duplicate Host header' };
    authority = checked(host);
    if (authority === null) return { status: 400, message: 'malformed Host header' };
    rest = url;
  } else if (url === '*') {
    return method === 'OPTIONS'
      ? ASTERISK
      : { status: 400, message: 'the asterisk request target is only allowed with OPTIONS' };
  } else {
    const lower = url.slice(0, 8).toLowerCase();
    if (lower.startsWith('http://')) scheme = 'http';
    else if (lower.startsWith('https://')) scheme = 'https';
    else return { status: 400, message: 'unsupported request target' };
    if (scheme === 'https' && secure === false)
      return { status: 400, message: 'an https request target on a plaintext connection' };
    const after = url.slice(scheme.length + 3);
    const slash = after.search(/[/?#]/);
    authority = checked(slash === -1 ? after : after.slice(0, slash));
    if (authority === null) return { status: 400, message: 'malformed authority in request target' };
    rest = slash === -1 ? '/' : after.slice(slash);
    if (rest.charCodeAt(0) === 63 /* ? */) rest = `/${rest}`;
  }
  // Envoy refuses fragments in the request target (RFC 9112 has no place for them) rather than
  // guessing which part the origin would see.
  if (rest.indexOf('#') !== -1) return { status: 400, message: 'request target has a fragment' };
  const split = splitPathQuery(rest);
  const path = normalize(split.path);
  if (path === undefined) return { status: 400, message: 'request path cannot be normalised (%00)' };
  return {
    authority: authority.authority,
    path,
    query: split.query,
    port: authority.port ?? (scheme === 'https' ? 443 : 80),
    scheme,
  };
}

export function isTargetError(t: RequestTarget | TargetError): t is TargetError {
  return (t as TargetError).status !== undefined;
}
