// Endpoint choice within a cluster, as a pure function of the cluster, the request's hash key and
// the caller's view of endpoint health: round robin, least request (power of two choices), random,
// and consistent hashing over the table built at translation time (DestinationRule loadBalancer).

import { hashKey as hashString } from '../model/consistent-hash.js';
import type { Cluster, Endpoint, LbPolicy } from '../model/route-table.js';

export interface LbInputs {
  /** Hash of the request's consistent-hash key; undefined → a random endpoint, as Envoy does. */
  readonly hash?: number;
  /** Endpoints allowed for this pick (not ejected, not tried before); undefined → all. */
  readonly usable?: (index: number) => boolean;
  /** Requests in flight per endpoint, for least request. */
  readonly inFlight?: (index: number) => number;
  /** Round-robin cursor, shared by all picks of the cluster. */
  readonly cursor: { rr: number };
  readonly random?: () => number;
}

export function chooseEndpoint(c: Cluster, o: LbInputs): Endpoint | undefined {
  const i = chooseIndex(c, o);
  return i < 0 ? undefined : c.endpoints[i];
}

/** Index into `c.endpoints`, or -1 when none is usable. */
export function chooseIndex(c: Cluster, o: LbInputs): number {
  const n = c.endpoints.length;
  if (n === 0) return -1;
  const rnd = o.random ?? Math.random;
  // Candidate indices only when some endpoints are excluded: the common case allocates nothing.
  let idx: number[] | undefined;
  if (o.usable) {
    let ok = 0;
    for (let i = 0; i < n; i++) if (o.usable(i)) ok++;
    if (ok === 0) return -1;
    if (ok < n) {
      idx = [];
      for (let i = 0; i < n; i++) if (o.usable(i)) idx.push(i);
    }
  }
  const count = idx ? idx.length : n;
  const at = (k: number) => (idx ? idx[k] : k);
  const lb = c.lb;
  switch (lb.kind) {
    case 'hash':
      if (o.hash !== undefined && lb.table) return lb.table.lookup(o.hash, idx ? o.usable : undefined);
      return at(Math.floor(rnd() * count));
    case 'random':
      return at(Math.floor(rnd() * count));
    case 'least-request': {
      if (count === 1) return at(0);
      // Power of two choices, as Envoy's LEAST_REQUEST does with equal weights.
      const a = at(Math.floor(rnd() * count));
      const b = at(Math.floor(rnd() * count));
      const load = o.inFlight ?? (() => 0);
      return load(a) <= load(b) ? a : b;
    }
    default:
      return at(o.cursor.rr++ % count);
  }
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The value of cookie `name` in a Cookie header (quotes around the value are dropped, RFC 6265). */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  const all = Array.isArray(header) ? header.join('; ') : header;
  if (!all) return undefined;
  let start = 0;
  while (start < all.length) {
    let end = all.indexOf(';', start);
    if (end === -1) end = all.length;
    while (all.charCodeAt(start) === 32) start++;
    const eq = all.indexOf('=', start);
    if (eq !== -1 && eq < end && eq - start === name.length && all.startsWith(name, start)) {
      let v = all.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    start = end + 1;
  }
  return undefined;
}

/** What a request offers to consistent hashing: its headers, raw query and peer address. */
export interface HashSource {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: string;
  readonly remoteAddress?: string;
}

/**
 * The consistent-hash key of a request under `lb` (Istio consistentHash: httpHeaderName,
 * httpCookie, useSourceIp, httpQueryParameterName), or undefined when the request has none.
 */
export function hashKeyOf(
  lb: LbPolicy,
  req: HashSource,
  queryValue: (q: string, name: string) => string | undefined,
): string | undefined {
  if (lb.kind !== 'hash') return undefined;
  if (lb.header) return firstValue(req.headers[lb.header]);
  if (lb.cookie) return cookieValue(req.headers.cookie, lb.cookie);
  if (lb.sourceIp) {
    const ip = req.remoteAddress;
    return ip?.startsWith('::ffff:') ? ip.slice(7) : ip;
  }
  if (lb.queryParam) return queryValue(req.query, lb.queryParam);
  return undefined;
}

/** The 32-bit position of a hash key on the ring / in the Maglev table. */
export function keyHash(key: string): number {
  return hashString(key);
}

/**
 * Envoy's generated hash cookie (httpCookie with a ttl, when the request has none): a value
 * derived from the client's address, sent back with Set-Cookie so the client sticks from then on.
 */
export function generatedCookie(
  lb: Extract<LbPolicy, { kind: 'hash' }>,
  remote: string,
): { value: string; setCookie: string } | undefined {
  if (!lb.cookie || lb.cookieTtlSeconds === undefined) return undefined;
  const value =
    hashString(remote, 0x2545f491).toString(16).padStart(8, '0') +
    hashString(remote, 0x6c078965).toString(16).padStart(8, '0');
  let setCookie = `${lb.cookie}="${value}"`;
  if (lb.cookieTtlSeconds > 0) setCookie += `; Max-Age=${lb.cookieTtlSeconds}`;
  if (lb.cookiePath) setCookie += `; Path=${lb.cookiePath}`;
  return { value, setCookie: `${setCookie}; HttpOnly` };
}
