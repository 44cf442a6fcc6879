// Creates upstream clusters on demand — one per (service, port, subset) — with endpoints picked by
// subset labels and the DestinationRule traffic policy merged top-level → port → subset, as Istio does.

import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import {
  buildMaglev,
  buildRing,
  DEFAULT_MAGLEV_SIZE,
  DEFAULT_MIN_RING_SIZE,
} from '../model/consistent-hash.js';
import type {
  Cluster,
  ConnectionPoolSettings,
  Endpoint,
  LbPolicy,
  OutlierDetection,
} from '../model/route-table.js';
import { parseDurationMs } from '../config/duration.js';
import { qualifyHost } from './host-names.js';
import { PASSTHROUGH_PREFIX } from './endpoint-passthrough.js';
import { issueAt } from './issue-at.js';
import { upstreamTls, type ClientTls } from './upstream-tls.js';
import type { MeshService } from './service-registry.js';
import { clusterProtocol } from './upstream-protocol.js';

interface TrafficPolicy {
  loadBalancer?: {
    simple?: string;
    consistentHash?: {
      httpHeaderName?: string;
      httpCookie?: { name: string; path?: string; ttl?: string };
      useSourceIp?: boolean;
      httpQueryParameterName?: string;
      ringHash?: { minimumRingSize?: number };
      maglev?: { tableSize?: number };
      minimumRingSize?: number;
    };
  };
  connectionPool?: {
    tcp?: {
      maxConnections?: number;
      connectTimeout?: string;
      idleTimeout?: string;
      tcpKeepalive?: { time?: string };
    };
    http?: {
      http1MaxPendingRequests?: number;
      maxRequestsPerConnection?: number;
      idleTimeout?: string;
      http2MaxRequests?: number;
      maxRetries?: number;
      h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
      useClientProtocol?: boolean;
      maxConcurrentStreams?: number;
    };
  };
  outlierDetection?: {
    consecutive5xxErrors?: number;
    consecutiveGatewayErrors?: number;
    consecutiveErrors?: number;
    interval?: string;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
    minHealthPercent?: number;
    splitExternalLocalOriginErrors?: boolean;
    consecutiveLocalOriginFailures?: number;
  };
  tls?: ClientTls;
  portLevelSettings?: (TrafficPolicy & { port?: { number?: number } })[];
}
interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: { name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicy }[];
}

export const DEFAULT_POOL: ConnectionPoolSettings = {
  maxConnections: 0, // 0 = unlimited, as Istio's default (2^32-1)
  maxPendingRequests: 0,
  maxRequestsPerConnection: 0,
  idleTimeoutMs: 60 * 60 * 1000, // Istio's HTTP idle timeout default: 1h
  connectTimeoutMs: 10_000, // Istio's default connectTimeout: 10s
};

export class ClusterBuilder {
  readonly clusters = new Map<string, Cluster>();
  private readonly rules = new Map<string, Resource>();

  constructor(
    destinationRules: readonly Resource[],
    private readonly issues: ConfigIssue[],
    /** Every resource, for DestinationRule tls.credentialName Secrets (upstream-tls.ts). */
    private readonly resources: readonly Resource[] = [],
    /** Umbra's namespace: Istio reads a client credentialName Secret from the proxy's namespace. */
    private readonly proxyNamespace = 'default',
  ) {
    for (const dr of destinationRules) {
      const host = qualifyHost((dr.spec as DestinationRuleSpec).host, dr.metadata.namespace);
      const prev = this.rules.get(host);
      if (prev) {
        issues.push(
          issueAt(
            dr,
            'spec.host',
            'warning',
            `another DestinationRule (${prev.metadata.namespace}/${prev.metadata.name}) already configures ${host}; this one is ignored`,
          ),
        );
        continue;
      }
      this.rules.set(host, dr);
    }
  }

  /**
   * A cluster of one endpoint, for requests addressed to that endpoint itself (endpoint-passthrough.ts).
   * Like Istio's passthrough to an original destination, no DestinationRule policy applies.
   */
  passthrough(svc: MeshService, port: number, endpoint: Endpoint): string {
    const hostPort = `${endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`;
    const name = `${PASSTHROUGH_PREFIX}${hostPort}`;
    if (this.clusters.has(name)) return name;
    this.clusters.set(name, {
      name,
      service: { name: svc.name, namespace: svc.namespace, fqdn: svc.fqdn, port },
      endpoints: [endpoint],
      lb: { kind: 'round-robin' },
      pool: DEFAULT_POOL,
    });
    return name;
  }

  destinationRuleFor(svc: MeshService): Resource | undefined {
    return this.rules.get(svc.fqdn);
  }

