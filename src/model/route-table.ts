// The data plane's whole view of configuration: listeners, virtual hosts, routes, clusters and
// mirror policies in proxy vocabulary. Built by src/translate, frozen, swapped by reference on reload.

import type { HashTable } from './consistent-hash.js';
import type { Matcher } from './matchers.js';

/** A compiled, immutable configuration snapshot. The proxy pins one per request. */
export interface RouteTable {
  readonly version: number;
  /** Virtual hosts by lower-cased authority ("httpbin:8000", "httpbin.default.svc.cluster.local"). */
  readonly hostIndex: ReadonlyMap<string, VirtualHost>;
  /** Wildcard suffix hosts ("*.example.com" stored as ".example.com"), longest first. */
  readonly wildcardHosts: readonly WildcardHost[];
  readonly clusters: ReadonlyMap<string, Cluster>;
  /** Gateway listeners (Gateway API `Gateway` resources); the outbound listener is not listed. */
  readonly gatewayListeners: readonly GatewayListener[];
}

export interface WildcardHost {
  readonly suffix: string;
  /** When set, only this port matches. */
  readonly port?: number;
  readonly vhost: VirtualHost;
}

export interface GatewayListener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Routes served by this listener, keyed like RouteTable.hostIndex. */
  readonly hostIndex: ReadonlyMap<string, VirtualHost>;
  readonly wildcardHosts: readonly WildcardHost[];
  /** Virtual host for any authority when the listener has no hostname restriction. */
  readonly catchAll?: VirtualHost;
  /** Set when the listener terminates TLS (Gateway API HTTPS listeners, Istio HTTPS servers). */
  readonly tls?: ListenerTls;
}

/** TLS termination on a listener: a certificate per SNI hostname, picked when the client connects. */
export interface ListenerTls {
  readonly certificates: readonly ServerCertificate[];
}

export interface ServerCertificate {
  /**
   * The SNI names it serves: exact ("a.example.com"), wildcard ("*.example.com": any name ending in
   * ".example.com"), or "*" (any name, and clients that send none).
   */
  readonly hostname: string;
  /** Where it came from ("Secret default/wildcard"), for logs and config_dump. Never the content. */
  readonly source: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A set of routes for one destination service port (or gateway hostname). */
export interface VirtualHost {
  readonly name: string;
  /** The service this host stands for (used for telemetry and default routing). */
  readonly service?: ServiceRef;
  /** Routes in evaluation order: first match wins. Gateway API precedence is applied when building. */
  readonly routes: readonly Route[];
}

export interface ServiceRef {
  readonly name: string;
  readonly namespace: string;
  readonly fqdn: string;
  readonly port: number;
}

/** Where a route came from, for logs, metrics, config_dump and errors. */
export interface RouteOrigin {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** e.g. "spec.http[0]" or "spec.rules[1].matches[0]". */
  readonly path: string;
}

export interface Route {
  readonly name: string;
  readonly origin: RouteOrigin;
  /** All must pass. An empty list matches everything. */
  readonly match: RouteMatch;
  readonly action: RouteAction;
  /** Header operations on the request, applied before forwarding (and before mirroring). */
  readonly requestHeaders?: HeaderOps;
  readonly responseHeaders?: HeaderOps;
  readonly fault?: FaultPolicy;
  readonly cors?: CorsPolicy;
}

export interface RouteMatch {
  readonly path?: Matcher;
  /** Upper-case HTTP method. */
  readonly method?: Matcher;
  readonly scheme?: Matcher;
  readonly authority?: Matcher;
  readonly port?: number;
  readonly headers?: readonly HeaderMatch[];
  readonly queryParams?: readonly QueryMatch[];
  readonly withoutHeaders?: readonly HeaderMatch[];
  /** Lower-case the path before matching (Istio ignoreUriCase). */
  readonly ignoreCase?: boolean;
}

export interface HeaderMatch {
  readonly name: string; // lower case
  /** Absent matcher: header must be present (any value). */
  readonly value?: Matcher;
}

export interface QueryMatch {
  readonly name: string;
  readonly value?: Matcher;
}

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface ForwardAction {
  readonly kind: 'forward';
  /** Weighted backends; a request picks one by weight. Zero total weight → 500 (Gateway API) / 503. */
  readonly backends: readonly WeightedBackend[];
  readonly totalWeight: number;
  /** Status used when every backend is invalid or all weights are zero. */
  readonly noBackendStatus: number;
  readonly rewrite?: Rewrite;
  /** Whole-request timeout in ms (0 = none, Istio's default). */
  readonly timeoutMs: number;
  /** Per-upstream-attempt timeout in ms (Gateway API backendRequest; Istio perTryTimeout). */
  readonly perTryTimeoutMs: number;
  readonly retry?: RetryPolicy;
  readonly mirrors: readonly MirrorPolicy[];
}

export interface WeightedBackend {
  /** Cluster name; undefined when the backend reference was invalid (requests to it get 500). */
  readonly cluster?: string;
  readonly weight: number;
  readonly requestHeaders?: HeaderOps;
  readonly responseHeaders?: HeaderOps;
  /** Host for this backend when the route sets none (Istio: host/:authority in destination headers). */
  readonly authority?: string;
}

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly scheme?: string;
  readonly host?: string;
  /** Explicit port; undefined keeps the request's (dropped when the scheme changes from its default). */
  readonly port?: number;
  readonly path?: PathReplacement;
  readonly status: number;
}

