// A raw-socket HTTP/1.1 client for the hardening tests: exact bytes in, and the exact outcome out —
// each response parsed by hand (status line, header lines as sent, body by its framing), whether
// it was complete, and whether the server closed the connection. No HTTP library in between that
// could normalise what the server did.

import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: string;
  /** Header lines in order, names lower-cased. */
  readonly headerLines: readonly (readonly [string, string])[];
  /** The body as framed by Content-Length / chunked / connection close (empty for HEAD, 1xx, 204, 304). */
  readonly body: Buffer;
  readonly trailers: readonly (readonly [string, string])[];
  /** The whole message arrived as its framing promised (false: the connection ended first). */
  readonly complete: boolean;
}

export function header(r: RawResponse, name: string): string | undefined {
  return r.headerLines.find(([n]) => n === name)?.[1];
}

export function headerCount(r: RawResponse, name: string): number {
  return r.headerLines.filter(([n]) => n === name).length;
}

type Parse = { response: RawResponse; used: number } | 'incomplete';

/** Parses one response at the start of `buf`; `method` decides whether a body can follow. */
export function parseResponse(buf: Buffer, method: string, closed: boolean): Parse {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return 'incomplete';
  const head = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(head[0]);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(head[0])}`);
  const status = Number(m[2]);
  const headerLines = head.slice(1).map((l) => {
    const c = l.indexOf(':');
    return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()] as const;
  });
  const base = { status, reason: m[3] ?? '', version: m[1], headerLines };
  let pos = headEnd + 4;
  const noBody = method === 'HEAD' || status < 200 || status === 204 || status === 304;
  if (noBody)
    return { response: { ...base, body: Buffer.alloc(0), trailers: [], complete: true }, used: pos };
  const te = headerLines.find(([n]) => n === 'transfer-encoding')?.[1];
  const cl = headerLines.find(([n]) => n === 'content-length')?.[1];
  if (te && /chunked/i.test(te)) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd === -1)
        return closed
          ? {
              response: { ...base, body: Buffer.concat(parts), trailers: [], complete: false },
              used: buf.length,
            }
          : 'incomplete';
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        const end = buf.indexOf('\r\n\r\n', lineEnd);
        // "0\r\n\r\n": the blank line follows at once; otherwise trailer lines come first.
        const trailerStart = lineEnd + 2;
        const blank = buf.subarray(trailerStart, trailerStart + 2).toString('latin1') === '\r\n';
        if (blank)
          return {
            response: { ...base, body: Buffer.concat(parts), trailers: [], complete: true },
            used: trailerStart + 2,
          };
        if (end === -1)
          return closed
            ? {
                response: { ...base, body: Buffer.concat(parts), trailers: [], complete: false },
                used: buf.length,
              }
            : 'incomplete';
        const trailers = buf
          .subarray(trailerStart, end)
          .toString('latin1')
          .split('\r\n')
          .map(
            (l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const,
          );
        return { response: { ...base, body: Buffer.concat(parts), trailers, complete: true }, used: end + 4 };
      }
      if (buf.length < lineEnd + 2 + size + 2) {
        if (!closed) return 'incomplete';
        parts.push(buf.subarray(lineEnd + 2, Math.min(buf.length, lineEnd + 2 + size)));
        return {
          response: { ...base, body: Buffer.concat(parts), trailers: [], complete: false },
          used: buf.length,
        };
      }
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
  }
  if (cl !== undefined) {
    const n = Number(cl);
    if (buf.length - pos >= n)
      return {
        response: { ...base, body: buf.subarray(pos, pos + n), trailers: [], complete: true },
        used: pos + n,
      };
    return closed
      ? { response: { ...base, body: buf.subarray(pos), trailers: [], complete: false }, used: buf.length }
      : 'incomplete';
  }
  // Delimited by the end of the connection.
  return closed
    ? { response: { ...base, body: buf.subarray(pos), trailers: [], complete: true }, used: buf.length }
    : 'incomplete';
}

/** One client connection, read response by response. */
export class RawConnection {
  private buf = Buffer.alloc(0);
  private offset = 0;
  private waiters: (() => void)[] = [];
  /** The server closed (or reset) the connection. */
  closed = false;
  reset = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((ok, fail) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.off('error', fail);
        ok(new RawConnection(s));
      });
      s.once('error', fail);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private next(timeoutMs: number): Promise<boolean> {
    return new Promise((ok) => {
      const t = setTimeout(() => ok(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        ok(true);
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Everything received so far, as latin1 text. */
  received(): string {
    return this.buf.toString('latin1');
  }

  /**
   * The next response (1xx interim responses included: they are responses too). Rejects when none
   * starts within `timeoutMs`; resolves with complete = false when the connection ends mid-message.
   */
  async response(method = 'GET', timeoutMs = 5_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = parseResponse(this.buf.subarray(this.offset), method, this.closed);
      if (r !== 'incomplete') {
        this.offset += r.used;
        return r.response;
      }
      if (this.closed)
        throw new Error(
          `connection closed before a response (received ${JSON.stringify(this.received().slice(0, 300))})`,
        );
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.next(left))) {
        if (!this.closed)
          throw new Error(
            `no complete response within ${timeoutMs} ms (received ${JSON.stringify(this.received().slice(0, 300))})`,
          );
      }
    }
  }

  /** Resolves true when the server closes the connection within `timeoutMs`. */
  async waitClosed(timeoutMs = 2_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.next(left))) break;
    }
    return this.closed;
  }

  /** Bytes received after the responses read so far. */
  unread(): string {
    return this.buf.subarray(this.offset).toString('latin1');
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Sends `bytes` on a new connection and reads one response. `closed` says whether the server
 * ended the connection afterwards (waiting up to `closeWaitMs`; keep-alive connections stay open).
 */
export async function exchange(
  port: number,
  bytes: string | Buffer,
  opts: { method?: string; closeWaitMs?: number; timeoutMs?: number } = {},
): Promise<{ res: RawResponse; closed: boolean; rest: string }> {
  const c = await RawConnection.open(port);
  try {
    c.write(bytes);
    const res = await c.response(opts.method ?? 'GET', opts.timeoutMs ?? 5_000);
    const closed = await c.waitClosed(opts.closeWaitMs ?? 300);
    return { res, closed, rest: c.unread() };
  } finally {
    c.close();
  }
}
