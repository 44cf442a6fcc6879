// Requests Umbra relies on node's HTTP parser (llhttp, strict mode) to refuse: request smuggling
// shapes (RFC 9112 §6.3, §11.2), bad framing and bad tokens. (Transfer codings other than chunked
// are judged by Umbra itself before anything is forwarded: request-checks.ts, 501.) The raw-socket suite sends each to
// Umbra; the parser guard sends the same bytes to a bare node server built with Umbra's options,
// so a runtime upgrade that starts accepting one of them fails loudly instead of silently.

export interface ParserCase {
  readonly name: string;
  readonly bytes: string;
  /** What the client must get: node's refusal, answered by Umbra with this status and a close. */
  readonly status: 400 | 431;
  /**
   * 'head': refused before the request exists (no handler ever runs). 'body': the head is fine and
   * is handed over, the body is refused part-way — Umbra may have started forwarding it, and the
   * upstream must then see it aborted, never complete.
   */
  readonly stage: 'head' | 'body';
}

const H = 'Host: app:8000\r\n';

export const NODE_REJECTS: readonly ParserCase[] = [
  {
    name: 'Content-Length with Transfer-Encoding (CL.TE)',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'Transfer-Encoding with Content-Length (TE.CL)',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n0\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'duplicate Content-Length, different values',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'duplicate Content-Length, same value',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'Content-Length as a list',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'Content-Length with a sign',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'negative Content-Length',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'Content-Length beyond 2^64',
    bytes: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'Transfer-Encoding: chunked, chunked',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'space before the colon (Transfer-Encoding : chunked)',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'obs-fold continuation line',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'header line starting with a space',
    bytes: `GET / HTTP/1.1\r\n X-A: b\r\n${H}\r\n`,
    status: 400,
    stage: 'head',
  },
  { name: 'bare LF line endings', bytes: 'GET / HTTP/1.1\nHost: app:8000\n\n', status: 400, stage: 'head' },
  {
    name: 'bare CR inside a header value',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: b\rc\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'NUL inside a header value',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: b\0c\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'DEL inside a header value',
    bytes: `GET / HTTP/1.1\r\n${H}X-A: b\x7fc\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  { name: 'empty header name', bytes: `GET / HTTP/1.1\r\n${H}: x\r\n\r\n`, status: 400, stage: 'head' },
  {
    name: 'non-token character in a header name',
    bytes: `GET / HTTP/1.1\r\n${H}X@Y: 1\r\n\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'invalid chunk size',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    stage: 'body',
  },
  {
    name: 'chunk size overflow',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    stage: 'body',
  },
  {
    name: 'chunk lines ended by LF only',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n`,
    status: 400,
    stage: 'body',
  },
  {
    name: 'chunk data longer than its size',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n`,
    status: 400,
    stage: 'body',
  },
  {
    name: 'control character in a chunk extension',
    bytes: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;\x01\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    stage: 'body',
  },
  { name: 'lower-case method', bytes: `get / HTTP/1.1\r\n${H}\r\n`, status: 400, stage: 'head' },
  { name: 'lower-case protocol name', bytes: `GET / http/1.1\r\n${H}\r\n`, status: 400, stage: 'head' },
  { name: 'HTTP/1.2', bytes: `GET / HTTP/1.2\r\n${H}\r\n`, status: 400, stage: 'head' },
  {
    name: 'space inside the request target',
    bytes: `GET /a b HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'non-ASCII byte in the request target',
    bytes: `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`,
    status: 400,
    stage: 'head',
  },
  {
    name: 'header section over the size limit',
    bytes: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`,
    status: 431,
    stage: 'head',
  },
];
