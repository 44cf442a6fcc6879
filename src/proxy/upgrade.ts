// HTTP/1.1 Upgrade requests. `Upgrade: websocket` is routed like any request (matches, rewrites,
// header operations, load balancing) and tunnelled to the chosen endpoint: the upstream's 101 goes
// back and bytes flow both ways until either side closes or both are idle for the listener's idle
// timeout. WebSocket traffic is never mirrored (a copy could not share the conversation). An
// `Upgrade: h2c` is ignored as RFC 9110 §7.8 allows and Envoy does: the request is served over
// HTTP/1.1 (and the connection closed after it). Any other upgrade is refused with 403, as Envoy
// refuses upgrade types it is not configured for — never downgraded to a plain request silently.

import { connect as netConnect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { http } from '../runtime/node-http.js';
import { connect as tlsConnect } from 'node:tls';
import { applyHeaderOps } from './header-ops.js';
import type { Proxy, VhostResolver } from './proxy.js';
import { prepareRequestHeaders } from './request-headers.js';
import { isTargetError, parseTarget } from './request-target.js';
import { rewritePath } from './rewrites.js';
import { matchRoute, pickBackend } from './router.js';
import { tlsOptions } from './upstreams.js';

/** The upstream's answer head may be at most this large. */
const MAX_RESPONSE_HEAD = 64 * 1024;

function tokens(v: string | string[] | undefined): string[] {
  return (Array.isArray(v) ? v.join(',') : (v ?? '')).split(',').map((t) => t.trim().toLowerCase());
}

function refuse(socket: Socket, status: number, reason: string, text: string): void {
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1_000).unref();
}

export function handleUpgrade(
  proxy: Proxy,
  resolve: VhostResolver,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): void {
  socket.on('error', () => undefined);
  const upgrade = tokens(req.headers.upgrade);
  if (upgrade.includes('websocket')) return tunnel(proxy, resolve, req, socket, head);
  if (upgrade.includes('h2c') && !req.headers['content-length'] && !req.headers['transfer-encoding'])
    return serveWithoutUpgrade(proxy, resolve, req, socket);
  log(proxy, req, 403, 'UPE', '-', Date.now());
  refuse(socket, 403, 'Forbidden', `upgrade to "${String(req.headers.upgrade)}" is not allowed`);
}

/** h2c upgrade ignored: the request is answered over HTTP/1.1 and the connection closes after it. */
function serveWithoutUpgrade(
  proxy: Proxy,
  resolve: VhostResolver,
  req: IncomingMessage,
  socket: Socket,
): void {
  // The parser has let go of the connection: this response is its last.
  const res = new http.ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    socket.end();
  });
  proxy.handle(req, res, resolve);
}

function log(
  proxy: Proxy,
  req: IncomingMessage,
  status: number,
  flags: string,
  upstream: string,
  start: number,
): void {
  if (!proxy.log.enabled) return;
  proxy.log.log({
    start,
    method: req.method ?? 'GET',
    path: req.url ?? '-',
    protocol: `HTTP/${req.httpVersion}`,
    status,
    flags,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: Date.now() - start,
    upstream,
    authority: String(req.headers.host ?? '-'),
    requestId: String(req.headers['x-request-id'] ?? '-'),
    userAgent: String(req.headers['user-agent'] ?? ''),
    route: '-',
  });
}