export interface DirectResponseAction {
  readonly kind: 'direct';
  readonly status: number;
  readonly body?: string;
  readonly headers?: readonly (readonly [string, string])[];
}

export type PathReplacement =
  | { readonly kind: 'full'; readonly value: string }
  | { readonly kind: 'prefix'; readonly prefix: string; readonly value: string }
  /** Envoy prefix_rewrite (Istio rewrite.uri): the first `length` characters — what the route's
   *  prefix matched — become `value`, with no slash handling ("/v2" on "/api/x" for "/api/" → "/v2x"). */
  | { readonly kind: 'head'; readonly length: number; readonly value: string }
  | { readonly kind: 'regex'; readonly pattern: Matcher; readonly substitution: string };

export interface Rewrite {
  readonly path?: PathReplacement;
  readonly authority?: string;
}

export interface HeaderOps {
  readonly set?: readonly (readonly [string, string])[];
  readonly add?: readonly (readonly [string, string])[];
  readonly remove?: readonly string[];
}

export interface RetryPolicy {
  /** Retries after the first attempt (Istio `attempts`, Envoy num_retries). */
  readonly attempts: number;
  readonly perTryTimeoutMs: number;
  readonly retryOn: readonly string[];
  /** `retryOn` compiled to a bit set (src/model/retry-on.ts). */
  readonly conditions: number;
  /** Statuses retried under `retriable-status-codes` (Istio: the numbers in retryOn; default 503). */
  readonly retriableStatusCodes: readonly number[];
  /** Base of the fully jittered exponential back-off (Envoy: 25 ms; cap 10× base). */
  readonly backoffBaseMs: number;
  /** Prefer endpoints not tried yet (Envoy previous_hosts predicate; Istio's default except with consistent hashing). */
  readonly ignorePreviousHosts: boolean;
}

export interface FaultPolicy {
  readonly delay?: { readonly ms: number; readonly ppm: number };
  /** `grpcStatus`: gRPC requests get it in a Trailers-Only reply; others get `status` (its HTTP mapping). */
  readonly abort?: { readonly status: number; readonly ppm: number; readonly grpcStatus?: number };
}

