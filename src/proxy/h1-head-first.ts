// HTTP/1.1 requests whose body has not begun, sent on node's own client so that the head leaves at
// once: undici 7 writes a head only together with the first body byte. Envoy forwards a decoded head
// at once, primary and shadow alike, so an upstream can answer early (401, 413) or start work while
// a slow upload goes on. Same `dispatch(opts, handler)` API as undici's pools (v7 controller API).

import type { Agent, IncomingMessage } from 'node:http';
import type { AgentOptions } from 'node:https';
import { http, https } from '../runtime/node-http.js';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import type { Dispatcher } from 'undici';
import { StreamController } from './stream-controller.js';

export interface HeadFirstOrigin {
  readonly address: string;
  readonly port: number;
  /** TLS settings (src/proxy/upstreams.ts tlsOptions), or none for plain HTTP. */
  readonly tls?: ConnectionOptions;
}

export interface HeadFirstLimits {
  /** An idle keep-alive connection is closed after this long (undici's pool uses the same bound). */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly tcpKeepaliveMs?: number;
  /** Envoy max_requests_per_connection: a connection is closed after this many requests; 0 = no limit. */
  readonly maxRequestsPerConnection: number;
}

/** The connection was not established within connectTimeout (a connect failure, 503 UF). */
export class ConnectTimeoutError extends Error {
  readonly code = 'UMBRA_CONNECT_TIMEOUT';
}

/** A `101` to a request that asked for no upgrade (RFC 9110 §15.2.2): a protocol error, 502 UPE. */
export class BadUpgradeError extends Error {
  readonly code = 'UMBRA_BAD_UPGRADE';
  constructor() {
    super('101 Switching Protocols to a request that asked for no upgrade');
  }
}

/** The upstream closed the connection before the response was complete. */
class ResponseCutError extends Error {
  readonly code = 'ECONNRESET';
}

/** Response fields as undici hands them to a handler: lower-case names, repeated names as arrays. */
function fieldsOf(raw: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const prev = out[name];
    if (prev === undefined) out[name] = raw[i + 1];
    else if (Array.isArray(prev)) prev.push(raw[i + 1]);
    else out[name] = [prev, raw[i + 1]];
  }
  return out;
}

/** Flat name/value pairs; the framing is made explicit, as undici makes it for a streamed body. */
function requestFields(opts: Dispatcher.DispatchOptions): { fields: string[]; host?: string } {
  const src = Array.isArray(opts.headers) ? (opts.headers as string[]) : [];
  const fields: string[] = [];
  let framed = false;
  let host: string | undefined;
  for (let i = 0; i + 1 < src.length; i += 2) {
    const name = String(src[i]);
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding') framed = true;
    else if (lower === 'host') host ??= String(src[i + 1]);
    fields.push(name, String(src[i + 1]));
  }
  // Without either, node would send a DELETE's or an OPTIONS' body with no framing at all.
  if (!framed) fields.push('transfer-encoding', 'chunked');
  if (opts.reset) fields.push('connection', 'close');
  return { fields, host };
}

/** The SNI undici would send: the request's Host without its port (not for an IP address). */
function serverNameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return /^[\d.]+$/.test(name) || name.includes(':') ? undefined : name;
}

/** One endpoint's keep-alive connections for requests sent head first. */
export class HeadFirstDispatcher {
  private readonly agent: Agent;
  private readonly requestsOn = new WeakMap<Socket, number>();

