// Decides whether a request may reach the admin API at all: the Host must name the admin's own
// address (DNS rebinding), a browser Origin must be the admin's own, writes need a JSON or YAML
// body (no CORS "simple request"), and off loopback a bearer token guards everything but probes.
// The model and its anchors (Envoy's admin guidance, the Kubernetes API) are in docs/admin-api.md.

import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Media types a write may carry. None is CORS-safelisted, so a browser must preflight them (Fetch §4.5). */
const WRITE_TYPES = new Set([
  'application/json',
  'application/yaml',
  'application/x-yaml',
  'text/yaml',
  'text/x-yaml',
]);

/** Always answered: liveness and readiness probes carry no data and come from kubelets with any Host. */
const PROBES = new Set(['/ready', '/healthz']);
/** Answered without a token off loopback: what Prometheus scrapes (as Envoy's /stats/prometheus). */
const SCRAPES = new Set(['/stats/prometheus']);

export interface GuardOptions {
  /** The address the admin server is bound to, as given (127.0.0.1, ::1, localhost, 0.0.0.0…). */
  readonly host: string;
  /** The port it listens on (known after listen, port 0 included). */
  readonly port: number;
  readonly token?: string;
}

export interface Refusal {
  readonly status: number;
  readonly error: string;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

export function isLoopbackAddress(addr: string): boolean {
  const a = addr.replace(/^\[|\]$/g, '').toLowerCase();
  return a === 'localhost' || a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/** Bound to loopback only: nothing but local processes (and browsers on this machine) can connect. */
export function loopbackOnly(host: string): boolean {
  return !WILDCARDS.has(host) && isLoopbackAddress(host);
}

/** Splits a Host header (or an Origin's authority) into host name and port; undefined when malformed. */
export function splitAuthority(authority: string): { host: string; port?: number } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(authority.trim());
  if (!m) return undefined;
  return { host: m[1].toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * A Host that names this admin server: its bound address, `localhost`, or a loopback literal
 * (127.0.0.0/8, [::1]), always with the admin's port. A rebound DNS name (evil.example resolving
 * to 127.0.0.1) is none of these, so a page that rebinds its own name can neither read nor write.
 */
export function ownHost(authority: string | undefined, o: GuardOptions): boolean {
  if (!authority) return false;
  const a = splitAuthority(authority);
  if (!a || a.port !== o.port) return false;
  const bound = o.host.replace(/^\[|\]$/g, '').toLowerCase();
  const name = a.host.replace(/^\[|\]$/g, '');
  if (name === bound) return true;
  return isLoopbackAddress(name);
}

export function tokenMatches(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const h = req.headers.authorization ?? '';
  const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function isWrite(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/** Why a request is refused, or undefined when it may go on. */
export function guard(req: IncomingMessage, path: string, o: GuardOptions): Refusal | undefined {
  const method = req.method ?? 'GET';
  if (!isWrite(method) && PROBES.has(path)) return undefined;
  const local = loopbackOnly(o.host);
  // Off loopback every call but probes and scrapes must carry the token (Kubernetes: every request
  // is authenticated); a request that does is from an operator, whatever name they reached us by.
  const authenticated =
    o.token !== undefined && req.headers.authorization !== undefined && tokenMatches(req, o.token);
  if (!local && !authenticated && !(method === 'GET' && SCRAPES.has(path)))
    return { status: 401, error: 'admin token required: send Authorization: Bearer <token>' };
  // Off loopback, what is not token-checked (the scrape) is open to the network anyway.
  if (local && !authenticated && !ownHost(req.headers.host, o))
    return {
      status: 403,
      error: `Host "${req.headers.host ?? ''}" does not name this admin server (use 127.0.0.1:${o.port} or localhost:${o.port})`,
    };
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // A browser says where the page came from; only pages served by this admin server (the dashboard) may call it.
    const m = /^http:\/\/(.+)$/i.exec(origin);
    const sameAsHost =
      m !== undefined && m !== null && m[1].toLowerCase() === (req.headers.host ?? '').toLowerCase();
    if (!m || !sameAsHost || !(authenticated || ownHost(m[1], o)))
      return { status: 403, error: `cross-origin request from ${origin} refused` };
  }
  if (!isWrite(method)) return undefined;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return { status: 403, error: `cross-site request (Sec-Fetch-Site: ${String(site)}) refused` };
  if (o.token !== undefined && !authenticated)
    return { status: 401, error: 'admin token required: send Authorization: Bearer <token>' };
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!WRITE_TYPES.has(type))
      return {
        status: 415,
        error: `a write needs Content-Type application/json or application/yaml (got ${type ? `"${type}"` : 'none'})`,
      };
  }
  return undefined;
}
