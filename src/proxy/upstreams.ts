// Keep-alive connection pools per upstream endpoint (undici Pool; HTTP/2 sessions; node's agent for
// heads sent first) and the per-cluster load balancer and outlier-ejection state. Pools outlive
// table swaps: a reload reuses warm connections.
// Copies have pools of their own, so a copy never holds a connection its primary waits for; the
// state of an endpoint that left every cluster is dropped, so a new pod at its address starts fresh.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { createHash } from 'node:crypto';
import { Pool } from './undici-pool.js';
import { H2Dispatcher } from './h2-dispatcher.js';
import { H2SessionPool } from './h2-session-pool.js';
import { HeadFirstDispatcher } from './h1-head-first.js';
import type { AttemptDispatcher } from './upstream-attempt.js';
import type { Dispatcher } from 'undici';
import type { Cluster, Endpoint, RouteTable } from '../model/route-table.js';
import { chooseIndex, keyHash } from './load-balancer.js';

export interface EndpointState {
  readonly endpoint: Endpoint;
  readonly key: string;
  /** "address:port", as access logs and metrics name the upstream (built once, not per request). */
  readonly hostPort: string;
  inFlight: number;
  /** Mirror copies in flight to this endpoint (they never count toward load balancing). */
  mirrorInFlight: number;
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  /** Connect failures, resets and timeouts in a row (only counted apart with splitLocalOriginErrors). */
  consecutiveLocalOrigin: number;
  ejectedUntil: number;
  ejections: number;
}

/** Per-cluster counters; they outlive table swaps, so in-flight requests of an old table still count. */
export interface ClusterState {
  rr: number;
  /** Primary requests in flight to the cluster (Envoy max_requests, Istio http2MaxRequests). */
  active: number;
  /** Requests waiting for a connection: Σ max(0, inFlight − maxConnections) over endpoints. */
  pending: number;
  /** Retries in flight (Envoy max_retries). */
  retries: number;
  /** Latest ejection end of any endpoint: nothing is ejected once now passes it. */
  ejectedUntilMax: number;
}

/** Why an attempt is refused before it reaches a connection pool (Envoy circuit breakers → 503 UO). */
export type Overflow = 'max-requests' | 'max-pending' | undefined;

function poolKey(c: Cluster, e: Endpoint): string {
  const p = c.pool;
  const t = c.tls;
  const tls = t
    ? `|${t.sni ?? ''}|${t.insecureSkipVerify ?? ''}|${t.caCertificates ?? ''}|${(t.subjectAltNames ?? []).join(',')}${clientTlsKey(t)}`
    : '';
  return `${t ? 'https' : 'http'}://${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}|${p.maxConnections}|${p.maxRequestsPerConnection}|${p.idleTimeoutMs}|${p.connectTimeoutMs}|${p.tcpKeepaliveMs ?? ''}${tls}`;
}

/** What tells one client identity from another in a pool key: a rotated Secret gets new pools. */
function clientTlsKey(t: NonNullable<Cluster['tls']>): string {
  const c = t.credential;
  const secret = c
    ? createHash('sha256')
        .update(`${c.certPem ?? ''}\0${c.keyPem ?? ''}\0${c.caPem ?? ''}`)
        .digest('hex')
        .slice(0, 16)
    : '';
  return `|${t.mode}|${t.clientCertificate ?? ''}|${t.privateKey ?? ''}|${secret}`;
}