  constructor(
    private readonly origin: HeadFirstOrigin,
    private readonly limits: HeadFirstLimits,
  ) {
    const idle = limits.idleTimeoutMs > 0 ? Math.min(limits.idleTimeoutMs, 4_000) : 4_000;
    const options: AgentOptions = {
      keepAlive: true,
      keepAliveMsecs: limits.tcpKeepaliveMs ?? 1_000,
      // node closes a free (idle) socket on this timeout; a busy one is only notified, and nothing here listens.
      timeout: idle,
      scheduling: 'lifo',
      ...(origin.tls ?? {}),
    };
    this.agent = origin.tls ? new https.Agent(options) : new http.Agent(options);
    const max = limits.maxRequestsPerConnection;
    // Envoy closes a connection after exactly N requests: node's agent has no such count, so a socket
    // handed back after its Nth request is closed (the agent drops closed sockets from its free list).
    if (max > 1)
      this.agent.on('free', (socket: Socket) => {
        if ((this.requestsOn.get(socket) ?? 0) >= max) socket.destroy();
      });
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const ctl = new StreamController<IncomingMessage>();
    handler.onRequestStart?.(ctl, {});
    if (ctl.aborted) return true;
    const body = opts.body ?? null;
    const { fields, host } = requestFields(opts);
    const servername = (opts as { servername?: string }).servername ?? serverNameOf(host);
    const req = (this.origin.tls ? https : http).request({
      agent: this.agent,
      host: this.origin.address,
      port: this.origin.port,
      method: String(opts.method),
      path: opts.path,
      headers: fields,
      setHost: false,
      ...(this.origin.tls && servername ? { servername } : {}),
    });
    let over = false;
    let bodyDone = body === null || !(body instanceof Readable);
    let connectTimer: NodeJS.Timeout | undefined;
    const stopConnectTimer = () => {
      if (connectTimer) clearTimeout(connectTimer);
      connectTimer = undefined;
    };
    const fail = (err: Error) => {
      stopConnectTimer();
      if (over) return;
      over = true;
      if (body instanceof Readable) body.unpipe(req);
      if (!req.destroyed) req.destroy();
      handler.onResponseError?.(ctl, err);
    };
    ctl.onAbort = (err) => fail(err);
    req.on('error', (err) => fail(err));
    req.on('socket', (socket: Socket) => {
      this.requestsOn.set(socket, (this.requestsOn.get(socket) ?? 0) + 1);
      if (!socket.connecting) return;
      connectTimer = setTimeout(
        () => fail(new ConnectTimeoutError(`connect timeout ${this.limits.connectTimeoutMs} ms`)),
        this.limits.connectTimeoutMs,
      );
      socket.once('connect', stopConnectTimer);
    });
    req.on('upgrade', (_res, socket: Socket) => {
      socket.destroy();
      fail(new BadUpgradeError());
    });
    req.on('response', (res) => {
      stopConnectTimer();
      if (over) return void res.resume();
      ctl.attach(res);
      res.on('data', (chunk: Buffer) => {
        if (!over) handler.onResponseData?.(ctl, chunk);
      });
      res.on('error', (err) => fail(err));
      res.on('end', () => {
        if (over) return;
        over = true;
        handler.onResponseEnd?.(ctl, fieldsOf(res.rawTrailers));
        // Answered before the body was all sent: that connection is cut off (never reused), and the
        // body given up, as undici does when a response completes first.
        if (!bodyDone && body instanceof Readable) {
          body.unpipe(req);
          body.destroy();
          req.destroy();
        }
      });
      res.on('close', () => {
        if (!res.complete) fail(new ResponseCutError('upstream closed the connection mid-response'));
      });
      handler.onResponseStart?.(ctl, res.statusCode ?? 0, fieldsOf(res.rawHeaders), res.statusMessage);
    });
    if (body instanceof Readable) {
      // A body that fails (the client went away, a copy that fell behind) cuts the connection, so the
      // upstream never takes a truncated body for a whole one.
      body.on('error', (err) => fail(err));
      body.once('end', () => (bodyDone = true));
      body.once('close', () => {
        if (!body.readableEnded) fail(new Error('request body ended before it was complete'));
      });
      req.flushHeaders();
      body.pipe(req);
    } else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else req.end();
    return true;
  }

  /** No longer in the table: idle connections close now, busy ones when their request ends. */
  retire(): void {
    // node's agent closes a freed socket instead of keeping it when keepAlive is off.
    (this.agent as unknown as { keepAlive: boolean }).keepAlive = false;
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }

  /** Shutdown: every connection closes, busy or not. */
  close(): void {
    this.agent.destroy();
  }
}