export interface CorsPolicy {
  readonly allowOrigins: readonly Matcher[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeSeconds?: number;
  readonly allowCredentials?: boolean;
  /** A preflight from an origin not allowed goes upstream (true, Envoy's default) or is answered 200 bare. */
  readonly forwardNotMatchingPreflights?: boolean;
}

/** How the copy's Host/authority is derived from the primary's. */
export type ShadowAuthority =
  | { readonly mode: 'suffix'; readonly suffix: string }
  | { readonly mode: 'keep' }
  | { readonly mode: 'literal'; readonly value: string }
  /** `${host}` and `${port}` (":8000" or "") are replaced from the primary's authority. */
  | { readonly mode: 'template'; readonly template: string };

export interface MirrorPolicy {
  /** Cluster that receives the copy. */
  readonly cluster: string;
  /** Stable id used in logs and metrics ("httpbin.default|v2"). */
  readonly name: string;
  /** Parts per million of requests mirrored (1e6 = all). */
  readonly ppm: number;
  readonly authority: ShadowAuthority;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  /** Largest amount of request body buffered for this copy before it is aborted. */
  readonly bodyBufferBytes: number;
  /** Body bytes buffered for all in-flight copies to this mirror together (the process budget caps it too). */
  readonly totalBodyBufferBytes: number;
  /** Upper-case methods mirrored; undefined = all. */
  readonly methods?: ReadonlySet<string>;
  /** Header changes applied to the copy only. */
  readonly headers?: HeaderOps;
  /**
   * Set when the copy must not see every request change of its route: a Gateway API RequestMirror
   * sees only the filters listed before it, and never backendRef filters (HTTPRouteFilter, v1).
   * Undefined: the copy is the primary's upstream request, as Envoy shadows it (Istio).
   */
  readonly copyOf?: MirrorSource;
  /** Keyed sampling: hash this header (lower-case name) or cookie instead of drawing at random. */
  readonly sampleKey?: { readonly header?: string; readonly cookie?: string };
  readonly breaker?: BreakerSettings;
  /** Compare the copy's response with the primary's (issue 9). */
  readonly compare?: CompareSettings;
  /** The MirrorPolicy resource that shaped this mirror ("namespace/name"), if any. */
  readonly policy?: string;
  /** Write every admitted copy to a JSON Lines file (issue 16, src/record). */
  readonly record?: RecordSettings;
}

/** A recording sink of a mirror (MirrorPolicy `record`; format in docs/record-replay.md). */
export interface RecordSettings {
  /** The file written; rotated files are `path.1` … `path.(maxFiles-1)`. */
  readonly path: string;
  readonly maxBytes: number;
  readonly maxFiles: number;
  /** Body bytes kept per record; past it the body is cut and the record flagged truncated. */
  readonly maxBodyBytes: number;
  /** false: the copy is recorded but never sent. */
  readonly sendCopies: boolean;
}

/** What a copy is made from when it differs from the primary's upstream request. */
export interface MirrorSource {
  /** Request header operations the copy gets, in place of the route's and the backend's. */
  readonly requestHeaders?: HeaderOps;
  /** Whether the route's URL rewrite (path and authority) applies to the copy. */
  readonly rewritten: boolean;
}

export interface BreakerSettings {
  readonly consecutiveFailures: number;
  readonly latencyMs?: number;
  readonly cooldownMs: number;
}

export interface CompareSettings {
  readonly maxBodyBytes: number;
  readonly ignoreHeaders: readonly string[];
  readonly ignoreFields: readonly string[];
  /** This mirror is the baseline (a second copy of the primary's version) of another mirror. */
  readonly baseline?: boolean;
  /** Name of the mirror on the same route that is this candidate's baseline (noise cancellation). */
  readonly baselineMirror?: string;
  /** Where the policy wants its baseline; linkBaselines resolves it against the route's mirrors. */
  readonly baselineTarget?: { readonly host: string; readonly namespace: string; readonly subset?: string };
  /** Verdict thresholds as fractions (0.03 = 3 points): a field is reported when its candidate
   *  difference rate exceeds its noise rate by at least `absolute` and by `relative` of itself. */
  readonly thresholds?: { readonly absolute: number; readonly relative: number };
}

export type LbPolicy =
  | { readonly kind: 'round-robin' }
  | { readonly kind: 'least-request' }
  | { readonly kind: 'random' }
  | {
      readonly kind: 'hash';
      readonly header?: string;
      readonly cookie?: string;
      readonly sourceIp?: boolean;
      readonly queryParam?: string;
      /** Cookie generated when absent (Envoy: only with a TTL): Max-Age seconds and Path. */
      readonly cookieTtlSeconds?: number;
      readonly cookiePath?: string;
      /** Ring or Maglev table over `Cluster.endpoints`, built at translation time. */
      readonly table?: HashTable;
    };

export interface ConnectionPoolSettings {
  /** Max connections per endpoint (undici Pool `connections`). */
  readonly maxConnections: number;
  /** Max requests queued waiting for a connection before 503 UO. */
  readonly maxPendingRequests: number;
  readonly maxRequestsPerConnection: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Max requests in flight to the cluster before 503 UO (Istio http2MaxRequests; 0 = unlimited). */
  readonly maxRequests?: number;
  /** Max retries in flight to the cluster at once (Istio maxRetries; 0 = unlimited). */
  readonly maxRetries?: number;
  /** Streams at once on one HTTP/2 connection (Istio maxConcurrentStreams; 0 = what the server allows). */
  readonly maxConcurrentStreams?: number;
  /** TCP keep-alive probes start after this idle time (Istio tcpKeepalive.time); undefined = undici's default. */
  readonly tcpKeepaliveMs?: number;
}

export interface OutlierDetection {
  readonly consecutive5xx: number;
  readonly consecutiveGatewayErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionPercent: number;
  /** Below this % of healthy endpoints, balance over all of them (Envoy panic threshold; 0 = never). */
  readonly minHealthPercent?: number;
  /** Count connect failures, resets and timeouts apart from upstream 5xx (Envoy split_external_local_origin_errors). */
  readonly splitLocalOriginErrors?: boolean;
  readonly consecutiveLocalOriginFailures?: number;
}

/** HTTP version spoken to a cluster's endpoints; "downstream" = whatever the client spoke. */
export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

export interface Cluster {
  /** Envoy-style name: "outbound|8000|v1|httpbin.default.svc.cluster.local". */
  readonly name: string;
  /** Absent means HTTP/1.1 (tables built before protocol selection existed, tests). */
  readonly protocol?: UpstreamProtocol;
  readonly service: ServiceRef;
  readonly subset?: string;
  readonly endpoints: readonly Endpoint[];
  readonly lb: LbPolicy;
  readonly pool: ConnectionPoolSettings;
  readonly outlier?: OutlierDetection;
  readonly tls?: {
    readonly mode: 'SIMPLE' | 'MUTUAL';
    readonly sni?: string;
    readonly insecureSkipVerify?: boolean;
    /** PEM file with the CAs that may sign the upstream's certificate (default: Node's bundle). */
    readonly caCertificates?: string;
    /** The certificate must carry one of these names (DNS or URI SAN). */
    readonly subjectAltNames?: readonly string[];
    /** MUTUAL: PEM files of Umbra's client certificate chain and key (DestinationRule tls). */
    readonly clientCertificate?: string;
    readonly privateKey?: string;
    /** MUTUAL with credentialName: the Secret's client certificate, key and CA (never logged). */
    readonly credential?: {
      readonly source: string;
      readonly certPem?: string;
      readonly keyPem?: string;
      readonly caPem?: string;
    };
  };
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** The WorkloadEntry/Pod that declared it, for logs. */
  readonly workload: string;
}
