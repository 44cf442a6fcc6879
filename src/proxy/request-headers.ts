// Builds the upstream request's header list from the downstream request in one pass: drops
// hop-by-hop headers (RFC 9110 §7.6.1) and headers only a proxy may set, sets Host, keeps or
// creates x-request-id, and appends x-forwarded-for / sets x-forwarded-proto as an edge Envoy does
// (use_remote_address: true, with xff_num_trusted_hops trusted proxies in front of Umbra).

import { randomUUID } from 'node:crypto';

/** Never forwarded: connection-specific (RFC 9110 §7.6.1), or undici refuses them (docs/architecture.md, "Platform facts the code relies on"). */
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
]);

/**
 * Headers only Umbra may set; a client's copy is dropped so it cannot forge them (the mirror
 * marker of a genuine copy is put back by the lifecycle, see mirror-marker.ts). Every
 * `x-envoy-*` header goes too: Envoy strips them from requests of external clients, and Umbra
 * treats every client as external (it does not trust internal-network addresses).
 */
export const INTERNAL_HEADERS = new Set(['x-envoy-attempt-count', 'x-umbra-mirror', 'x-umbra-mirror-proof']);

function isInternal(name: string): boolean {
  return (
    (name.length > 8 && name.charCodeAt(0) === 120 /* x */ && name.startsWith('x-envoy-')) ||
    INTERNAL_HEADERS.has(name)
  );
}

export interface PreparedHeaders {
  readonly headers: string[];
  readonly requestId: string;
  /**
   * The trusted client address (Envoy's term): the peer, or — with N trusted hops — the Nth
   * address from the right of the X-Forwarded-For the request arrived with, when it has that many.
   */
  readonly clientAddress: string | undefined;
}

function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** Envoy's rule for xff_num_trusted_hops = n > 0: the nth entry from the right, else the peer. */
export function trustedClientAddress(
  xff: string | readonly string[] | undefined,
  peer: string | undefined,
  trustedHops: number,
): string | undefined {
  if (trustedHops <= 0 || !xff || xff.length === 0) return peer;
  const list = (typeof xff === 'string' ? xff : xff.join(',')).split(',');
  if (list.length < trustedHops) return peer;
  const a = list[list.length - trustedHops].trim();
  return a === '' ? peer : a;
}

/**
 * @param raw node's req.rawHeaders (name/value pairs, original case)
 * @param authority the Host to send upstream
 * @param clientIp the downstream peer, appended to x-forwarded-for
 * @param proto the scheme the request arrived with (x-forwarded-proto)
 * @param trustedHops proxies in front of Umbra whose X-Forwarded-For / X-Forwarded-Proto are trusted
 */
export function prepareRequestHeaders(
  raw: readonly string[],
  authority: string,
  clientIp: string | undefined,
  proto: string,
  trustedHops = 0,
): PreparedHeaders {
  const out: string[] = ['host', authority];
  let requestId: string | undefined;
  let connectionTokens: Set<string> | undefined;
  let xffIndex = -1;
  let xfpIndex = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === 'connection') {
      for (const t of raw[i + 1].split(',')) (connectionTokens ??= new Set()).add(t.trim().toLowerCase());
      continue;
    }
    if (HOP_BY_HOP.has(name) || isInternal(name)) continue;
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
    } else if (name === 'x-forwarded-proto') {
      // Only a trusted proxy in front may say which scheme the client used (Envoy: overwritten
      // when xff_num_trusted_hops is 0).
      if (trustedHops === 0 || xfpIndex !== -1) continue;
      xfpIndex = out.length + 1;
    }
    out.push(name, raw[i + 1]);
  }
  if (connectionTokens) {
    // Headers nominated by Connection are hop-by-hop too.
    for (let i = out.length - 2; i >= 2; i -= 2) if (connectionTokens.has(out[i])) out.splice(i, 2);
    xffIndex = out.indexOf('x-forwarded-for') + 1 || -1;
    xfpIndex = out.indexOf('x-forwarded-proto') + 1 || -1;
    if (connectionTokens.has('x-request-id')) requestId = undefined;
  }
  if (requestId === undefined) {
    requestId = randomUUID();
    out.push('x-request-id', requestId);
  }
  const peer = clientIp ? plainIp(clientIp) : undefined;
  const clientAddress = trustedClientAddress(xffIndex > 0 ? out[xffIndex] : undefined, peer, trustedHops);
  if (peer) {
    if (xffIndex > 0) out[xffIndex] += `, ${peer}`;
    else out.push('x-forwarded-for', peer);
  }
  if (xfpIndex === -1) out.push('x-forwarded-proto', proto);
  return { headers: out, requestId, clientAddress };
}

/** Response headers never passed back to the client (hop-by-hop). */
const RESPONSE_HOP_BY_HOP = new Set([
  'connection',
  // Credentials of a proxy hop (RFC 9110 §11.7): never relayed to the client.
  'proxy-authenticate',
  'proxy-authorization',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'te',
]);

/** Filters an undici response header object; the same object when nothing needs removing. */
export function responseHeaders(
  h: Record<string, string | string[] | undefined>,
): Record<string, string | string[] | undefined> {
  const conn = h['connection'];
  // Every Connection line nominates headers (undici gives repeated lines as an array); the usual
  // "keep-alive" or "close" nominates nothing that is not dropped anyway.
  let nominated: Set<string> | undefined;
  if (conn !== undefined && !(typeof conn === 'string' && PLAIN_CONNECTION.test(conn)))
    for (const line of typeof conn === 'string' ? [conn] : conn)
      for (const t of line.toLowerCase().split(',')) (nominated ??= new Set()).add(t.trim());
  const dropped = (k: string) => RESPONSE_HOP_BY_HOP.has(k) || nominated?.has(k) === true;
  let any = false;
  for (const k in h)
    if (dropped(k)) {
      any = true;
      break;
    }
  if (!any) return h;
  // A new object rather than `delete` on a copy: deleting turns it into a slow dictionary-mode
  // object, which node's writeHead then walks for every response.
  const out: Record<string, string | string[] | undefined> = {};
  for (const k in h) if (!dropped(k)) out[k] = h[k];
  return out;
}

const PLAIN_CONNECTION = /^\s*(keep-alive|close)\s*$/i;
