// httpbin's endpoints as a route table: each answers the way kennethreitz/httpbin does (statuses,
// headers, JSON keys, caps), given a request whose body has already been read (see httpbin.ts).

import { http } from '../runtime/node-http.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { ECHO_LIMIT, type DictKey, type HttpbinRequest } from './httpbin-request.js';
import { pythonJson, type PyJson } from './python-json.js';
import { PythonRandom } from './python-random.js';

/** httpbin's own caps: /bytes and /stream-bytes at 100 KiB, /drip at 10 MiB, /delay at 10 s. */
export const HTTPBIN_LIMITS = Object.freeze({
  bytes: 100 * 1024,
  dripBytes: 10 * 1024 * 1024,
  delaySeconds: 10,
  echoBytes: ECHO_LIMIT,
});

const ANY_METHOD = null;
const ECHO_KEYS: readonly DictKey[] = ['url', 'args', 'form', 'data', 'origin', 'headers', 'files', 'json'];
const ANYTHING_KEYS: readonly DictKey[] = [...ECHO_KEYS, 'method'];
const DELAY_KEYS: readonly DictKey[] = ['url', 'args', 'form', 'data', 'origin', 'headers', 'files'];
const BODY_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE'];
const HTML = 'text/html; charset=utf-8';

/** One request/response pair while it is being answered. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly r: HttpbinRequest;
  readonly head: boolean;
  /** The route echoes the body, so a cut echo is worth flagging. */
  readonly echo: boolean;
  readonly name: string;
  /** Body bytes handed to the socket: the access log's `%(b)s`. */
  sent: number;
  /** Timers of delayed or dripping answers, cleared if the client goes away. */
  readonly timers: Set<NodeJS.Timeout>;
}

export interface Route {
  readonly pattern: RegExp;
  /** Allowed methods (HEAD and OPTIONS are implied, as in Flask); null: any method. */
  readonly methods: readonly string[] | null;
  /** Keep the body (up to ECHO_LIMIT) to echo it; other routes only count it. */
  readonly echo: boolean;
  readonly handle: (x: Exchange, m: RegExpExecArray) => void;
}

function later(x: Exchange, ms: number, fn: () => void): void {
  const t = setTimeout(() => {
    x.timers.delete(t);
    fn();
  }, ms);
  x.timers.add(t);
}

function cors(x: Exchange): string[] {
  return [
    'Access-Control-Allow-Origin',
    x.r.header('Origin') ?? '*',
    'Access-Control-Allow-Credentials',
    'true',
  ];
}

/** Statuses that must not carry a body or a Content-Length. */
const bodiless = (status: number): boolean => status === 204 || status === 304 || status < 200;

function reply(x: Exchange, status: number, headers: readonly string[], body: string | Buffer = ''): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const all = [...headers];
  if (!bodiless(status)) all.push('Content-Length', String(buf.length));
  if (x.echo && x.r.body.truncated) all.push('X-Umbra-Echo-Truncated', 'true');
  x.res.writeHead(status, [...all, ...cors(x)]);
  if (bodiless(status) || x.head) {
    x.res.end();
  } else {
    x.sent += buf.length;
    x.res.end(buf);
  }
}

function json(x: Exchange, value: PyJson, status = 200): void {
  reply(x, status, ['Content-Type', 'application/json'], pythonJson(value));
}

export function text(x: Exchange, status: number, body: string, type = HTML): void {
  reply(x, status, ['Content-Type', type], body);
}

const NOT_FOUND_PAGE =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n' +
  '<p>The requested URL was not found on the server. If you entered the URL manually please check ' +
  'your spelling and try again.</p>\n';

const NOT_ALLOWED_PAGE =
  '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n' +
  '<p>The method is not allowed for the requested URL.</p>\n';

/** Python's int(): optional sign and surrounding blanks, digits only. */
function pyInt(s: string | undefined): number | undefined {
  return s !== undefined && /^\s*[+-]?\d+\s*$/.test(s) ? Number.parseInt(s, 10) : undefined;
}

/** Python's float() for ordinary numbers. */
function pyFloat(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s.trim());
  return Number.isNaN(n) ? undefined : n;
}

const validStatus = (code: number | undefined): code is number =>
  code !== undefined && code >= 200 && code <= 999;

