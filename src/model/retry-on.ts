// Envoy's retry conditions (`retryOn`, envoyproxy.io router filter "x-envoy-retry-on" and
// "x-envoy-retry-grpc-on") as a bit set, so the proxy tests a failed attempt with one AND.

export const RetryOn = {
  /** Any 5xx response, and any attempt that got no response (connect failure, reset, timeout). */
  FIVE_XX: 1 << 0,
  /** 502, 503, 504, and any attempt that got no response. */
  GATEWAY_ERROR: 1 << 1,
  /** The upstream did not respond at all: disconnect, reset, per-try timeout. */
  RESET: 1 << 2,
  /** Reset before the request was sent (here: the connection could not be made). */
  RESET_BEFORE_REQUEST: 1 << 3,
  CONNECT_FAILURE: 1 << 4,
  /** 409 Conflict. */
  RETRIABLE_4XX: 1 << 5,
  /** HTTP/2 REFUSED_STREAM: never happens on Umbra's HTTP/1.1 upstream connections. */
  REFUSED_STREAM: 1 << 6,
  RETRIABLE_STATUS_CODES: 1 << 7,
  /** The response carries a header named in the request's x-envoy-retriable-header-names. */
  RETRIABLE_HEADERS: 1 << 8,
  /** The response carries x-envoy-ratelimited. */
  ENVOY_RATELIMITED: 1 << 9,
  /** HTTP/3 only: never applies here. */
  HTTP3_POST_CONNECT_FAILURE: 1 << 10,
  GRPC_CANCELLED: 1 << 11,
  GRPC_DEADLINE_EXCEEDED: 1 << 12,
  GRPC_INTERNAL: 1 << 13,
  GRPC_RESOURCE_EXHAUSTED: 1 << 14,
  GRPC_UNAVAILABLE: 1 << 15,
} as const;

const NAMES: Readonly<Record<string, number>> = {
  '5xx': RetryOn.FIVE_XX,
  'gateway-error': RetryOn.GATEWAY_ERROR,
  reset: RetryOn.RESET,
  'reset-before-request': RetryOn.RESET_BEFORE_REQUEST,
  'connect-failure': RetryOn.CONNECT_FAILURE,
  'retriable-4xx': RetryOn.RETRIABLE_4XX,
  'refused-stream': RetryOn.REFUSED_STREAM,
  'retriable-status-codes': RetryOn.RETRIABLE_STATUS_CODES,
  'retriable-headers': RetryOn.RETRIABLE_HEADERS,
  'envoy-ratelimited': RetryOn.ENVOY_RATELIMITED,
  'http3-post-connect-failure': RetryOn.HTTP3_POST_CONNECT_FAILURE,
  cancelled: RetryOn.GRPC_CANCELLED,
  'deadline-exceeded': RetryOn.GRPC_DEADLINE_EXCEEDED,
  internal: RetryOn.GRPC_INTERNAL,
  'resource-exhausted': RetryOn.GRPC_RESOURCE_EXHAUSTED,
  unavailable: RetryOn.GRPC_UNAVAILABLE,
};

/** gRPC status codes (grpc-status header) for the gRPC conditions. */
export const GRPC_STATUS_BITS: Readonly<Record<string, number>> = {
  '1': RetryOn.GRPC_CANCELLED,
  '4': RetryOn.GRPC_DEADLINE_EXCEEDED,
  '8': RetryOn.GRPC_RESOURCE_EXHAUSTED,
  '13': RetryOn.GRPC_INTERNAL,
  '14': RetryOn.GRPC_UNAVAILABLE,
};

export const GRPC_ANY =
  RetryOn.GRPC_CANCELLED |
  RetryOn.GRPC_DEADLINE_EXCEEDED |
  RetryOn.GRPC_INTERNAL |
  RetryOn.GRPC_RESOURCE_EXHAUSTED |
  RetryOn.GRPC_UNAVAILABLE;

/** Conditions under which an attempt that got no response at all is retried. */
export const ON_RESET = RetryOn.FIVE_XX | RetryOn.GATEWAY_ERROR | RetryOn.RESET;
/** Conditions under which a connection that could not be made is retried. */
export const ON_CONNECT_FAILURE = ON_RESET | RetryOn.CONNECT_FAILURE | RetryOn.RESET_BEFORE_REQUEST;

/**
 * Istio's `retryOn`: comma-separated Envoy conditions, where a bare number (a known HTTP status)
 * is a retriable status code and turns on `retriable-status-codes` (istio pilot retry.ConvertPolicy).
 */
export function parseRetryOn(retryOn: string): { names: string[]; conditions: number; codes: number[] } {
  const names: string[] = [];
  const codes: number[] = [];
  let conditions = 0;
  for (const raw of retryOn.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    if (/^\d{3}$/.test(part)) {
      codes.push(Number(part));
      continue;
    }
    names.push(part);
    conditions |= NAMES[part] ?? 0;
  }
  if (codes.length > 0) conditions |= RetryOn.RETRIABLE_STATUS_CODES;
  return { names, conditions, codes };
}
