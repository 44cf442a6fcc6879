// Small real upstreams for integration tests (node:http on 127.0.0.1, port 0): echo, delayed, hung,
// slow-reading, resetting and fixed-status servers that record every request they see.

import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { createHash } from 'node:crypto';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  /** Body bytes received so far (grows while the body streams in). */
  bodyBytes: number;
  /** Hex SHA-256 of the body; '' until the body is complete. */
  bodySha256: string;
  /** The whole body arrived (the request's end was seen). */
  completed: boolean;
  /** The connection closed before the body was complete. */
  aborted: boolean;
  readonly receivedAt: number;
}

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly host: '127.0.0.1';
  /** Every request, in arrival order, recorded as soon as its headers arrive. */
  readonly requests: RecordedRequest[];
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  readonly connections: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, server: Tracker) => void;

/** Timers and sockets a server owns, so close() leaves nothing behind. */
interface Tracker {
  later(ms: number, fn: () => void): void;
}

/**
 * A recording server: `handler` decides how to read and answer; the record's byte count and hash
 * follow the body as it streams in, so bodies of any size are never buffered.
 */
export async function startRecordingServer(handler: Handler): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const timers = new Set<NodeJS.Timeout>();
  const tracker: Tracker = {
    later(ms, fn) {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    },
  };
  const server = createServer((req, res) => {
    const rec: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      bodySha256: '',
      completed: false,
      aborted: false,
      receivedAt: Date.now(),
    };
    requests.push(rec);
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => {
      rec.bodyBytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      rec.completed = true;
      rec.bodySha256 = hash.digest('hex');
    });
    req.on('close', () => {
      if (!rec.completed) rec.aborted = true;
    });
    req.on('error', () => {});
    res.on('error', () => {});
    handler(req, res, rec, tracker);
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    host: '127.0.0.1',
    requests,
    get connections() {
      return connections;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.destroyed) return;
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const echoOf = (rec: RecordedRequest): Record<string, unknown> => ({
  method: rec.method,
  path: rec.url,
  headers: rec.headers,
  bodyBytes: rec.bodyBytes,
  bodySha256: rec.bodySha256,
});

/** Answers 200 JSON `{method, path, headers, bodyBytes, bodySha256}` once the body has been read. */
export function startEchoServer(): Promise<TestServer> {
  return startRecordingServer((req, res, rec) => {
    req.on('end', () => sendJson(res, 200, echoOf(rec)));
  });
}

/** Reads the body, waits `ms`, then answers like the echo server. */
export function startDelayServer(ms: number): Promise<TestServer> {
  return startRecordingServer((req, res, rec, t) => {
    req.on('end', () => t.later(ms, () => sendJson(res, 200, echoOf(rec))));
  });
}

/** Accepts and reads requests but never answers; close() destroys the sockets. */
export function startHungServer(): Promise<TestServer> {
  return startRecordingServer((req) => {
    req.resume();
  });
}

/**
 * Reads bodies at about `bytesPerSecond` (pausing the stream between chunks, so TCP back-pressure
 * reaches the sender), then answers 200 like the echo server.
 */
export function startSlowReaderServer(bytesPerSecond: number): Promise<TestServer> {
  return startRecordingServer((req, res, rec, t) => {
    req.on('data', (chunk: Buffer) => {
      req.pause();
      t.later((chunk.length / bytesPerSecond) * 1000, () => req.resume());
    });
    req.on('end', () => sendJson(res, 200, echoOf(rec)));
  });
}

/**
 * Reads at least `afterBytes` of the body (or all of a shorter one), then resets the connection
 * (RST where node can, else destroy) without answering.
 */
export function startResettingServer(opts: { afterBytes?: number } = {}): Promise<TestServer> {
  const afterBytes = opts.afterBytes ?? 1;
  return startRecordingServer((req, _res, rec) => {
    const reset = (): void => {
      const s = req.socket as Socket & { resetAndDestroy?: () => Socket };
      if (s.destroyed) return;
      if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
      else s.destroy();
    };
    req.on('data', () => {
      if (rec.bodyBytes >= afterBytes) reset();
    });
    req.on('end', reset);
  });
}

/** Reads the body, then answers `status` with `bodyBytes` bytes of 'x' (text/plain). */
export function startStatusServer(status: number, bodyBytes = 0): Promise<TestServer> {
  const body = Buffer.alloc(bodyBytes, 'x');
  return startRecordingServer((req, res) => {
    req.on('end', () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
  });
}

/** A port nothing listens on (bound, then released), for "connection refused" cases. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `pred` until it returns a truthy value (which is returned), or rejects after `timeoutMs`. */
export async function waitFor<T>(
  pred: () => T | Promise<T>,
  timeoutMs: number,
  intervalMs = 10,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Reads a stream to its end into one Buffer. */
export async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}