/** `/status/200,404` or `/status/200:0.9,500:0.1`: httpbin's weighted random pick. */
function pickStatus(spec: string): number | undefined {
  if (!spec.includes(',')) return pyInt(spec);
  const codes: number[] = [];
  const cumulative: number[] = [];
  let total = 0;
  for (const choice of spec.split(',')) {
    const parts = choice.split(':');
    if (parts.length > 2) return undefined;
    const code = pyInt(parts[0]);
    const weight = parts.length === 2 ? pyFloat(parts[1]) : 1;
    if (code === undefined || weight === undefined) return undefined;
    total += weight;
    codes.push(code);
    cumulative.push(total);
  }
  const draw = Math.random() * total;
  const i = cumulative.findIndex((c) => draw < c);
  return codes[i === -1 ? codes.length - 1 : i];
}

const REDIRECT_CODES = new Set([301, 302, 303, 305, 307]);

/** httpbin's status_code(): a few codes carry the headers or body that give them meaning. */
function statusReply(x: Exchange, code: number): void {
  if (REDIRECT_CODES.has(code)) return reply(x, code, ['location', '/redirect/1']);
  switch (code) {
    case 401:
      return reply(x, code, ['WWW-Authenticate', 'Basic realm="Fake Realm"']);
    case 407:
      return reply(x, code, ['Proxy-Authenticate', 'Basic realm="Fake Realm"']);
    case 406:
      return reply(
        x,
        code,
        ['Content-Type', 'application/json'],
        '{"message": "Client did not request a supported media type.", "accept": ' +
          '["image/webp", "image/svg+xml", "image/jpeg", "image/png", "image/*"]}',
      );
    case 418:
      return reply(x, code, ['x-more-info', 'http://tools.ietf.org/html/rfc2324'], "I'm a teapot\n");
    default:
      return reply(x, code, ['Content-Type', HTML]);
  }
}

/** /redirect/N answers with Flask's redirect page, /relative-redirect/N with an empty body. */
function redirect(x: Exchange, location: string, page: boolean): void {
  const body = page
    ? `<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n` +
      `<p>You should be redirected automatically to the target URL: <a href="${location}">${location}</a>. ` +
      'If not, click the link.\n'
    : '';
  reply(x, 302, ['Content-Type', HTML, 'Location', location], body);
}

/** The `seed` parameter makes the bytes the same as the real httpbin's for that seed. */
function randomPayload(x: Exchange, n: number): Buffer | undefined {
  const seed = x.r.param('seed');
  if (seed === undefined) return randomBytes(n);
  if (!/^\s*[+-]?\d+\s*$/.test(seed)) return undefined;
  return new PythonRandom(BigInt(seed.trim())).bytes(n);
}

function landing(x: Exchange): void {
  const page =
    `${x.name}: an httpbin-compatible demo workload (Umbra).\n\n` +
    'Try: /headers /get /anything /post /put /patch /delete /status/418 /status/200,404 /delay/1\n' +
    '     /bytes/1024?seed=1 /stream-bytes/1024 /uuid /ip /user-agent /response-headers?k=v\n' +
    '     /drip?numbytes=5&duration=1 /base64/SFRUUEJJTiBpcyBhd2Vzb21l /redirect/3\n';
  text(x, 200, page, 'text/plain; charset=utf-8');
}

function responseHeaders(x: Exchange): void {
  // Headers that would break the framing are not echoed; invalid names/values are skipped.
  const pairs: [string, string][] = [];
  for (const [k, values] of x.r.args) {
    if (/^(content-length|transfer-encoding|connection)$/i.test(k)) continue;
    for (const v of values) {
      try {
        http.validateHeaderName(k);
        http.validateHeaderValue(k, v);
        pairs.push([k, v]);
      } catch {
        // not a header that can be sent
      }
    }
  }
  // Like httpbin: the body lists the response's own headers, Content-Length included, so iterate
  // until the length written into the body is the body's length.
  let body = '';
  for (let i = 0; i < 10; i++) {
    const entries: [string, string][] = [
      ['Content-Type', 'application/json'],
      ['Content-Length', String(Buffer.byteLength(body))],
      ...pairs,
    ];
    const d: Record<string, PyJson> = {};
    for (const [k] of entries) {
      const all = entries.filter(([n]) => n.toLowerCase() === k.toLowerCase()).map(([, v]) => v);
      d[k] = all.length === 1 ? all[0] : all;
    }
    const next = pythonJson(d);
    if (next === body) break;
    body = next;
  }
  reply(x, 200, ['Content-Type', 'application/json', ...pairs.flat()], body);
}

