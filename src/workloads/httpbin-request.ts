// The request as httpbin's views see it (werkzeug + gunicorn semantics): body counted in full but kept
// only up to a cap, title-cased headers, flattened args/form, `data:` URLs for binary, `url`/`origin`.

import type { IncomingMessage } from 'node:http';
import type { PyJson } from './python-json.js';

/** Bodies larger than this are still read (and counted) to the end, but only this much is echoed. */
export const ECHO_LIMIT = 1024 * 1024;

export interface RequestBody {
  /** The first `keep` bytes of the body. */
  readonly data: Buffer;
  /** Every byte received, including those not kept. */
  readonly bytes: number;
  readonly truncated: boolean;
}

/**
 * Reads the whole body, keeping at most `keep` bytes, and calls `done` once it has ended. A client that
 * goes away never gets `done`: the response's own close handling cleans up.
 */
export function readBody(req: IncomingMessage, keep: number, done: (body: RequestBody) => void): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (kept < keep) {
      const part = kept + chunk.length <= keep ? chunk : chunk.subarray(0, keep - kept);
      chunks.push(part);
      kept += part.length;
    }
  });
  req.on('end', () => {
    const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, kept);
    done({ data, bytes, truncated: bytes > kept });
  });
  req.on('error', () => {});
}

type Multi = Map<string, string[]>;

/** Headers that httpbin hides unless `?show_env` is given (they come from its hosting, not the client). */
const ENV_HEADERS = new Set([
  'X-Varnish',
  'X-Request-Start',
  'X-Heroku-Queue-Depth',
  'X-Real-Ip',
  'X-Forwarded-Proto',
  'X-Forwarded-Protocol',
  'X-Forwarded-Ssl',
  'X-Heroku-Queue-Wait-Time',
  'X-Forwarded-For',
  'X-Heroku-Dynos-In-Use',
  'X-Forwarded-Port',
  'X-Request-Id',
  'Via',
  'Total-Route-Time',
  'Connect-Time',
]);

/** Python's str.title(): a letter is upper-cased when the character before it is not a letter. */
export function pythonTitle(s: string): string {
  let out = '';
  let prevCased = false;
  for (const ch of s) {
    const lower = ch.toLowerCase();
    const cased = lower !== ch.toUpperCase();
    out += cased ? (prevCased ? lower : ch.toUpperCase()) : ch;
    prevCased = cased;
  }
  return out;
}

/**
 * Header names as werkzeug rebuilds them from the WSGI environ: `_` and `-` are the same, each word is
 * title-cased, and repeated headers are joined with "," (gunicorn's join). Empty Content-* are dropped.
 */
