// Keep-alive connection pools per upstream endpoint (undici Pool) and the per-cluster load
// balancer and outlier-ejection state. Pools outlive table swaps: a reload reuses warm connections.

import { Pool } from 'undici';
import type { Cluster, Endpoint, RouteTable } from '../model/route-table.js';

export interface EndpointState {
  readonly endpoint: Endpoint;
  readonly key: string;
  inFlight: number;
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  ejectedUntil: number;
  ejections: number;
}

interface ClusterState {
  rr: number;
}

function poolKey(c: Cluster, e: Endpoint): string {
  const p = c.pool;
  return `${c.tls ? 'https' : 'http'}://${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}|${p.maxConnections}|${p.maxRequestsPerConnection}|${p.idleTimeoutMs}|${p.connectTimeoutMs}|${c.tls?.sni ?? ''}|${c.tls?.insecureSkipVerify ?? ''}`;
}

/** FNV-1a, for consistent-hash load balancing and keyed sampling. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly clusterState = new Map<string, ClusterState>();

  pool(c: Cluster, e: Endpoint): Pool {
    const key = poolKey(c, e);
    let p = this.pools.get(key);
    if (!p) {
      const origin = key.slice(0, key.indexOf('|'));
      p = new Pool(origin, {
        connections: c.pool.maxConnections > 0 ? c.pool.maxConnections : null,
        pipelining: 1,
        connectTimeout: c.pool.connectTimeoutMs,
        keepAliveTimeout: Math.min(c.pool.idleTimeoutMs, 4_000),
        maxRequestsPerClient: c.pool.maxRequestsPerConnection > 0 ? c.pool.maxRequestsPerConnection : undefined,
        // Route and mirror timeouts are enforced by Umbra; undici's own 300 s limits stay as a backstop.
        connect: c.tls ? { servername: c.tls.sni, rejectUnauthorized: !c.tls.insecureSkipVerify } : undefined,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  state(c: Cluster, e: Endpoint): EndpointState {
    const key = `${c.name}|${e.address}:${e.port}`;
    let s = this.endpoints.get(key);
    if (!s) {
      s = { endpoint: e, key, inFlight: 0, consecutive5xx: 0, consecutiveGatewayErrors: 0, ejectedUntil: 0, ejections: 0 };
      this.endpoints.set(key, s);
    }
    return s;
  }

  /**
   * Chooses an endpoint of the cluster by its load-balancing policy, skipping ejected endpoints
   * (unless all are, when Envoy's panic mode routes to all). `hashKey` feeds consistent hashing.
   */
  pick(c: Cluster, hashKey: string | undefined): Endpoint | undefined {
    const eps = c.endpoints;
    if (eps.length === 0) return undefined;
    if (eps.length === 1) return eps[0];
    let candidates = eps;
    if (c.outlier) {
      const now = Date.now();
      const healthy = eps.filter((e) => this.state(c, e).ejectedUntil <= now);
      if (healthy.length > 0) candidates = healthy;
    }
    switch (c.lb.kind) {
      case 'random':
        return candidates[Math.floor(Math.random() * candidates.length)];
      case 'least-request': {
        // Power of two choices, as Envoy's LEAST_REQUEST does.
        const a = candidates[Math.floor(Math.random() * candidates.length)];
        const b = candidates[Math.floor(Math.random() * candidates.length)];
        return this.state(c, a).inFlight <= this.state(c, b).inFlight ? a : b;
      }
      case 'hash':
        if (hashKey !== undefined) return candidates[hash32(hashKey) % candidates.length];
        return candidates[Math.floor(Math.random() * candidates.length)];
      default: {
        let s = this.clusterState.get(c.name);
        if (!s) this.clusterState.set(c.name, (s = { rr: 0 }));
        return candidates[s.rr++ % candidates.length];
      }
    }
  }

  /** Outlier detection bookkeeping: consecutive 5xx / gateway errors eject for base × count. */
  record(c: Cluster, st: EndpointState, status: number | 'connect-failure'): void {
    const o = c.outlier;
    if (!o) return;
    const gatewayError = status === 'connect-failure' || status === 502 || status === 503 || status === 504;
    const is5xx = status === 'connect-failure' || status >= 500;
    st.consecutive5xx = is5xx ? st.consecutive5xx + 1 : 0;
    st.consecutiveGatewayErrors = gatewayError ? st.consecutiveGatewayErrors + 1 : 0;
    const trip =
      (o.consecutive5xx > 0 && st.consecutive5xx >= o.consecutive5xx) ||
      (o.consecutiveGatewayErrors > 0 && st.consecutiveGatewayErrors >= o.consecutiveGatewayErrors);
    if (!trip) return;
    const now = Date.now();
    const ejected = c.endpoints.filter((e) => this.state(c, e).ejectedUntil > now).length;
    // Envoy ejects at least one host even when maxEjectionPercent rounds down to zero.
    const allowed = Math.max(1, Math.floor((o.maxEjectionPercent * c.endpoints.length) / 100));
    if (ejected >= allowed) return;
    st.ejections++;
    st.ejectedUntil = now + o.baseEjectionMs * st.ejections;
    st.consecutive5xx = 0;
    st.consecutiveGatewayErrors = 0;
  }

  /** After a swap: close pools no cluster of the new table uses (in-flight requests finish first). */
  retain(table: RouteTable): void {
    const keep = new Set<string>();
    for (const c of table.clusters.values()) for (const e of c.endpoints) keep.add(poolKey(c, e));
    for (const [key, p] of this.pools) {
      if (keep.has(key)) continue;
      this.pools.delete(key);
      void p.close().catch(() => undefined);
    }
  }

  snapshot(): { key: string; inFlight: number; ejected: boolean; ejections: number }[] {
    const now = Date.now();
    return [...this.endpoints.values()].map((s) => ({ key: s.key, inFlight: s.inFlight, ejected: s.ejectedUntil > now, ejections: s.ejections }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => undefined)));
    this.pools.clear();
  }
}
