// Path rewrites (full, prefix, regex) and redirect Location building, shared by the Istio and
// Gateway API translations, which both reduce to these three kinds of replacement.

import type { PathReplacement, RedirectAction } from '../model/route-table.js';
import type { RequestTarget } from './request-target.js';
import type { RE2JS } from 're2js';
import { re2 } from '../model/re2.js';

const regexCache = new WeakMap<object, RE2JS>();

export function rewritePath(r: PathReplacement, path: string): string {
  switch (r.kind) {
    case 'full':
      return r.value;
    case 'prefix': {
      const p = r.prefix.length > 1 && r.prefix.endsWith('/') ? r.prefix.slice(0, -1) : r.prefix;
      if (!path.startsWith(p)) return path;
      let rest = path.slice(p.length);
      // Gateway API ReplacePrefixMatch: "/foo" → "/" on "/foo/bar" gives "/bar", not "//bar".
      if (r.value.endsWith('/') && rest.startsWith('/')) rest = rest.slice(1);
      const out = r.value + rest;
      return out === '' ? '/' : out;
    }
    case 'head':
      return r.value + path.slice(r.length);
    case 'regex': {
      let re = regexCache.get(r.pattern);
      if (!re) regexCache.set(r.pattern, (re = re2().compile(r.pattern.value)));
      return re.matcher(path).replaceAll(r.substitution);
    }
  }
}

/** Index of the ':' that starts the port in an authority, or -1 ("[::1]:80" → 5, "[::1]" → -1). */
function portColon(authority: string): number {
  const colon = authority.lastIndexOf(':');
  return colon !== -1 && authority.lastIndexOf(']') < colon ? colon : -1;
}

/**
 * The Location of a redirect, as Envoy builds it (RouteEntryImplBase::newUri): an explicit port
 * replaces the host's (and is left out when it is the scheme's default); an explicit host is used
 * as written; otherwise the request's host keeps its port, unless the scheme changes away from one
 * whose default port it carried ("http://a:80" → "https://a"). A path with '?' brings its own query.
 */
export function redirectLocation(a: RedirectAction, t: RequestTarget): string {
  const scheme = a.scheme ?? t.scheme;
  let authority: string;
  if (a.port !== undefined) {
    const base = a.host ?? t.authority;
    const c = portColon(base);
    const host = c === -1 ? base : base.slice(0, c);
    authority =
      (scheme === 'http' && a.port === 80) || (scheme === 'https' && a.port === 443)
        ? host
        : `${host}:${a.port}`;
  } else if (a.host !== undefined) authority = a.host;
  else {
    const c = portColon(t.authority);
    const port = c === -1 ? '' : t.authority.slice(c + 1);
    const wasDefault = (t.scheme === 'http' && port === '80') || (t.scheme === 'https' && port === '443');
    authority = scheme !== t.scheme && wasDefault ? t.authority.slice(0, c) : t.authority;
  }
  const path = a.path ? rewritePath(a.path, t.path) : t.path;
  const ownQuery = a.path?.kind === 'full' && a.path.value.includes('?');
  return `${scheme}://${authority}${path}${t.query && !ownQuery ? `?${t.query}` : ''}`;
}
