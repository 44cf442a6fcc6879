// gRPC over HTTP/2 as a proxy needs it: recognising gRPC requests, answering them with gRPC errors
// (Trailers-Only responses) where an HTTP proxy answers with a status, the HTTP→gRPC status mapping
// Envoy applies to local replies, and the `grpc-timeout` request header (gRPC's PROTOCOL-HTTP2.md).

import { GrpcStatus } from '../model/grpc-status.js';

export { GrpcStatus, grpcStatusCode, httpStatusForGrpc } from '../model/grpc-status.js';

/** gRPC requests: content-type application/grpc, alone or with a "+format" or ";params" suffix. */
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (!contentType || !contentType.startsWith('application/grpc')) return false;
  const next = contentType.charCodeAt(16);
  // End, "+proto", ";charset…"; not "application/grpc-web" (a different wire format).
  return Number.isNaN(next) || next === 0x2b || next === 0x3b; // "+" or ";"
}

/**
 * The gRPC status a local reply with this HTTP status carries (Envoy's Grpc::Utility::
 * httpToGrpcStatus, after grpc/doc/http-grpc-status-mapping.md).
 */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** grpc-message is percent-encoded: bytes outside printable ASCII, and "%" itself. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A Trailers-Only gRPC response head for a local reply: HTTP 200, the gRPC status and message in
 * the one HEADERS frame that ends the stream. `grpcStatus` overrides the mapping (fault aborts).
 */
export function grpcLocalReplyHeaders(
  httpStatus: number,
  message: string,
  grpcStatus?: number,
): Record<string, string> {
  return {
    ':status': '200',
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatus ?? grpcStatusForHttp(httpStatus)),
    'grpc-message': encodeGrpcMessage(message),
  };
}

const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/**
 * `grpc-timeout`: at most 8 ASCII digits then one unit (H M S m u n). Returns milliseconds, rounded
 * up so a positive timeout never becomes 0, or undefined for a malformed value (then it is ignored,
 * as Envoy ignores it).
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Math.ceil(Number(m[1]) * UNIT_MS[m[2]]);
}

/**
 * The timeout a gRPC request runs under: its grpc-timeout bounds the route's (Envoy with Istio's
 * route config: max_grpc_timeout 0 = the header is honoured, and it wins when shorter; a route
 * without a timeout takes the header's).
 */
export function effectiveGrpcTimeoutMs(routeTimeoutMs: number, grpcTimeout: string | undefined): number {
  const t = parseGrpcTimeout(grpcTimeout);
  if (t === undefined) return routeTimeoutMs;
  if (routeTimeoutMs <= 0) return t;
  return Math.min(routeTimeoutMs, t);
}
