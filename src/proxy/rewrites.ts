// Path rewrites (full, prefix, regex) and redirect Location building, shared by the Istio and
// Gateway API translations, which both reduce to these three kinds of replacement.

import type { PathReplacement, RedirectAction } from '../model/route-table.js';
import type { RequestTarget } from './request-target.js';
import { RE2JS } from 're2js';

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
    case 'regex': {
      let re = regexCache.get(r.pattern);
      if (!re) regexCache.set(r.pattern, (re = RE2JS.compile(r.pattern.value)));
      return re.matcher(path).replaceAll(r.substitution);
    }
  }
}

export function redirectLocation(a: RedirectAction, t: RequestTarget): string {
  const scheme = a.scheme ?? t.scheme;
  const colon = t.authority.lastIndexOf(':');
  const hasPort = colon !== -1 && t.authority.lastIndexOf(']') < colon;
  const host = a.host ?? (hasPort ? t.authority.slice(0, colon) : t.authority);
  let port = a.port !== undefined ? String(a.port) : a.scheme !== undefined && a.scheme !== t.scheme ? '' : hasPort ? t.authority.slice(colon + 1) : '';
  if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) port = '';
  const path = a.path ? rewritePath(a.path, t.path) : t.path;
  return `${scheme}://${host}${port ? `:${port}` : ''}${path}${t.query ? `?${t.query}` : ''}`;
}