export function wsgiHeaders(rawHeaders: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = pythonTitle(rawHeaders[i].toLowerCase().replace(/_/g, '-'));
    const value = rawHeaders[i + 1];
    if ((name === 'Content-Type' || name === 'Content-Length') && value === '') continue;
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

/** werkzeug's url_decode: `&`-separated, `+` is a space, a key without `=` has the value "". */
export function parseQuery(query: string): Multi {
  const out: Multi = new Map();
  for (const [k, v] of new URLSearchParams(query)) {
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}

/** httpbin's semiflatten: one value stays a string, several become a list. */
function flatten(m: Multi): Record<string, PyJson> {
  const out: Record<string, PyJson> = {};
  for (const [k, v] of m) out[k] = v.length === 1 ? v[0] : v;
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** httpbin's json_safe: valid UTF-8 is echoed as text, anything else as a base64 `data:` URL. */
export function jsonSafe(data: Buffer, contentType = 'application/octet-stream'): string {
  try {
    return utf8.decode(data);
  } catch {
    return `data:${contentType};base64,${data.toString('base64')}`;
  }
}

interface FormParts {
  readonly form: Multi;
  readonly files: Multi;
}

function headerParam(header: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${name}=(?:"([^"]*)"|([^;\\s]*))`, 'i').exec(header);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** A small multipart/form-data reader over the (capped) body; a truncated last part is dropped. */
export function parseMultipart(body: Buffer, boundary: string): FormParts {
  const form: Multi = new Map();
  const files: Multi = new Map();
  const add = (m: Multi, k: string, v: string): void => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const after = pos + delimiter.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) break; // "--": the closing delimiter
    const lineEnd = body.indexOf('\r\n', after);
    if (lineEnd === -1) break;
    const headerEnd = body.indexOf('\r\n\r\n', lineEnd);
    if (headerEnd === -1) break;
    const end = body.indexOf(next, headerEnd + 4);
    if (end === -1) break;
    const head = body.subarray(lineEnd + 2, headerEnd).toString('latin1');
    const content = body.subarray(headerEnd + 4, end);
    const disposition = /^content-disposition:(.*)$/im.exec(head)?.[1] ?? '';
    const type = /^content-type:\s*(.*?)\s*$/im.exec(head)?.[1];
    const name = headerParam(disposition, 'name');
    const filename = headerParam(disposition, 'filename');
    if (name !== undefined) {
      if (filename !== undefined) add(files, name, jsonSafe(content, type || 'application/octet-stream'));
      else add(form, name, content.toString('utf8'));
    }
    pos = end + 2;
  }
  return { form, files };
}

/** What httpbin's get_dict() can report about one request. */
export class HttpbinRequest {
  readonly headers: Map<string, string>;
  readonly path: string;
  readonly args: Multi;
  private parts: FormParts | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly body: RequestBody,
  ) {
    this.headers = wsgiHeaders(req.rawHeaders);
    const target = originForm(req.url ?? '/');
    const q = target.indexOf('?');
    this.path = q === -1 ? target : target.slice(0, q);
    this.args = parseQuery(q === -1 ? '' : target.slice(q + 1));
  }

  header(name: string): string | undefined {
    return this.headers.get(name);
  }

  /** Case-insensitive lookup of a query parameter (httpbin reads some through a CaseInsensitiveDict). */
  param(name: string): string | undefined {
    const lower = name.toLowerCase();
    let found: string | undefined;
    for (const [k, v] of this.args) if (k.toLowerCase() === lower) found = v[v.length - 1];
    return found;
  }

  /** `headers`, less the hosting headers unless `show_env` was asked for. */
  headersJson(): Record<string, string> {
    const showEnv = this.args.has('show_env');
    const out: Record<string, string> = {};
    for (const [k, v] of this.headers) if (showEnv || !ENV_HEADERS.has(k)) out[k] = v;
    return out;
  }

  origin(): string {
    return this.header('X-Forwarded-For') ?? remoteAddress(this.req);
  }

  url(): string {
    const xfp = this.header('X-Forwarded-Proto') ?? this.header('X-Forwarded-Protocol');
    const scheme = xfp ?? (this.header('X-Forwarded-Ssl') === 'on' ? 'https' : 'http');
    return `${scheme}://${this.header('Host') ?? 'localhost'}${originForm(this.req.url ?? '/')}`;
  }

  private formParts(): FormParts {
    if (this.parts) return this.parts;
    const type = (this.header('Content-Type') ?? '').toLowerCase();
    if (type.startsWith('application/x-www-form-urlencoded')) {
      this.parts = { form: parseQuery(this.body.data.toString('utf8')), files: new Map() };
    } else if (type.startsWith('multipart/form-data')) {
      const boundary = headerParam(this.header('Content-Type') ?? '', 'boundary');
      this.parts = boundary
        ? parseMultipart(this.body.data, boundary)
        : { form: new Map(), files: new Map() };
    } else {
      this.parts = { form: new Map(), files: new Map() };
    }
    return this.parts;
  }

  private isForm(): boolean {
    const type = (this.header('Content-Type') ?? '').toLowerCase();
    return type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data');
  }

  /** httpbin's get_dict(*keys). */
  dict(keys: readonly DictKey[]): Record<string, PyJson> {
    const out: Record<string, PyJson> = {};
    for (const key of keys) out[key] = this.value(key);
    return out;
  }

  private value(key: DictKey): PyJson {
    switch (key) {
      case 'url':
        return this.url();
      case 'args':
        return flatten(this.args);
      case 'headers':
        return this.headersJson();
      case 'origin':
        return this.origin();
      case 'method':
        return this.req.method ?? 'GET';
      case 'form':
        return flatten(this.formParts().form);
      case 'files':
        return flatten(this.formParts().files);
      case 'data':
        // werkzeug consumes form bodies while parsing them, so httpbin's `data` is then empty.
        return this.isForm() ? '' : jsonSafe(this.body.data);
      case 'json':
        if (this.isForm()) return null;
        try {
          return JSON.parse(utf8.decode(this.body.data)) as PyJson;
        } catch {
          return null;
        }
    }
  }
}

export type DictKey = 'url' | 'args' | 'headers' | 'origin' | 'method' | 'form' | 'data' | 'files' | 'json';

/** A proxy-style absolute target (`GET http://h/p`) reduced to its path and query, as gunicorn does. */
function originForm(target: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  if (!m) return target;
  const rest = target.slice(m[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The peer address without the `::ffff:` prefix of IPv4 clients on a dual-stack socket. */
export function remoteAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
