// Schemas for Istio networking resources (networking.istio.io v1/v1beta1/v1alpha3): VirtualService,
// DestinationRule, ServiceEntry, WorkloadEntry and Istio's Gateway. Field names and rules follow
// istio.io/latest/docs/reference/config/networking/ and Istio's own validation (pkg/config/validation).
// Built on first use (buildIstioSchemas), apart from the small WorkloadEntry schema.

import { isIP } from 'node:net';
import { z } from 'zod';
import {
  addError,
  didYouMean,
  duration,
  has,
  headerName,
  hostName,
  isBase64,
  isRecord,
  labelMap,
  named,
  nonNegativeInt,
  oneOf,
  percentDouble,
  percentInt,
  port,
  re2,
  strictObject,
  uint32,
  withChecks,
} from './common.js';

/**
 * Istio regexes: RE2, at most 1024 characters. Envoy refuses RE2 programs above its maximum
 * program size; istiod cannot measure a program, so it bounds the length, which is always smaller
 * (pkg/config/validation validateStringRegexp). Umbra refuses what istiod refuses.
 */
export const ISTIO_MAX_REGEX_LENGTH = 1024;

/** HTTP/2 pseudo-headers a match may name (RFC 9113 §8.3; istiod ValidateHTTPHeaderNameOrJwtClaimRoute). */
export const MATCH_PSEUDO_HEADERS = [':method', ':scheme', ':authority', ':path', ':status'];

/** Envoy retry policies accepted in `retryOn` (x-envoy-retry-on and x-envoy-retry-grpc-on). */
export const RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
];

// WorkloadEntry, outside the builder: a standalone run declares its workloads with it, and a
// Gateway API configuration should not build the rest of the Istio schemas for them.
const workloadEntryShape = {
  address: z.string().min(1, 'address must not be empty'),
  ports: z.record(z.string(), port).optional(),
  labels: labelMap.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: uint32.optional(),
  serviceAccount: z.string().optional(),
};

/** Umbra needs an address to reach the workload, so it is required here (Istio allows none with a network). */
export const workloadEntrySpec = strictObject(workloadEntryShape);
export type WorkloadEntrySpec = z.output<typeof workloadEntrySpec>;

/**
 * The Istio schemas, built by src/config/validate.ts on the first document that needs them and kept
 * there: a configuration that does not use this API never holds them (README "Memory").
 */
