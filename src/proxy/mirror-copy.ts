// The request a mirror copy is made from when its policy says the copy must not see every change
// of its route (Gateway API: a RequestMirror sees only the filters listed before it and never the
// backendRef filters). Without `copyOf` the copy is the primary's upstream request, as in Envoy.

import type { MirrorSource } from '../model/route-table.js';
import { applyHeaderOps } from './header-ops.js';
import type { MirrorRequest } from './mirror.js';
import type { RequestTarget } from './request-target.js';

/**
 * `prepared` is the primary's header list before any route or backend header operation (hop-by-hop
 * headers already removed, forwarding headers added); it is not modified.
 */
export function copyRequestFrom(
  src: MirrorSource,
  primary: MirrorRequest,
  prepared: readonly string[],
  target: RequestTarget,
): MirrorRequest {
  const headers = applyHeaderOps(prepared as string[], src.requestHeaders);
  if (src.rewritten) return { ...primary, headers };
  // The Host is replaced by the mirror writer from `authority` (plus the shadow suffix).
  return {
    ...primary,
    headers,
    authority: target.authority,
    path: target.query ? `${target.path}?${target.query}` : target.path,
  };
}
