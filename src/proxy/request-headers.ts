// Builds the upstream request's header list from the downstream request in one pass: drops
// hop-by-hop headers (RFC 9110 §7.6.1), sets Host, keeps or creates x-request-id, and appends
// x-forwarded-for / x-forwarded-proto as Envoy does for an edge-facing listener.

import { randomUUID } from 'node:crypto';

/** Never forwarded: connection-specific (RFC 9110 §7.6.1), or undici refuses them (DESIGN.md §3). */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
  'host',
  'x-forwarded-proto',
]);

/** Headers only Umbra may set; a client's copy is dropped so it cannot forge them. */
export const INTERNAL_HEADERS = new Set(['x-envoy-attempt-count']);

export interface PreparedHeaders {
  readonly headers: string[];
  readonly requestId: string;
}

/**
 * @param raw node's req.rawHeaders (name/value pairs, original case)
 * @param authority the Host to send upstream
 * @param clientIp the downstream peer, appended to x-forwarded-for
 */
export function prepareRequestHeaders(raw: readonly string[], authority: string, clientIp: string | undefined, proto: string): PreparedHeaders {
  const out: string[] = ['host', authority];
  let requestId: string | undefined;
  let connectionTokens: Set<string> | undefined;
  let xffIndex = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'connection') {
      for (const t of raw[i + 1].split(',')) (connectionTokens ??= new Set()).add(t.trim().toLowerCase());
      continue;
    }
    if (HOP_BY_HOP.has(name) || INTERNAL_HEADERS.has(name)) continue;
    if (name === 'x-request-id') {
      if (requestId !== undefined) continue; // keep the first, drop duplicates
      requestId = raw[i + 1];
    } else if (name === 'x-forwarded-for') {
      if (xffIndex !== -1) {
        // Fold repeated X-Forwarded-For lines into one list (RFC 9110 §5.3 list semantics).
        out[xffIndex] += `, ${raw[i + 1]}`;
        continue;
      }
      xffIndex = out.length + 1;
    }
    out.push(name, raw[i + 1]);
  }
  if (connectionTokens) {
    // Headers nominated by Connection are hop-by-hop too.
    for (let i = out.length - 2; i >= 2; i -= 2) if (connectionTokens.has(out[i])) out.splice(i, 2);
    xffIndex = out.indexOf('x-forwarded-for') + 1 || -1;
  }
  if (requestId === undefined) {
    requestId = randomUUID();
    out.push('x-request-id', requestId);
  }
  if (clientIp) {
    const ip = clientIp.startsWith('::ffff:') ? clientIp.slice(7) : clientIp;
    if (xffIndex > 0) out[xffIndex] += `, ${ip}`;
    else out.push('x-forwarded-for', ip);
  }
  out.push('x-forwarded-proto', proto);
  return { headers: out, requestId };
}

/** Response headers never passed back to the client (hop-by-hop). */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer', 'te']);

/** Filters an undici response header object in place of copying when nothing needs removing. */
export function responseHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  let out = h;
  const conn = h['connection'];
  const nominated = typeof conn === 'string' ? new Set(conn.toLowerCase().split(',').map((t) => t.trim())) : undefined;
  for (const k in h) {
    if (RESPONSE_HOP_BY_HOP.has(k) || nominated?.has(k)) {
      if (out === h) out = { ...h };
      delete out[k];
    }
  }
  return out;
}