function tunnel(
  proxy: Proxy,
  resolve: VhostResolver,
  req: IncomingMessage,
  client: Socket,
  head: Buffer,
): void {
  const start = Date.now();
  const table = proxy.tables.table;
  const encrypted = (client as Socket & { encrypted?: boolean }).encrypted === true;
  const target = parseTarget(req.url ?? '', req.headers.host, proxy.normalizePath, req.method, encrypted);
  if (isTargetError(target)) {
    log(proxy, req, target.status, 'DPE', '-', start);
    return refuse(client, target.status === 200 ? 400 : target.status, 'Bad Request', target.message);
  }
  const vhost = resolve(table, target.authority);
  const route =
    vhost &&
    matchRoute(vhost, {
      method: req.method ?? 'GET',
      path: target.path,
      query: target.query,
      authority: target.authority,
      port: target.port,
      scheme: target.scheme,
      headers: req.headers,
    });
  if (!route || route.action.kind !== 'forward') {
    log(proxy, req, 404, 'NR', '-', start);
    return refuse(client, 404, 'Not Found', `no route for a WebSocket to "${target.authority}"`);
  }
  const action = route.action;
  const backend = pickBackend(action.backends, action.totalWeight);
  const cluster = backend?.cluster !== undefined ? table.clusters.get(backend.cluster) : undefined;
  const endpoint = cluster && proxy.upstreams.pick(cluster, undefined);
  if (!backend || !cluster || !endpoint) {
    log(proxy, req, 503, 'UH', '-', start);
    return refuse(client, 503, 'Service Unavailable', 'no healthy upstream');
  }
  const st = proxy.upstreams.state(cluster, endpoint);
  const path = action.rewrite?.path ? rewritePath(action.rewrite.path, target.path) : target.path;
  const authority = action.rewrite?.authority ?? backend.authority ?? target.authority;
  const prepared = prepareRequestHeaders(
    req.rawHeaders,
    authority,
    client.remoteAddress,
    target.scheme,
    proxy.downstream.xffTrustedHops,
  );
  let headers = applyHeaderOps(prepared.headers, route.requestHeaders);
  headers = applyHeaderOps(headers, backend.requestHeaders);
  // Hop-by-hop fields were dropped; the upgrade itself is what this hop is for.
  headers.push('connection', 'upgrade', 'upgrade', 'websocket');
  let headText = `${req.method ?? 'GET'} ${target.query ? `${path}?${target.query}` : path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) headText += `${headers[i]}: ${headers[i + 1]}\r\n`;
  headText += '\r\n';

  const upstream: Socket = cluster.tls
    ? tlsConnect({ host: endpoint.address, port: endpoint.port, ...tlsOptions(cluster) })
    : netConnect({ host: endpoint.address, port: endpoint.port });
  st.inFlight++;
  let done = false;
  let status = 0;
  const finish = (code: number, flags: string) => {
    if (done) return;
    done = true;
    st.inFlight--;
    clearTimeout(connectTimer);
    log(proxy, req, code, flags, st.hostPort, start);
    upstream.destroy();
    client.destroy();
  };
  const connectTimer = setTimeout(() => {
    if (status === 0) {
      refuse(client, 504, 'Gateway Timeout', 'upstream connect timeout');
      finish(504, 'UF');
    }
  }, cluster.pool.connectTimeoutMs);
  upstream.on('error', () => {
    if (status === 0 && !client.destroyed) {
      refuse(client, 503, 'Service Unavailable', 'upstream connect error or disconnect/reset before headers');
      done = true;
      st.inFlight--;
      clearTimeout(connectTimer);
      log(proxy, req, 503, 'UF', st.hostPort, start);
      return;
    }
    finish(status || 503, 'UC');
  });
  upstream.once('connect', () => clearTimeout(connectTimer));
  upstream.once('secureConnect', () => clearTimeout(connectTimer));
  upstream.write(headText);
  if (head.length > 0) upstream.write(head);

  // The response head: relayed as it came; on 101 the connection becomes a tunnel.
  let buffered: Buffer = Buffer.alloc(0);
  const onHead = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end === -1) {
      if (buffered.length > MAX_RESPONSE_HEAD) {
        refuse(client, 502, 'Bad Gateway', 'upstream response head too large');
        finish(502, 'UPE');
      }
      return;
    }
    upstream.off('data', onHead);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(buffered.subarray(0, 16).toString('latin1'));
    status = m ? Number(m[1]) : 502;
    if (!m) {
      refuse(client, 502, 'Bad Gateway', 'upstream sent no HTTP response');
      return finish(502, 'UPE');
    }
    client.write(buffered);
    if (status !== 101) {
      // Refused upstream: its answer is relayed and the connection ends with it.
      upstream.pipe(client);
      upstream.once('end', () => finish(status, '-'));
      return;
    }
    // The tunnel: both directions, with back-pressure, until either side ends or both are idle.
    upstream.pipe(client);
    client.pipe(upstream);
    const idle = proxy.downstream.idleTimeoutMs;
    client.setTimeout(idle, () => finish(101, 'SI'));
    upstream.setTimeout(idle, () => finish(101, 'SI'));
  };
  upstream.on('data', onHead);
  upstream.once('close', () => finish(status || 503, status ? '-' : 'UC'));
  client.once('close', () => finish(status || 499, status ? '-' : 'DC'));
}
