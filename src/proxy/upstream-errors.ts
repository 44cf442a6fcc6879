// Maps what undici (and node's client, for heads sent first) reports when a primary request fails to the local reply and Envoy response flag
// (envoyproxy.io, access log %RESPONSE_FLAGS%). What undici 7 actually reports was measured against
// raw-socket upstreams (test/hardening/upstream-faults.test.ts): its HTTPParserError carries no
// `code`, so it is recognised by name.

export interface UpstreamFailure {
  /** Local reply status when nothing was sent to the client yet; 0 for a client that went away. */
  readonly status: number;
  readonly flag: string;
}

const CONNECT_FAILURE = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  // node's HTTP/1.1 client, for heads sent first (h1-head-first.ts).
  'UMBRA_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  // HTTP/2 sessions (h2-session-pool.ts).
  'H2_CONNECT_FAILED',
  'H2_CONNECT_TIMEOUT',
]);
/** Certificate verification failures OpenSSL reports while connecting (DestinationRule tls SIMPLE). */
const TLS_FAILURE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
]);
/** A response that is not HTTP/1.1 as RFC 9112 writes it, or that lies about its length. */
const PROTOCOL_ERROR = new Set([
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_INFO',
  // A 101 to a request sent head first that asked for no upgrade (h1-head-first.ts).
  'UMBRA_BAD_UPGRADE',
]);

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const e = err as { code?: unknown; name?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'UMBRA_DOWNSTREAM_CLOSED' || code === 'UMBRA_DOWNSTREAM_ABORTED')
    return { status: 0, flag: 'DC' };
  if (
    code === 'UMBRA_UPSTREAM_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  )
    return { status: 504, flag: 'UT' };
  // An HTTP/2 pool's circuit breakers (http2MaxRequests, pending streams): Envoy's overflow.
  if (code === 'H2_OVERFLOW_MAX_REQUESTS' || code === 'H2_OVERFLOW_MAX_PENDING')
    return { status: 503, flag: 'UO' };
  // A TLS handshake that fails (untrusted or mismatched certificate, not TLS at all) is a connect failure too.
  if (
    CONNECT_FAILURE.has(code) ||
    TLS_FAILURE.has(code) ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_')
  )
    return { status: 503, flag: 'UF' };
  // undici's "bad upgrade" (a 101 to a request that asked for none) and "bad response" (a bare 100).
  const message = (err as { message?: unknown } | null)?.message;
  if (code === 'UND_ERR_SOCKET' && (message === 'bad upgrade' || message === 'bad response'))
    return { status: 502, flag: 'UPE' };
  if (e?.name === 'HTTPParserError' || code.startsWith('HPE_') || PROTOCOL_ERROR.has(code))
    return { status: 502, flag: 'UPE' };
  // ECONNRESET, "other side closed" (UND_ERR_SOCKET), EPIPE: the connection ended before a response.
  return { status: 503, flag: 'UC' };
}