export function buildIstioSchemas() {
  // ---------------------------------------------------------------------------------------------
  // Shared pieces

  /** Istio `Percent`: `{value: double}` in [0, 100]. An absent value means 0. */
  const percent = strictObject({ value: percentDouble.optional() });

  const istioRe2 = re2.superRefine((s, ctx) => {
    if (s.length > ISTIO_MAX_REGEX_LENGTH)
      addError(
        ctx,
        [],
        `regex is too large: ${s.length} characters, at most ${ISTIO_MAX_REGEX_LENGTH} allowed`,
        'Envoy refuses RE2 programs above its maximum program size; split the match or simplify it',
      );
  });

  /** Istio `StringMatch`: exactly one of exact, prefix, regex (RE2). */
  const stringMatchShape = {
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: istioRe2.optional(),
  };
  const stringMatch = strictObject(stringMatchShape).superRefine((m, ctx) =>
    oneOf(m, ['exact', 'prefix', 'regex'], ctx, { what: 'exactly one' }),
  );
  /**
   * Header/query matches: an empty `{}` tests presence only, so at most one operator. Istio also
   * reads `regex: "*"` (not RE2) as presence (istio/istio#20629), so it is accepted here.
   */
  const presenceOrStringMatch = strictObject({
    ...stringMatchShape,
    regex: z.union([z.literal('*'), istioRe2]).optional(),
  }).superRefine((m, ctx) => oneOf(m, ['exact', 'prefix', 'regex'], ctx, { allowNone: true }));

  const subsetName = named('label');

  /** Destination host: a service name (short or FQDN) without port; not `*` alone. */
  const destinationHost = hostName.superRefine((s, ctx) => {
    if (s === '*') addError(ctx, [], 'destination host must name a service, not "*"');
  });

  const destination = strictObject({
    host: destinationHost,
    subset: subsetName.optional(),
    port: strictObject({ number: port }).optional(),
  });

  /**
   * Header values as istiod validates them (ValidateHTTPHeaderValue): no control characters but HTAB —
   * a CR or LF would make Envoy refuse the route and every request on it fail.
   */
  const istioHeaderValue = z.string().superRefine((s, ctx) => {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(s))
      addError(ctx, [], 'header values must not contain control characters (CR, LF, NUL...)');
  });
  const isPseudo = (s: string) => s.startsWith(':');
  const isAuthority = (s: string) => /^(:authority|host)$/i.test(s);
  /**
   * Names in request set/add: a header, or `:authority`/`host`, which rewrite the authority
   * (ValidateHTTPHeaderWithAuthorityOperationName); no other pseudo-header.
   */
  const requestSetName = z.string().superRefine((s, ctx) => {
    if (isPseudo(s) && !isAuthority(s))
      addError(ctx, [], `invalid header "${s}": header cannot have ":" prefix`, 'only :authority may be set');
    else if (!isPseudo(s)) {
      const r = headerName.safeParse(s);
      if (!r.success) addError(ctx, [], r.error.issues[0].message);
    }
  });
  /** Names removed, or set on responses: neither Host nor a pseudo-header (ValidateHTTPHeaderOperationName). */
  const plainHeaderName = z.string().superRefine((s, ctx) => {
    if (/^host$/i.test(s)) addError(ctx, [], `invalid header "${s}": cannot set Host header`);
    else if (isPseudo(s)) addError(ctx, [], `invalid header "${s}": header cannot have ":" prefix`);
    else {
      const r = headerName.safeParse(s);
      if (!r.success) addError(ctx, [], r.error.issues[0].message);
    }
  });
  const requestHeaderOperations = strictObject({
    set: z.record(requestSetName, istioHeaderValue).optional(),
    add: z.record(requestSetName, istioHeaderValue).optional(),
    remove: z.array(plainHeaderName).optional(),
  });
  const responseHeaderOperations = strictObject({
    set: z.record(plainHeaderName, istioHeaderValue).optional(),
    add: z.record(plainHeaderName, istioHeaderValue).optional(),
    remove: z.array(plainHeaderName).optional(),
  });
  /** Istio `Headers`: request/response maps (not lists, unlike the Gateway API). */
  const istioHeaders = strictObject({
    request: requestHeaderOperations.optional(),
    response: responseHeaderOperations.optional(),
  });

  const exportTo = z.array(z.string().min(1));
  const gatewayNames = z.array(z.string().min(1));

  // ---------------------------------------------------------------------------------------------
  // VirtualService

  /** VirtualService hosts: names, or IP literals (istiod accepts an address that is no valid domain). */
  const virtualServiceHost = z.string().superRefine((s, ctx) => {
    if (isIP(s) !== 0) return;
    const r = hostName.safeParse(s);
    if (!r.success) addError(ctx, [], r.error.issues[0].message);
  });

  /** A header name, a pseudo-header, or a JWT claim Istio routes on ("@request.auth.claims.group"; Umbra reports it at translation). */
  const matchHeaderKey = z.string().superRefine((s, ctx) => {
    if (/^@request\.auth\.claims(\.|\[)/.test(s)) return;
    if (MATCH_PSEUDO_HEADERS.includes(s)) return;
    const r = headerName.safeParse(s);
    if (!r.success) addError(ctx, [], r.error.issues[0].message);
  });

  const httpMatchRequest = strictObject({
    name: z.string().optional(),
    uri: stringMatch.optional(),
    scheme: stringMatch.optional(),
    method: stringMatch.optional(),
    authority: stringMatch.optional(),
    headers: z.record(matchHeaderKey, presenceOrStringMatch).optional(),
    port: port.optional(),
    sourceLabels: labelMap.optional(),
    gateways: gatewayNames.optional(),
    queryParams: z.record(z.string(), presenceOrStringMatch).optional(),
    ignoreUriCase: z.boolean().optional(),
    withoutHeaders: z.record(matchHeaderKey, presenceOrStringMatch).optional(),
    sourceNamespace: z.string().optional(),
    statPrefix: z.string().optional(),
  });

  const httpRouteDestination = strictObject({
    destination,
    weight: nonNegativeInt.max(2147483647).optional(),
    headers: istioHeaders.optional(),
  });

  /** Envoy's RedirectResponseCode supports exactly these. */
  const REDIRECT_CODES = [301, 302, 303, 307, 308];

  const httpRedirect = strictObject({
    uri: z.string().optional(),
    /** Replaces the matched prefix only (Envoy's redirect prefix_rewrite), where uri replaces the whole path. */
    prefixRewrite: z.string().optional(),
    authority: z.string().optional(),
    port: port.optional(),
    derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
    scheme: z.string().optional(),
    redirectCode: z
      .number()
      .int()
      .refine((c) => REDIRECT_CODES.includes(c), {
        message: `redirectCode must be one of ${REDIRECT_CODES.join(', ')}`,
      })
      .optional(),
  }).superRefine((r, ctx) => {
    oneOf(r, ['port', 'derivePort'], ctx, { allowNone: true });
    oneOf(r, ['uri', 'prefixRewrite'], ctx, { allowNone: true });
  });

  const httpDirectResponse = strictObject({
    status: int200to599(),
    body: strictObject({
      string: z.string().optional(),
      bytes: z.string().refine(isBase64, { message: 'bytes must be base64-encoded' }).optional(),
    })
      .superRefine((b, ctx) => oneOf(b, ['string', 'bytes'], ctx))
      .optional(),
  });

  function int200to599() {
    return z
      .number({ invalid_type_error: 'must be an HTTP status code' })
      .int('must be an HTTP status code')
      .min(200, 'must be an HTTP status between 200 and 599')
      .max(599, 'must be an HTTP status between 200 and 599');
  }

  const delegate = strictObject({ name: z.string().min(1), namespace: z.string().optional() });

  const httpRewrite = withChecks(
    strictObject({
      uri: z.string().optional(),
      authority: z.string().optional(),
      uriRegexRewrite: strictObject({ match: istioRe2, rewrite: z.string() }).optional(),
    }),
    (r, ctx) => oneOf(r, ['uri', 'uriRegexRewrite'], ctx, { allowNone: true }),
  );

  const retryOn = z.string().superRefine((s, ctx) => {
    for (const raw of s.split(',')) {
      const p = raw.trim();
      if (/^\d{3}$/.test(p)) continue; // Istio turns status codes into retriable-status-codes
      if (RETRY_ON.includes(p)) continue;
      const near = didYouMean(p, RETRY_ON);
      addError(
        ctx,
        [],
        `"${p}" is not a retry policy`,
        near
          ? `did you mean "${near}"?`
          : `use a comma-separated list of: ${RETRY_ON.join(', ')} or status codes`,
      );
    }
  });

  const httpRetry = strictObject({
    attempts: nonNegativeInt.optional(),
    perTryTimeout: duration.optional(),
    retryOn: retryOn.optional(),
    retryRemoteLocalities: z.boolean().optional(),
    retryIgnorePreviousHosts: z.boolean().optional(),
    backoff: duration.optional(),
  });

  const httpFaultInjection = withChecks(
    strictObject({
      delay: withChecks(
        strictObject({
          fixedDelay: duration.optional(),
          exponentialDelay: duration.optional(),
          percentage: percent.optional(),
          percent: percentInt.optional(),
        }),
        (d, ctx) => oneOf(d, ['fixedDelay', 'exponentialDelay'], ctx),
      ).optional(),
      abort: withChecks(
        strictObject({
          httpStatus: int200to599().optional(),
          grpcStatus: z.string().optional(),
          http2Error: z.string().optional(),
          percentage: percent.optional(),
        }),
        (a, ctx) => oneOf(a, ['httpStatus', 'grpcStatus', 'http2Error'], ctx),
      ).optional(),
    }),
    (f, ctx) => {
      if (!has(f, 'delay') && !has(f, 'abort')) addError(ctx, [], 'fault needs a delay or an abort');
    },
  );

  const httpMirrorPolicy = strictObject({ destination, percentage: percent.optional() });

  const corsPolicy = strictObject({
    allowOrigins: z.array(stringMatch).optional(),
    allowOrigin: z.array(z.string()).optional(),
    allowMethods: z.array(z.string()).optional(),
    allowHeaders: z.array(z.string()).optional(),
    exposeHeaders: z.array(z.string()).optional(),
    maxAge: duration.optional(),
    allowCredentials: z.boolean().optional(),
    unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
  });

  const httpRouteShape = {
    name: z.string().optional(),
    match: z.array(httpMatchRequest).optional(),
    route: z.array(httpRouteDestination).optional(),
    redirect: httpRedirect.optional(),
    directResponse: httpDirectResponse.optional(),
    delegate: delegate.optional(),
    rewrite: httpRewrite.optional(),
    timeout: duration.optional(),
    retries: httpRetry.optional(),
    fault: httpFaultInjection.optional(),
    mirror: destination.optional(),
    mirrorPercent: percentInt.optional(),
    mirrorPercentage: percent.optional(),
    mirrors: z.array(httpMirrorPolicy).optional(),
    corsPolicy: corsPolicy.optional(),
    headers: istioHeaders.optional(),
  };

  /**
   * One `http[]` rule. Cross-field rules follow Istio's validation: exactly one action (route,
   * redirect, directResponse or delegate); redirect excludes rewrite and fault; `mirror` and
   * `mirrors` exclude each other.
   */
  const istioHttpRoute = withChecks(strictObject(httpRouteShape), (r, ctx) => {
    const hasRoute = Array.isArray(r.route) && r.route.length > 0;
    const actions = [
      hasRoute && 'route',
      has(r, 'redirect') && 'redirect',
      has(r, 'directResponse') && 'directResponse',
      has(r, 'delegate') && 'delegate',
    ].filter((x): x is string => typeof x === 'string');
    if (actions.length === 0)
      addError(ctx, [], 'rule needs one of route, redirect, directResponse or delegate');
    else if (actions.length > 1)
      addError(
        ctx,
        [actions[1]],
        `a rule may have only one of route, redirect, directResponse, delegate; found ${actions.join(' and ')}`,
      );
    if (has(r, 'redirect') && has(r, 'rewrite'))
      addError(ctx, ['rewrite'], 'a rule cannot have both rewrite and redirect');
    if (has(r, 'redirect') && has(r, 'fault'))
      addError(ctx, ['fault'], 'a rule cannot have both fault and redirect');
    // istiod validateHTTPRouteDestinations: several destinations must not all weigh 0.
    if (Array.isArray(r.route) && r.route.length > 1 && r.route.every((d) => !d.weight))
      addError(
        ctx,
        ['route'],
        'total destination weight = 0',
        'give at least one destination a weight above 0; with all at 0 no request could be routed',
      );
    if (has(r, 'mirror') && Array.isArray(r.mirrors) && r.mirrors.length > 0)
      addError(
        ctx,
        ['mirrors'],
        'mirror and mirrors cannot both be set on one rule',
        'move the mirror into mirrors[] (with its percentage)',
      );
  });

  const l4Destination = strictObject({ destination, weight: nonNegativeInt.optional() });
  const cidrList = z.array(z.string());

  const tlsRoute = strictObject({
    match: z
      .array(
        strictObject({
          sniHosts: z.array(z.string()).min(1, 'sniHosts needs at least one host'),
          destinationSubnets: cidrList.optional(),
          port: port.optional(),
          sourceLabels: labelMap.optional(),
          gateways: gatewayNames.optional(),
          sourceNamespace: z.string().optional(),
        }),
      )
      .optional(),
    route: z.array(l4Destination).optional(),
  });

  const tcpRoute = strictObject({
    match: z
      .array(
        strictObject({
          destinationSubnets: cidrList.optional(),
          port: port.optional(),
          sourceSubnet: z.string().optional(),
          sourceLabels: labelMap.optional(),
          gateways: gatewayNames.optional(),
          sourceNamespace: z.string().optional(),
        }),
      )
      .optional(),
    route: z.array(l4Destination).optional(),
  });

  const virtualServiceSpec = withChecks(
    strictObject({
      hosts: z.array(virtualServiceHost).optional(),
      gateways: gatewayNames.optional(),
      http: z.array(istioHttpRoute).optional(),
      tls: z.array(tlsRoute).optional(),
      tcp: z.array(tcpRoute).optional(),
      exportTo: exportTo.optional(),
    }),
    (vs, ctx) => {
      if (!has(vs, 'http') && !has(vs, 'tls') && !has(vs, 'tcp'))
        addError(ctx, [], 'a VirtualService needs http, tls or tcp rules');
    },
  );

  // ---------------------------------------------------------------------------------------------
  // DestinationRule

  const consistentHash = withChecks(
    strictObject({
      httpHeaderName: headerName.optional(),
      httpCookie: strictObject({
        name: z.string().min(1),
        path: z.string().optional(),
        ttl: duration.optional(),
      }).optional(),
      useSourceIp: z.boolean().optional(),
      httpQueryParameterName: z.string().optional(),
      ringHash: strictObject({ minimumRingSize: uint32.optional() }).optional(),
      maglev: strictObject({ tableSize: uint32.optional() }).optional(),
      minimumRingSize: uint32.optional(),
    }),
    (c, ctx) => {
      oneOf(c, ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'], ctx, {
        what: 'exactly one hash key',
      });
      oneOf(c, ['ringHash', 'maglev'], ctx, { allowNone: true });
    },
  );

  const localityLbSetting = strictObject({
    distribute: z
      .array(strictObject({ from: z.string().optional(), to: z.record(z.string(), uint32).optional() }))
      .optional(),
    failover: z.array(strictObject({ from: z.string().optional(), to: z.string().optional() })).optional(),
    failoverPriority: z.array(z.string()).optional(),
    enabled: z.boolean().optional(),
  });

  const loadBalancerSettings = withChecks(
    strictObject({
      simple: z
        .enum(['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN'])
        .optional(),
      consistentHash: consistentHash.optional(),
      localityLbSetting: localityLbSetting.optional(),
      warmupDurationSecs: duration.optional(),
      warmup: strictObject({
        duration: duration.optional(),
        minimumPercent: percentDouble.optional(),
        aggression: z.number().finite().min(1, 'aggression must be ≥ 1').optional(),
      }).optional(),
    }),
    (lb, ctx) => oneOf(lb, ['simple', 'consistentHash'], ctx, { allowNone: true }),
  );

  const connectionPoolSettings = strictObject({
    tcp: strictObject({
      maxConnections: nonNegativeInt.optional(),
      connectTimeout: duration.optional(),
      tcpKeepalive: strictObject({
        probes: uint32.optional(),
        time: duration.optional(),
        interval: duration.optional(),
      }).optional(),
      maxConnectionDuration: duration.optional(),
      idleTimeout: duration.optional(),
    }).optional(),
    http: strictObject({
      http1MaxPendingRequests: nonNegativeInt.optional(),
      http2MaxRequests: nonNegativeInt.optional(),
      maxRequestsPerConnection: nonNegativeInt.optional(),
      maxRetries: nonNegativeInt.optional(),
      idleTimeout: duration.optional(),
      h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
      useClientProtocol: z.boolean().optional(),
      maxConcurrentStreams: nonNegativeInt.optional(),
    }).optional(),
  });

  const outlierDetection = strictObject({
    /** Deprecated (istio/api#617): counts gateway errors (502, 503, 504) only. */
    consecutiveErrors: uint32.optional(),
    splitExternalLocalOriginErrors: z.boolean().optional(),
    consecutiveLocalOriginFailures: uint32.optional(),
    consecutiveGatewayErrors: uint32.optional(),
    consecutive5xxErrors: uint32.optional(),
    interval: duration.optional(),
    baseEjectionTime: duration.optional(),
    maxEjectionPercent: percentInt.optional(),
    minHealthPercent: percentInt.optional(),
  });

  const clientTlsSettings = strictObject({
    mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
    clientCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    credentialName: z.string().optional(),
    subjectAltNames: z.array(z.string()).optional(),
    sni: z.string().optional(),
    insecureSkipVerify: z.boolean().optional(),
    caCrl: z.string().optional(),
  });

  const policyPieces = {
    loadBalancer: loadBalancerSettings.optional(),
    connectionPool: connectionPoolSettings.optional(),
    outlierDetection: outlierDetection.optional(),
    tls: clientTlsSettings.optional(),
  };

  const trafficPolicy = strictObject({
    ...policyPieces,
    portLevelSettings: z
      .array(strictObject({ port: strictObject({ number: port }), ...policyPieces }))
      .optional(),
    tunnel: strictObject({
      protocol: z.enum(['CONNECT', 'POST']).optional(),
      targetHost: z.string().min(1),
      targetPort: port,
    }).optional(),
    proxyProtocol: strictObject({ version: z.enum(['V1', 'V2']).optional() }).optional(),
    retryBudget: strictObject({
      percent: percent.optional(),
      minRetryConcurrency: uint32.optional(),
    }).optional(),
  });

  const subset = strictObject({
    name: subsetName,
    labels: labelMap.optional(),
    trafficPolicy: trafficPolicy.optional(),
  });

  const destinationRuleSpec = withChecks(
    strictObject({
      host: destinationHost,
      trafficPolicy: trafficPolicy.optional(),
      subsets: z.array(subset).optional(),
      exportTo: exportTo.optional(),
      workloadSelector: strictObject({ matchLabels: labelMap.optional() }).optional(),
    }),
    (dr, ctx) => {
      const seen = new Set<unknown>();
      if (Array.isArray(dr.subsets))
        dr.subsets.forEach((s, i) => {
          if (!isRecord(s) || typeof s.name !== 'string') return;
          if (seen.has(s.name)) addError(ctx, ['subsets', i, 'name'], `duplicate subset name "${s.name}"`);
          seen.add(s.name);
        });
    },
  );

  // ---------------------------------------------------------------------------------------------
  // ServiceEntry

  const serviceEntrySpec = withChecks(
    strictObject({
      hosts: z.array(hostName).min(1, 'a ServiceEntry needs at least one host'),
      addresses: z.array(z.string()).optional(),
      ports: z
        .array(
          strictObject({
            number: port,
            protocol: z.string().optional(),
            name: z.string().optional(),
            targetPort: port.optional(),
          }),
        )
        .optional(),
      location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
      resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).optional(),
      endpoints: z.array(workloadEntrySpec).optional(),
      workloadSelector: strictObject({ labels: labelMap.optional() }).optional(),
      exportTo: exportTo.optional(),
      subjectAltNames: z.array(z.string()).optional(),
    }),
    (se, ctx) => {
      if (has(se, 'endpoints') && has(se, 'workloadSelector'))
        addError(ctx, ['workloadSelector'], 'only one of endpoints or workloadSelector may be set');
      const seen = new Set<unknown>();
      if (Array.isArray(se.ports))
        se.ports.forEach((p, i) => {
          if (!isRecord(p) || typeof p.number !== 'number') return;
          if (seen.has(p.number)) addError(ctx, ['ports', i, 'number'], `duplicate port ${p.number}`);
          seen.add(p.number);
        });
    },
  );

  // ---------------------------------------------------------------------------------------------
  // Istio Gateway (accepted and stored; Umbra serves Gateway API gateways)

  const istioGatewaySpec = strictObject({
    selector: z.record(z.string(), z.string()).optional(),
    servers: z
      .array(
        strictObject({
          port: strictObject({
            number: port,
            protocol: z.string(),
            name: z.string().optional(),
            targetPort: port.optional(),
          }),
          bind: z.string().optional(),
          hosts: z.array(z.string()).min(1, 'a server needs at least one host'),
          tls: strictObject({
            httpsRedirect: z.boolean().optional(),
            mode: z
              .enum([
                'PASSTHROUGH',
                'SIMPLE',
                'MUTUAL',
                'AUTO_PASSTHROUGH',
                'ISTIO_MUTUAL',
                'OPTIONAL_MUTUAL',
              ])
              .optional(),
            serverCertificate: z.string().optional(),
            privateKey: z.string().optional(),
            caCertificates: z.string().optional(),
            caCrl: z.string().optional(),
            credentialName: z.string().optional(),
            credentialNames: z.array(z.string()).optional(),
            tlsCertificates: z
              .array(
                strictObject({
                  serverCertificate: z.string().optional(),
                  privateKey: z.string().optional(),
                  caCertificates: z.string().optional(),
                }),
              )
              .optional(),
            subjectAltNames: z.array(z.string()).optional(),
            verifyCertificateSpki: z.array(z.string()).optional(),
            verifyCertificateHash: z.array(z.string()).optional(),
            minProtocolVersion: z.enum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']).optional(),
            maxProtocolVersion: z.enum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']).optional(),
            cipherSuites: z.array(z.string()).optional(),
          }).optional(),
          defaultEndpoint: z.string().optional(),
          name: z.string().optional(),
        }),
      )
      .optional(),
  });
  return {
    destination,
    destinationRuleSpec,
    httpMatchRequest,
    istioGatewaySpec,
    istioHeaders,
    istioHttpRoute,
    percent,
    serviceEntrySpec,
    stringMatch,
    subset,
    trafficPolicy,
    virtualServiceSpec,
  };
}

type Built = ReturnType<typeof buildIstioSchemas>;

export type IstioHttpRoute = z.output<Built['istioHttpRoute']>;
export type IstioStringMatch = z.output<Built['stringMatch']>;
export type IstioDestination = z.output<Built['destination']>;
export type IstioPercent = z.output<Built['percent']>;
export type IstioHeaders = z.output<Built['istioHeaders']>;
export type HttpMatchRequest = z.output<Built['httpMatchRequest']>;
export type VirtualServiceSpec = z.output<Built['virtualServiceSpec']>;
export type TrafficPolicy = z.output<Built['trafficPolicy']>;
export type DestinationRuleSubset = z.output<Built['subset']>;
export type DestinationRuleSpec = z.output<Built['destinationRuleSpec']>;
export type ServiceEntrySpec = z.output<Built['serviceEntrySpec']>;
export type IstioGatewaySpec = z.output<Built['istioGatewaySpec']>;