  /**
   * The cluster for a service port and optional subset, or undefined with an issue when the subset
   * is not defined (Istio answers such requests 503 NR; here they stay unrouted too).
   */
  get(
    svc: MeshService,
    port: number,
    subset: string | undefined,
    from?: { resource: Resource; path: string },
  ): string | undefined {
    const name = `outbound|${port}|${subset ?? ''}|${svc.fqdn}`;
    if (this.clusters.has(name)) return name;
    const dr = this.rules.get(svc.fqdn);
    const spec = dr?.spec as DestinationRuleSpec | undefined;
    let endpoints: readonly Endpoint[] = svc.endpoints.get(port) ?? [];
    let subsetPolicy: TrafficPolicy | undefined;
    if (subset !== undefined) {
      const def = spec?.subsets?.find((s) => s.name === subset);
      if (!def) {
        if (from)
          this.issues.push(
            issueAt(
              from.resource,
              from.path,
              'error',
              `subset "${subset}" of ${svc.fqdn} is not defined by any DestinationRule`,
              dr
                ? `defined subsets: ${(spec?.subsets ?? []).map((s) => s.name).join(', ') || 'none'}`
                : // A DestinationRule with errors is left out whole, so point there too.
                  `add a DestinationRule for host ${svc.name} with subset ${subset}, or fix the errors reported for yours: a resource with errors is not loaded`,
            ),
          );
        return undefined;
      }
      const labels = def.labels ?? {};
      endpoints = endpoints.filter((e) => Object.entries(labels).every(([k, v]) => e.labels[k] === v));
      subsetPolicy = def.trafficPolicy;
    }
    const policy = mergePolicies(spec?.trafficPolicy, port, subsetPolicy);
    const cluster: Cluster = {
      name,
      service: { name: svc.name, namespace: svc.namespace, fqdn: svc.fqdn, port },
      subset,
      protocol: clusterProtocol(
        svc.ports.find((p) => p.port === port)?.httpProtocol ?? 'unknown',
        policy.connectionPool?.http,
      ),
      endpoints,
      lb: lbPolicy(policy, endpoints),
      pool: poolSettings(policy),
      outlier: outlier(policy),
      tls: upstreamTls(policy.tls, dr, this.resources, this.proxyNamespace, this.issues),
    };
    this.clusters.set(name, cluster);
    return name;
  }
}

/** Istio: port-level settings override the top level; a subset's policy overrides both. */
function mergePolicies(
  top: TrafficPolicy | undefined,
  port: number,
  subset: TrafficPolicy | undefined,
): TrafficPolicy {
  const layers = [
    top,
    top?.portLevelSettings?.find((p) => p.port?.number === port),
    subset,
    subset?.portLevelSettings?.find((p) => p.port?.number === port),
  ];
  const out: TrafficPolicy = {};
  for (const l of layers) {
    if (!l) continue;
    if (l.loadBalancer) out.loadBalancer = l.loadBalancer;
    if (l.connectionPool) out.connectionPool = l.connectionPool;
    if (l.outlierDetection) out.outlierDetection = l.outlierDetection;
    if (l.tls) out.tls = l.tls;
  }
  return out;
}

/**
 * Consistent hashing builds its table here, once per cluster: a ring of `minimumRingSize` points
 * (Istio's default algorithm) or a Maglev table of `tableSize` slots, over "address:port" identities.
 */
function lbPolicy(p: TrafficPolicy, endpoints: readonly Endpoint[]): LbPolicy {
  const ch = p.loadBalancer?.consistentHash;
  if (ch) {
    const ids = endpoints.map((e) => `${e.address}:${e.port}`);
    const table = ch.maglev
      ? buildMaglev(ids, ch.maglev.tableSize ?? DEFAULT_MAGLEV_SIZE)
      : buildRing(ids, ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? DEFAULT_MIN_RING_SIZE);
    const ttlMs = parseDurationMs(ch.httpCookie?.ttl);
    return {
      kind: 'hash',
      header: ch.httpHeaderName?.toLowerCase(),
      cookie: ch.httpCookie?.name,
      sourceIp: ch.useSourceIp,
      queryParam: ch.httpQueryParameterName,
      // Envoy generates the cookie only when a TTL is given (a zero TTL makes a session cookie).
      cookieTtlSeconds: ttlMs !== undefined ? Math.floor(ttlMs / 1000) : undefined,
      cookiePath: ch.httpCookie?.path,
      table,
    };
  }
  switch (p.loadBalancer?.simple) {
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
      return { kind: 'least-request' };
    case 'RANDOM':
      return { kind: 'random' };
    default:
      return { kind: 'round-robin' };
  }
}

function poolSettings(p: TrafficPolicy): ConnectionPoolSettings {
  const tcp = p.connectionPool?.tcp;
  const http = p.connectionPool?.http;
  return {
    maxConnections: tcp?.maxConnections ?? DEFAULT_POOL.maxConnections,
    maxPendingRequests: http?.http1MaxPendingRequests ?? DEFAULT_POOL.maxPendingRequests,
    maxRequestsPerConnection: http?.maxRequestsPerConnection ?? DEFAULT_POOL.maxRequestsPerConnection,
    idleTimeoutMs: parseDurationMs(http?.idleTimeout ?? tcp?.idleTimeout) ?? DEFAULT_POOL.idleTimeoutMs,
    connectTimeoutMs: parseDurationMs(tcp?.connectTimeout) ?? DEFAULT_POOL.connectTimeoutMs,
    maxRequests: http?.http2MaxRequests ?? 0,
    maxRetries: http?.maxRetries ?? 0,
    ...(http?.maxConcurrentStreams ? { maxConcurrentStreams: http.maxConcurrentStreams } : {}),
    tcpKeepaliveMs: parseDurationMs(tcp?.tcpKeepalive?.time),
  };
}

function outlier(p: TrafficPolicy): OutlierDetection | undefined {
  const o = p.outlierDetection;
  if (!o) return undefined;
  return {
    // The deprecated consecutiveErrors means gateway errors only, with 5xx ejection off, unless
    // the newer fields say otherwise (istiod's applyOutlierDetection sets them in that order).
    consecutive5xx: o.consecutive5xxErrors ?? (o.consecutiveErrors ? 0 : 5),
    consecutiveGatewayErrors: o.consecutiveGatewayErrors ?? o.consecutiveErrors ?? 0,
    intervalMs: parseDurationMs(o.interval) ?? 10_000,
    baseEjectionMs: parseDurationMs(o.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: o.maxEjectionPercent ?? 10,
    // Istio sets Envoy's panic threshold from minHealthPercent, whose default is 0: no panic mode.
    minHealthPercent: o.minHealthPercent ?? 0,
    splitLocalOriginErrors: o.splitExternalLocalOriginErrors ?? false,
    consecutiveLocalOriginFailures: o.consecutiveLocalOriginFailures ?? 5,
  };
}
