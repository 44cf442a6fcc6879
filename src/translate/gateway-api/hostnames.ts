// Hostname rules of the Gateway API: how a Listener hostname and an HTTPRoute's hostnames
// intersect (HTTPRouteSpec.hostnames, Listener.hostname), and which listener of a port is the most
// specific for a hostname (listener isolation, GEP-1713). "*.example.com" is a suffix match that
// covers "a.example.com" and "a.b.example.com" but not "example.com".

/** Hostname key for "any host": neither the listener nor the route restricts it. */
export const ANY_HOST = '*';

function isWildcard(h: string): boolean {
  return h.startsWith('*.');
}

/** True when `pattern` (exact, wildcard or ANY_HOST) covers every host `h` (exact or wildcard) names. */
export function covers(pattern: string | undefined, h: string): boolean {
  if (pattern === undefined || pattern === ANY_HOST) return true;
  if (h === ANY_HOST) return false;
  if (!isWildcard(pattern)) return pattern === h;
  const suffix = pattern.slice(1); // ".example.com"
  return isWildcard(h) ? h.slice(1).endsWith(suffix) : h.endsWith(suffix) && h.length > suffix.length;
}

/**
 * The hostnames a route serves on a listener: the intersection of both, ANY_HOST when neither
 * restricts, or [] when they do not intersect (the route does not attach to that listener).
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] {
  if (route.length === 0) return [listener ?? ANY_HOST];
  if (listener === undefined) return [...new Set(route)];
  const out = new Set<string>();
  for (const h of route) {
    if (covers(listener, h)) out.add(h);
    else if (covers(h, listener)) out.add(listener);
  }
  return [...out];
}

/** Higher is more specific: exact names, then longer wildcards, then no hostname at all. */
export function specificity(listenerHostname: string | undefined): number {
  if (listenerHostname === undefined) return 0;
  return isWildcard(listenerHostname) ? 1 + listenerHostname.length : 1_000 + listenerHostname.length;
}