function drip(x: Exchange): void {
  const duration = pyFloat(x.r.param('duration') ?? '2');
  const requested = pyInt(x.r.param('numbytes') ?? '10');
  const code = pyInt(x.r.param('code') ?? '200');
  const delay = pyFloat(x.r.param('delay') ?? '0');
  if (duration === undefined || requested === undefined || delay === undefined || !validStatus(code)) {
    return text(x, 400, 'Invalid drip parameters');
  }
  if (requested <= 0) return text(x, 400, 'number of bytes must be positive');
  const n = Math.min(requested, HTTPBIN_LIMITS.dripBytes);
  const pauseMs = (Math.max(0, duration) * 1000) / n;
  const start = (): void => {
    x.res.writeHead(code, [
      'Content-Type',
      'application/octet-stream',
      'Content-Length',
      String(n),
      ...cors(x),
    ]);
    const t0 = Date.now();
    let written = 0;
    // Byte i is due at t0 + i * pause (httpbin yields, then sleeps); late ticks send what is due.
    const tick = (): void => {
      const due = pauseMs === 0 ? n : Math.min(n, Math.floor((Date.now() - t0) / pauseMs) + 1);
      if (due > written) {
        const chunk = Buffer.alloc(due - written, '*');
        if (!x.head) x.sent += chunk.length;
        x.res.write(chunk);
        written = due;
      }
      if (written >= n) x.res.end();
      else later(x, Math.max(1, t0 + written * pauseMs - Date.now()), tick);
    };
    tick();
  };
  if (delay > 0) later(x, delay * 1000, start);
  else start();
}

function streamBytes(x: Exchange, n: number): void {
  const chunkSize = pyInt(x.r.param('chunk_size') ?? '10240');
  const data = randomPayload(x, Math.min(n, HTTPBIN_LIMITS.bytes));
  if (chunkSize === undefined || data === undefined) return text(x, 400, 'Invalid seed or chunk_size');
  const size = Math.max(1, chunkSize);
  // No Content-Length: node sends it chunked, one chunk per write, as httpbin streams it.
  x.res.writeHead(200, ['Content-Type', 'application/octet-stream', ...cors(x)]);
  for (let i = 0; i < data.length; i += size) {
    const chunk = data.subarray(i, i + size);
    if (!x.head) x.sent += chunk.length;
    x.res.write(chunk);
  }
  x.res.end();
}

function decodeBase64(x: Exchange, value: string): void {
  try {
    const decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(value, 'base64url'));
    text(x, 200, decoded);
  } catch {
    text(x, 200, 'Incorrect Base64 data try: SFRUUEJJTiBpcyBhd2Vzb21l');
  }
}

const GET = ['GET'];

