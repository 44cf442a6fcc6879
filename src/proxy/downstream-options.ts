// Limits and policies for the downstream (client) side of every Umbra listener — the outbound
// listener and each Gateway listener alike — with defaults taken from Envoy's edge guidance
// (envoyproxy.io: "Configuring Envoy as an edge proxy") where node's own defaults differ.

import type { PathNormalization } from './path-normalize.js';

export interface DownstreamOptions {
  /** Bytes of request line + headers (node maxHeaderSize; Envoy max_request_headers_kb = 60 KiB). */
  readonly maxHeaderBytes: number;
  /** Header lines per request; more → 431 (Envoy max_headers_count = 100). */
  readonly maxHeadersCount: number;
  /** Time to receive the request head; then 408 and close (Envoy request_headers_timeout). */
  readonly headersTimeoutMs: number;
  /** Time to receive the whole request, body included; 0 = none (Envoy request_timeout). */
  readonly requestTimeoutMs: number;
  /** A keep-alive connection with no request in progress is closed after this (Envoy idle_timeout). */
  readonly keepAliveTimeoutMs: number;
  /** No byte in either direction for this long closes the connection, 408 if nothing was answered (Envoy stream_idle_timeout = 5 min). */
  readonly idleTimeoutMs: number;
  /** Open client connections per listener; further ones are closed at once; 0 = unlimited. */
  readonly maxConnections: number;
  /** Requests served on one connection before it is closed (Connection: close); 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  /** How often node checks headers/request timeouts (node connectionsCheckingInterval, 30 s by default). */
  readonly timeoutCheckIntervalMs: number;
  /** Proxies in front of Umbra whose X-Forwarded-For entries are trusted (Envoy xff_num_trusted_hops). */
  readonly xffTrustedHops: number;
  readonly pathNormalization: PathNormalization;
  /**
   * A request body nobody will read (the request ended first) is drained and discarded up to this
   * many bytes, so keep-alive survives; past it the connection closes (nginx lingering close).
   */
  readonly drainMaxBytes: number;
  /** …and for at most this long. */
  readonly drainMaxMs: number;
}

export const DEFAULT_DOWNSTREAM: DownstreamOptions = {
  maxHeaderBytes: 64 * 1024,
  maxHeadersCount: 100,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 60_000,
  idleTimeoutMs: 300_000,
  maxConnections: 0,
  maxRequestsPerConnection: 0,
  timeoutCheckIntervalMs: 1_000,
  xffTrustedHops: 0,
  pathNormalization: 'base',
  drainMaxBytes: 1024 * 1024,
  drainMaxMs: 5_000,
};