/** TLS settings for undici's connector: SNI, the CA bundle file, and SAN checks in place of hostname checks. */
export function tlsOptions(c: Cluster): Record<string, unknown> {
  const t = c.tls!;
  const out: Record<string, unknown> = { rejectUnauthorized: !t.insecureSkipVerify };
  // Without an explicit sni, undici sends the request's Host (Istio's auto SNI does the same).
  if (t.sni) out.servername = t.sni;
  if (t.caCertificates) out.ca = readFileSync(t.caCertificates);
  // --- upstream mutual TLS (issue 15): the client certificate, from files or a Secret.
  const cred = t.credential;
  if (cred?.caPem && !t.caCertificates) out.ca = cred.caPem;
  if (cred?.certPem && cred.keyPem) Object.assign(out, { cert: cred.certPem, key: cred.keyPem });
  else if (t.mode === 'MUTUAL' && t.clientCertificate && t.privateKey)
    Object.assign(out, { cert: readFileSync(t.clientCertificate), key: readFileSync(t.privateKey) });
  const sans = t.subjectAltNames;
  if (sans && sans.length > 0 && !t.insecureSkipVerify)
    out.checkServerIdentity = (_host: string, cert: PeerCertificate) => {
      const names = (cert.subjectaltname ?? '')
        .split(',')
        .map((n) => n.trim().replace(/^(DNS|URI|IP Address):/, ''));
      if (names.some((n) => sans.includes(n))) return undefined;
      return Object.assign(
        new Error(
          `upstream certificate names ${names.join(', ') || '(none)'} match none of ${sans.join(', ')}`,
        ),
        { code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
      );
    };
  return out;
}

export class Upstreams {
  private readonly pools = new Map<string, Pool>();
  /** Keyed as `pools`, for mirror copies only. */
  private readonly shadowPools = new Map<string, Pool>();
  private readonly h2Pools = new Map<string, H2Dispatcher>();
  private readonly h2ShadowPools = new Map<string, H2Dispatcher>();
  /** node's HTTP/1.1 client, for requests sent head first (h1-head-first.ts); keyed as `pools`. */
  private readonly headFirstPools = new Map<string, HeadFirstDispatcher>();
  private readonly headFirstShadowPools = new Map<string, HeadFirstDispatcher>();
  private shadowByObject = new WeakMap<Cluster, WeakMap<Endpoint, Pool>>();
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly clusterStates = new Map<string, ClusterState>();
  // The same pools and states by (cluster, endpoint) object of the tables in service, so that the
  // request path finds them by identity instead of building and hashing a key string each time.
  // Keys stay the source of truth: a new table's objects miss here once and find the same entries.
  private poolByObject = new WeakMap<Cluster, WeakMap<Endpoint, Pool>>();
  private readonly stateByObject = new WeakMap<Cluster, WeakMap<Endpoint, EndpointState>>();

  /**
   * What carries a request to this endpoint: HTTP/2 sessions when the cluster speaks HTTP/2 (or
   * the client's protocol and the client spoke HTTP/2), otherwise undici's HTTP/1.1 pool — or node's
   * client when `bodyWaiting` says the request's body has not begun (head first).
   * `shadow`: the copies' own pools or sessions, apart from the primaries'.
   */
  dispatcher(
    c: Cluster,
    e: Endpoint,
    shadow: boolean,
    downstreamH2: boolean,
    bodyWaiting?: () => boolean,
  ): AttemptDispatcher {
    if (speaksH2(c, downstreamH2)) return this.h2(c, e, shadow);
    const pool = this.pool(c, e, shadow);
    // Head first (docs/request-lifecycle.md): undici sends an HTTP/1.1 head only with the first body
    // byte, so a request whose body has not begun goes on node's client, which sends the head alone.
    // Not under a connection cap (DestinationRule maxConnections): two clients cannot share one.
    if (!bodyWaiting || c.pool.maxConnections > 0 || !bodyWaiting()) return pool;
    return {
      dispatch: (opts, handler) => {
        // Body bytes that came in the same read as the head are handed to the request's stream
        // after the 'request' event's handlers return: a microtask later, they show.
        queueMicrotask(() => {
          try {
            (bodyWaiting() ? this.headFirst(c, e, shadow) : pool).dispatch(opts, handler);
          } catch (err) {
            handler.onResponseError?.(UNSTARTED, err as Error);
          }
        });
        return true;
      },
    };
  }

  private headFirst(c: Cluster, e: Endpoint, shadow: boolean): HeadFirstDispatcher {
    const p = c.pool;
    return pooled(
      shadow ? this.headFirstShadowPools : this.headFirstPools,
      c,
      e,
      () =>
        new HeadFirstDispatcher(originOf(c, e), {
          idleTimeoutMs: p.idleTimeoutMs,
          connectTimeoutMs: p.connectTimeoutMs,
          tcpKeepaliveMs: p.tcpKeepaliveMs,
          maxRequestsPerConnection: p.maxRequestsPerConnection,
        }),
    );
  }

  private h2(c: Cluster, e: Endpoint, shadow: boolean): H2Dispatcher {
    const p = c.pool;
    return pooled(
      shadow ? this.h2ShadowPools : this.h2Pools,
      c,
      e,
      () =>
        new H2Dispatcher(
          new H2SessionPool(originOf(c, e), {
            maxConnections: p.maxConnections,
            // Copies are bounded by their own in-flight cap; primaries also by the cluster's breakers.
            maxPendingRequests: shadow ? 0 : p.maxPendingRequests,
            maxRequestsPerConnection: p.maxRequestsPerConnection,
            maxConcurrentStreams: p.maxConcurrentStreams,
            idleTimeoutMs: p.idleTimeoutMs,
            connectTimeoutMs: p.connectTimeoutMs,
            tcpKeepaliveMs: p.tcpKeepaliveMs,
          }),
        ),
    );
  }

  /** The endpoint's pool; `shadow`: the pool copies use, apart from the primaries'. */
  pool(c: Cluster, e: Endpoint, shadow = false): Pool {
    const objects = shadow ? this.shadowByObject : this.poolByObject;
    const pools = shadow ? this.shadowPools : this.pools;
    let byEndpoint = objects.get(c);
    const cached = byEndpoint?.get(e);
    if (cached) return cached;
    const p = pooled(
      pools,
      c,
      e,
      (key) =>
        // The key starts with the origin (poolKey).
        new Pool(key.slice(0, key.indexOf('|')), {
          connections: c.pool.maxConnections > 0 ? c.pool.maxConnections : null,
          pipelining: 1,
          connectTimeout: c.pool.connectTimeoutMs,
          keepAliveTimeout: Math.min(c.pool.idleTimeoutMs, 4_000),
          // An upstream's Keep-Alive hint may lengthen the idle time, but never past idleTimeout.
          keepAliveMaxTimeout: Math.min(c.pool.idleTimeoutMs, 600_000),
          // undici closes a connection after maxRequestsPerClient + 1 requests; Envoy after exactly N
          // (N = 1 is done per request with `reset`, see proxy.ts).
          maxRequestsPerClient:
            c.pool.maxRequestsPerConnection > 1 ? c.pool.maxRequestsPerConnection - 1 : undefined,
          // Route and mirror timeouts are enforced by Umbra; undici's own 300 s limits stay as a backstop.
          connect: {
            ...(c.tls ? tlsOptions(c) : {}),
            ...(c.pool.tcpKeepaliveMs !== undefined
              ? { keepAlive: true, keepAliveInitialDelay: c.pool.tcpKeepaliveMs }
              : {}),
          },
        }),
    );
    if (!byEndpoint) objects.set(c, (byEndpoint = new WeakMap()));
    byEndpoint.set(e, p);
    return p;
  }

  state(c: Cluster, e: Endpoint): EndpointState {
    let byEndpoint = this.stateByObject.get(c);
    const cached = byEndpoint?.get(e);
    if (cached) return cached;
    const key = `${c.name}|${e.address}:${e.port}`;
    let s = this.endpoints.get(key);
    if (!s) {
      s = {
        endpoint: e,
        key,
        hostPort: `${e.address}:${e.port}`,
        inFlight: 0,
        mirrorInFlight: 0,
        consecutive5xx: 0,
        consecutiveGatewayErrors: 0,
        consecutiveLocalOrigin: 0,
        ejectedUntil: 0,
        ejections: 0,
      };
      this.endpoints.set(key, s);
    }
    if (!byEndpoint) this.stateByObject.set(c, (byEndpoint = new WeakMap()));
    byEndpoint.set(e, s);
    return s;
  }

  clusterState(c: Cluster): ClusterState {
    let s = this.clusterStates.get(c.name);
    if (!s)
      this.clusterStates.set(c.name, (s = { rr: 0, active: 0, pending: 0, retries: 0, ejectedUntilMax: 0 }));
    return s;
  }

  /**
   * Chooses an endpoint of the cluster by its load-balancing policy (src/proxy/load-balancer.ts),
   * skipping ejected endpoints. Below `minHealthPercent` healthy (Envoy's panic threshold) all are
   * used; with the threshold at 0 — Istio's default — and every endpoint ejected, none is (503 UH).
   * `exclude` lists endpoints a retry should avoid (Envoy previous_hosts), when others remain.
   */
  pick(c: Cluster, hashKey: string | undefined, exclude?: readonly Endpoint[]): Endpoint | undefined {
    const eps = c.endpoints;
    if (eps.length === 0) return undefined;
    const cs = this.clusterState(c);
    let usable: ((i: number) => boolean) | undefined;
    if (c.outlier && cs.ejectedUntilMax > Date.now()) {
      const now = Date.now();
      const healthy = eps.map((e) => this.state(c, e).ejectedUntil <= now);
      const count = healthy.filter(Boolean).length;
      const panic =
        c.outlier.minHealthPercent !== undefined &&
        c.outlier.minHealthPercent > 0 &&
        (count * 100) / eps.length < c.outlier.minHealthPercent;
      if (!panic) {
        if (count === 0) return undefined;
        if (count < eps.length) usable = (i) => healthy[i];
      }
    }
    if (exclude && exclude.length > 0 && eps.length > 1) {
      const base = usable;
      const fresh = (i: number) => (base === undefined || base(i)) && !exclude.includes(eps[i]);
      if (eps.some((_, i) => fresh(i))) usable = fresh;
    }
    const i = chooseIndex(c, {
      hash: hashKey !== undefined ? keyHash(hashKey) : undefined,
      usable,
      inFlight: c.lb.kind === 'least-request' ? (k) => this.state(c, eps[k]).inFlight : undefined,
      cursor: cs,
    });
    return i < 0 ? undefined : eps[i];
  }

  /**
   * Envoy's circuit breakers, checked before an attempt takes a place: max requests in flight to the
   * cluster, and max requests queued for a connection (an endpoint at maxConnections queues).
   */
  overflow(c: Cluster, st: EndpointState): Overflow {
    const p = c.pool;
    if (p.maxRequests && p.maxRequests > 0 && this.clusterState(c).active >= p.maxRequests)
      return 'max-requests';
    if (
      c.protocol !== 'http2' && // HTTP/2 sessions queue streams themselves (h2-session-pool.ts)
      p.maxPendingRequests > 0 &&
      p.maxConnections > 0 &&
      st.inFlight >= p.maxConnections &&
      this.clusterState(c).pending >= p.maxPendingRequests
    )
      return 'max-pending';
    return undefined;
  }

  /** An attempt starts on `st`; pair with `end`. Counts only what circuit breakers need. */
  begin(c: Cluster, st: EndpointState): void {
    const p = c.pool;
    if ((p.maxRequests ?? 0) > 0 || (p.maxPendingRequests > 0 && p.maxConnections > 0)) {
      const cs = this.clusterState(c);
      cs.active++;
      if (c.protocol !== 'http2' && p.maxConnections > 0 && st.inFlight >= p.maxConnections) cs.pending++;
    }
    st.inFlight++;
  }

  end(c: Cluster, st: EndpointState): void {
    const p = c.pool;
    if ((p.maxRequests ?? 0) > 0 || (p.maxPendingRequests > 0 && p.maxConnections > 0)) {
      const cs = this.clusterState(c);
      cs.active--;
      if (c.protocol !== 'http2' && p.maxConnections > 0 && st.inFlight > p.maxConnections) cs.pending--;
    }
    st.inFlight--;
  }

  /**
   * Outlier detection (Envoy outlier_detection): consecutive 5xx and consecutive gateway errors
   * eject an endpoint for baseEjectionTime × times ejected (capped at max(300 s, base)); the
   * multiplier decays by one per `interval` spent healthy. `localOrigin` marks connect failures,
   * resets and timeouts (status 503/504 here), counted apart when splitLocalOriginErrors is set.
   * At most maxEjectionPercent of the endpoints are ejected at once, but always at least one.
   */
  record(
    c: Cluster,
    st: EndpointState,
    status: number | 'connect-failure',
    localOrigin = status === 'connect-failure',
  ): void {
    const o = c.outlier;
    if (!o) return;
    const code = status === 'connect-failure' ? 503 : status;
    let trip = false;
    if (o.splitLocalOriginErrors && localOrigin) {
      st.consecutiveLocalOrigin++;
      trip =
        (o.consecutiveLocalOriginFailures ?? 5) > 0 &&
        st.consecutiveLocalOrigin >= (o.consecutiveLocalOriginFailures ?? 5);
    } else {
      if (o.splitLocalOriginErrors) st.consecutiveLocalOrigin = 0;
      const gatewayError = code === 502 || code === 503 || code === 504;
      st.consecutive5xx = code >= 500 ? st.consecutive5xx + 1 : 0;
      st.consecutiveGatewayErrors = gatewayError ? st.consecutiveGatewayErrors + 1 : 0;
      trip =
        (o.consecutive5xx > 0 && st.consecutive5xx >= o.consecutive5xx) ||
        (o.consecutiveGatewayErrors > 0 && st.consecutiveGatewayErrors >= o.consecutiveGatewayErrors);
    }
    if (!trip) return;
    const now = Date.now();
    if (st.ejectedUntil > now) return; // already out
    const ejected = c.endpoints.filter((e) => this.state(c, e).ejectedUntil > now).length;
    if (ejected > 0 && ((ejected + 1) * 100) / c.endpoints.length > o.maxEjectionPercent) return;
    // The multiplier drops by one for every interval the endpoint stayed in since its last ejection.
    if (st.ejections > 0 && o.intervalMs > 0)
      st.ejections = Math.max(0, st.ejections - Math.floor((now - st.ejectedUntil) / o.intervalMs));
    st.ejections++;
    st.ejectedUntil = now + Math.min(o.baseEjectionMs * st.ejections, Math.max(300_000, o.baseEjectionMs));
    st.consecutive5xx = 0;
    st.consecutiveGatewayErrors = 0;
    st.consecutiveLocalOrigin = 0;
    const cs = this.clusterState(c);
    if (st.ejectedUntil > cs.ejectedUntilMax) cs.ejectedUntilMax = st.ejectedUntil;
  }

  /** After a swap: close pools no cluster of the new table uses (in-flight requests finish first). */
  retain(table: RouteTable): void {
    const keep = new Set<string>();
    for (const c of table.clusters.values()) for (const e of c.endpoints) keep.add(poolKey(c, e));
    for (const pools of [this.pools, this.shadowPools])
      for (const [key, p] of pools) {
        if (keep.has(key)) continue;
        pools.delete(key);
        void p.close().catch(() => undefined);
      }
    for (const pools of [this.h2Pools, this.h2ShadowPools])
      for (const [key, d] of pools) {
        if (keep.has(key)) continue;
        pools.delete(key);
        d.pool.drain();
      }
    for (const pools of [this.headFirstPools, this.headFirstShadowPools])
      for (const [key, d] of pools) {
        if (keep.has(key)) continue;
        pools.delete(key);
        d.retire();
      }
    // A request still on an older table must not be handed a pool closed just now.
    this.poolByObject = new WeakMap();
    this.shadowByObject = new WeakMap();
    // Endpoint and cluster state of what left the table: a request still holding an entry keeps
    // its object (its counters stay right); a later endpoint at the same address starts afresh.
    const endpoints = new Set<string>();
    for (const c of table.clusters.values())
      for (const e of c.endpoints) endpoints.add(`${c.name}|${e.address}:${e.port}`);
    for (const [key, st] of this.endpoints)
      if (!endpoints.has(key) && st.inFlight === 0 && st.mirrorInFlight === 0) this.endpoints.delete(key);
    for (const [name, cs] of this.clusterStates)
      if (!table.clusters.has(name) && cs.active === 0 && cs.pending === 0 && cs.retries === 0)
        this.clusterStates.delete(name);
  }

  snapshot(): {
    key: string;
    inFlight: number;
    mirrorInFlight: number;
    ejected: boolean;
    ejections: number;
  }[] {
    const now = Date.now();
    return [...this.endpoints.values()].map((s) => ({
      key: s.key,
      inFlight: s.inFlight,
      mirrorInFlight: s.mirrorInFlight,
      ejected: s.ejectedUntil > now,
      ejections: s.ejections,
    }));
  }

  async close(): Promise<void> {
    for (const d of [...this.h2Pools.values(), ...this.h2ShadowPools.values()]) d.pool.close();
    for (const d of [...this.headFirstPools.values(), ...this.headFirstShadowPools.values()]) d.close();
    this.headFirstPools.clear();
    this.headFirstShadowPools.clear();
    await Promise.all(
      [...this.pools.values(), ...this.shadowPools.values()].map((p) => p.destroy().catch(() => undefined)),
    );
    this.pools.clear();
    this.shadowPools.clear();
    this.poolByObject = new WeakMap();
    this.shadowByObject = new WeakMap();
  }
}

/** The entry of `pools` for (cluster, endpoint), made by `make` (given its key) the first time. */
function pooled<T>(pools: Map<string, T>, c: Cluster, e: Endpoint, make: (key: string) => T): T {
  const key = poolKey(c, e);
  let d = pools.get(key);
  if (d === undefined) pools.set(key, (d = make(key)));
  return d;
}

/** Where an endpoint's connections go: its address, and the cluster's TLS settings if any. */
function originOf(c: Cluster, e: Endpoint): { address: string; port: number; tls?: ConnectionOptions } {
  return { address: e.address, port: e.port, tls: c.tls ? (tlsOptions(c) as ConnectionOptions) : undefined };
}

/** The controller handed to a handler whose request failed before it could start. */
const UNSTARTED: Dispatcher.DispatchController = {
  aborted: true,
  paused: false,
  reason: null,
  abort: () => undefined,
  pause: () => undefined,
  resume: () => undefined,
};

/** Whether requests to this cluster go out on HTTP/2 (Istio's cluster protocol; "downstream" follows the client). */
export function speaksH2(c: Cluster, downstreamH2: boolean): boolean {
  return c.protocol === 'http2' || (c.protocol === 'downstream' && downstreamH2);
}
