// Judges a parsed request head before routing: the things node's HTTP parser lets through but a
// proxy must refuse, each answered with a local reply and the connection closed. Node itself
// already refuses CL+TE, duplicate Content-Length, obs-fold, bad chunk sizes and bad tokens — the
// parser guard test (test/hardening/parser-guard.test.ts) keeps it honest across runtime upgrades.

import type { IncomingHttpHeaders } from 'node:http';
import { validAuthority } from './request-target.js';

export interface HeadError {
  readonly status: number;
  readonly message: string;
}

/**
 * Fields that may appear once (RFC 9110), for which node keeps only the first line while the raw
 * list still carries all of them: a later line with a different value would let the router see one
 * value and the upstream another, so it is refused. Identical repeats are harmless.
 */
const SINGLETONS = new Set([
  'content-type',
  'authorization',
  'proxy-authorization',
  'user-agent',
  'referer',
  'from',
  'max-forwards',
  'if-modified-since',
  'if-unmodified-since',
]);
/** Name lengths of `SINGLETONS` and "host", so most header names are skipped without lower-casing. */
const CHECKED_LENGTH: boolean[] = [];
for (const n of [...SINGLETONS, 'host']) CHECKED_LENGTH[n.length] = true;

function err(status: number, message: string): HeadError {
  return { status, message };
}

/**
 * @param maxHeaders the most header lines accepted (Envoy's max_headers_count, default 100). The
 *   server runs with node's maxHeadersCount = 0 so that nothing is dropped silently before this.
 */
/** What the checks read of a request head (an HTTP/1.1 IncomingMessage or a DownstreamStream). */
export interface RequestHead {
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly httpVersion: string;
  readonly rawHeaders: readonly string[];
  readonly headers: IncomingHttpHeaders;
  /** The request target as sent. */
  readonly target: string;
}

export function checkRequestHead(req: RequestHead, maxHeaders: number): HeadError | undefined {
  if (req.httpVersionMajor !== 1) {
    // llhttp accepts "GET /" (HTTP/0.9, no headers at all) and "HTTP/2.0" in HTTP/1 framing.
    return req.httpVersionMajor === 0
      ? err(400, 'HTTP/0.9 requests are not supported')
      : err(505, `HTTP/${req.httpVersion} is not supported on an HTTP/1.1 listener`);
  }
  const raw = req.rawHeaders;
  if (raw.length > 2 * maxHeaders) return err(431, `more than ${maxHeaders} request header lines`);
  const headers = req.headers;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (CHECKED_LENGTH[name.length] !== true) continue;
    const lower = name.toLowerCase();
    if (lower === 'host') {
      if (++hosts > 1) return err(400, 'duplicate Host header');
    } else if (SINGLETONS.has(lower) && headers[lower] !== raw[i + 1]) {
      return err(400, `duplicate ${lower} header with different values`);
    }
  }
  const host = headers.host;
  if (host === undefined || host === '') {
    // RFC 9112 §3.2: every HTTP/1.1 request carries Host, absolute-form included. An HTTP/1.0
    // request may omit it only with an absolute-form target, which names its own authority.
    if (req.httpVersionMinor >= 1 || req.target.charCodeAt(0) === 47) return err(400, 'missing Host header');
  } else if (!validAuthority(host)) return err(400, 'malformed Host header');
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    if (req.httpVersionMinor === 0) return err(400, 'Transfer-Encoding in an HTTP/1.0 request');
    // node refuses codings that do not end in chunked; any other coding before it is one Umbra
    // would have to decode and cannot, and stripping it would corrupt the body (RFC 9112 §6.1: 501).
    if (te.length !== 7 || te.toLowerCase() !== 'chunked')
      return err(501, `transfer coding "${te}" is not implemented; only chunked is`);
  }
  return undefined;
}