export const httpbinRoutes: readonly Route[] = [
  { pattern: /^\/$/, methods: GET, echo: false, handle: landing },
  {
    pattern: /^\/headers$/,
    methods: GET,
    echo: false,
    handle: (x) => json(x, { headers: x.r.headersJson() }),
  },
  {
    pattern: /^\/get$/,
    methods: GET,
    echo: false,
    handle: (x) => json(x, x.r.dict(['url', 'args', 'headers', 'origin'])),
  },
  {
    pattern: /^\/anything(?:\/.+)?$/s,
    methods: ANY_METHOD,
    echo: true,
    handle: (x) => json(x, x.r.dict(ANYTHING_KEYS)),
  },
  { pattern: /^\/post$/, methods: ['POST'], echo: true, handle: (x) => json(x, x.r.dict(ECHO_KEYS)) },
  { pattern: /^\/put$/, methods: ['PUT'], echo: true, handle: (x) => json(x, x.r.dict(ECHO_KEYS)) },
  { pattern: /^\/patch$/, methods: ['PATCH'], echo: true, handle: (x) => json(x, x.r.dict(ECHO_KEYS)) },
  { pattern: /^\/delete$/, methods: ['DELETE'], echo: true, handle: (x) => json(x, x.r.dict(ECHO_KEYS)) },
  {
    pattern: /^\/status\/([^/]+)$/,
    methods: BODY_METHODS,
    echo: false,
    handle: (x, m) => {
      const code = pickStatus(m[1]);
      if (!validStatus(code)) return text(x, 400, 'Invalid status code', 'text/plain; charset=utf-8');
      statusReply(x, code);
    },
  },
  {
    pattern: /^\/delay\/([^/]+)$/,
    methods: BODY_METHODS,
    echo: true,
    handle: (x, m) => {
      const seconds = pyFloat(m[1]);
      if (seconds === undefined) return text(x, 400, 'Invalid delay');
      const ms = Math.max(0, Math.min(seconds, HTTPBIN_LIMITS.delaySeconds)) * 1000;
      later(x, ms, () => json(x, x.r.dict(DELAY_KEYS)));
    },
  },
  {
    pattern: /^\/bytes\/(\d+)$/,
    methods: GET,
    echo: false,
    handle: (x, m) => {
      const data = randomPayload(x, Math.min(Number(m[1]), HTTPBIN_LIMITS.bytes));
      if (!data) return text(x, 400, 'Invalid seed');
      reply(x, 200, ['Content-Type', 'application/octet-stream'], data);
    },
  },
  {
    pattern: /^\/stream-bytes\/(\d+)$/,
    methods: GET,
    echo: false,
    handle: (x, m) => streamBytes(x, Number(m[1])),
  },
  { pattern: /^\/uuid$/, methods: GET, echo: false, handle: (x) => json(x, { uuid: randomUUID() }) },
  { pattern: /^\/ip$/, methods: GET, echo: false, handle: (x) => json(x, { origin: x.r.origin() }) },
  {
    pattern: /^\/user-agent$/,
    methods: GET,
    echo: false,
    handle: (x) => json(x, { 'user-agent': x.r.header('User-Agent') ?? null }),
  },
  { pattern: /^\/response-headers$/, methods: ['GET', 'POST'], echo: false, handle: responseHeaders },
  { pattern: /^\/drip$/, methods: GET, echo: false, handle: drip },
  { pattern: /^\/base64\/([^/]+)$/, methods: GET, echo: false, handle: (x, m) => decodeBase64(x, m[1]) },
  {
    pattern: /^\/(relative-)?redirect\/(\d+)$/,
    methods: GET,
    echo: false,
    handle: (x, m) => {
      const n = Number(m[2]);
      if (n < 1) return text(x, 400, 'Invalid redirect count');
      redirect(x, n === 1 ? '/get' : `/relative-redirect/${n - 1}`, m[1] === undefined);
    },
  },
];

const ALL_METHODS = 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE';

function allowHeader(route: Route): string {
  if (route.methods === ANY_METHOD) return ALL_METHODS;
  const set = new Set([...route.methods, 'OPTIONS']);
  if (set.has('GET')) set.add('HEAD');
  return [...set].sort().join(', ');
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export interface RouteMatch {
  readonly route: Route;
  readonly m: RegExpExecArray;
}

/** The route for a request target (origin or absolute form), matched on the decoded path like Flask. */
export function findRoute(target: string): RouteMatch | undefined {
  const q = target.indexOf('?');
  const rawPath = (q === -1 ? target : target.slice(0, q)).replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  const path = decodePath(rawPath || '/');
  for (const route of httpbinRoutes) {
    const m = route.pattern.exec(path);
    if (m) return { route, m };
  }
  return undefined;
}

/** Answers a request whose body has been read: 404, OPTIONS, 405, or the route's handler. */
export function respond(x: Exchange, match: RouteMatch | undefined): void {
  const method = x.req.method ?? 'GET';
  if (!match) return text(x, 404, NOT_FOUND_PAGE);
  const { route, m } = match;
  const allowed =
    route.methods === ANY_METHOD ||
    route.methods.includes(method) ||
    (method === 'HEAD' && route.methods.includes('GET'));
  if (method === 'OPTIONS' && route.methods !== ANY_METHOD) {
    // Flask answers OPTIONS itself; httpbin adds the CORS preflight headers.
    const headers = ['Content-Type', HTML, 'Allow', allowHeader(route)];
    headers.push('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, PATCH, OPTIONS');
    headers.push('Access-Control-Max-Age', '3600');
    const asked = x.r.header('Access-Control-Request-Headers');
    if (asked !== undefined) headers.push('Access-Control-Allow-Headers', asked);
    return reply(x, 200, headers);
  }
  if (!allowed) return reply(x, 405, ['Content-Type', HTML, 'Allow', allowHeader(route)], NOT_ALLOWED_PAGE);
  route.handle(x, m);
}
