// Request and response header manipulation on flat [name, value, name, value…] arrays, the form
// undici takes and node's rawHeaders gives, so the hot path never builds header objects.

import type { HeaderOps } from '../model/route-table.js';

/**
 * Applies set (replace), add (append) and remove to a flat header list with lower-case names.
 * Returns a new list when anything changes; `headers` itself is never modified (a mirror copy may
 * still need the list as it was before the route's operations).
 */
export function applyHeaderOps(headers: string[], ops: HeaderOps | undefined): string[] {
  if (!ops) return headers;
  let out = headers;
  const drop = new Set<string>(ops.remove ?? []);
  for (const [name] of ops.set ?? []) drop.add(name);
  if (drop.size > 0) {
    out = [];
    for (let i = 0; i < headers.length; i += 2)
      if (!drop.has(headers[i])) out.push(headers[i], headers[i + 1]);
  } else if (ops.add !== undefined && ops.add.length > 0) out = headers.slice();
  for (const [name, value] of ops.set ?? []) out.push(name, value);
  for (const [name, value] of ops.add ?? []) out.push(name, value);
  return out;
}

/** First value of a header in a flat list (names lower-case). */
export function getHeader(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/** Replaces (or adds) a single-valued header in a flat list, returning a new list. */
export function withHeader(headers: readonly string[], name: string, value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== name) out.push(headers[i], headers[i + 1]);
  out.push(name, value);
  return out;
}
