// Which HTTP version a cluster speaks to its endpoints, chosen as Istio chooses it: the service
// port's protocol (Kubernetes `appProtocol` first, then the port-name prefix; a ServiceEntry port's
// `protocol`), then the DestinationRule's connectionPool.http `useClientProtocol` and
// `h2UpgradePolicy` (istio.io networking/destination-rule; pilot's cluster builder).

import type { UpstreamProtocol } from '../model/route-table.js';

/** Istio's protocol names that matter for HTTP; anything else is not an HTTP/2 or HTTP/1.1 port. */
export type PortProtocol = 'http' | 'http2' | 'grpc' | 'grpc-web' | 'unknown';

const KNOWN: Record<string, PortProtocol> = {
  http: 'http',
  http2: 'http2',
  grpc: 'grpc',
  'grpc-web': 'grpc-web',
  // Kubernetes standard application protocols (KEP-3726), as Istio reads them.
  'kubernetes.io/h2c': 'http2',
  'kubernetes.io/ws': 'http',
  'kubernetes.io/wss': 'http',
};

function known(name: string | undefined): PortProtocol | undefined {
  return name === undefined ? undefined : KNOWN[name.toLowerCase()];
}

/**
 * A Kubernetes Service port: `appProtocol` wins; otherwise the name, `<protocol>` or
 * `<protocol>-<suffix>` ("grpc", "grpc-api", "http2-x"). Unnamed or other ports are "unknown":
 * Istio sniffs those and sends upstream what the client sent.
 */
export function servicePortProtocol(p: { name?: string; appProtocol?: string }): PortProtocol {
  const byApp = known(p.appProtocol);
  if (byApp) return byApp;
  const name = p.name?.toLowerCase();
  if (!name) return 'unknown';
  // "grpc-web" before "grpc": the longest protocol name that is the whole name or a dash prefix.
  for (const proto of ['grpc-web', 'http2', 'grpc', 'http'] as const)
    if (name === proto || name.startsWith(`${proto}-`)) return proto;
  return 'unknown';
}

/** A ServiceEntry port: its `protocol` field (HTTP, HTTP2, GRPC, GRPC-WEB...). */
export function serviceEntryPortProtocol(protocol: string | undefined): PortProtocol {
  return known(protocol) ?? 'unknown';
}

export interface HttpPoolProtocolSettings {
  readonly h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  readonly useClientProtocol?: boolean;
}

/**
 * HTTP/2 ports (http2, grpc, grpc-web) always get HTTP/2. `useClientProtocol` sends what the client
 * sent (and turns any upgrade off). h2UpgradePolicy UPGRADE upgrades HTTP/1.1 ports, and unknown
 * ports too (Istio: whoever asks for it knows the port is HTTP). Otherwise an "unknown" port sends
 * what the client sent (Istio's protocol sniffing) and an HTTP port stays HTTP/1.1 (DEFAULT is the
 * mesh default, DO_NOT_UPGRADE).
 */
export function clusterProtocol(
  port: PortProtocol,
  http: HttpPoolProtocolSettings | undefined,
): UpstreamProtocol {
  if (port === 'http2' || port === 'grpc' || port === 'grpc-web') return 'http2';
  if (http?.useClientProtocol) return 'downstream';
  if (http?.h2UpgradePolicy === 'UPGRADE') return 'http2';
  return port === 'unknown' ? 'downstream' : 'http1';
}
