// Schemas for Gateway API resources (gateway.networking.k8s.io v1/v1beta1): HTTPRoute, Gateway,
// GatewayClass and ReferenceGrant. Fields, enums, defaults and CEL rules follow
// kubernetes-sigs/gateway-api apis/v1 (httproute_types.go, gateway_types.go, shared_types.go);
// the CRD defaults are applied here, as the API server would, so files and clusters agree.
// Built on first use (buildGatewayApiSchemas).

import { z } from 'zod';
import {
  addError,
  gatewayDuration,
  gatewayHostname,
  has,
  headerListOps,
  headerName,
  isRecord,
  labelSelector,
  named,
  nonNegativeInt,
  port,
  preciseHostname,
  re2,
  strictObject,
  withChecks,
  GATEWAY_DURATION,
} from './common.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/**
 * The Gateway API schemas, built by src/config/validate.ts on the first document that needs them and kept
 * there: a configuration that does not use this API never holds them (README "Memory").
 */
export function buildGatewayApiSchemas() {
  const group = z
    .string()
    .max(253)
    .superRefine((s, ctx) => {
      if (s !== '' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s))
        addError(ctx, [], `"${s}" is not a valid API group`);
    });
  const kind = z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, 'not a valid kind');
  const objectName = z.string().min(1).max(253);
  const namespace = named('label');
  const sectionName = z
    .string()
    .min(1)
    .max(253)
    .regex(
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
      'must be a DNS-1123 subdomain',
    );

  // ---------------------------------------------------------------------------------------------
  // References

  const parentReference = strictObject({
    group: group.default(GATEWAY_GROUP),
    kind: kind.default('Gateway'),
    namespace: namespace.optional(),
    name: objectName,
    sectionName: sectionName.optional(),
    port: port.optional(),
  });

  /** BackendObjectReference; a core Service reference needs a port (CEL rule in the CRD). */
  const backendObjectShape = {
    group: group.default(''),
    kind: kind.default('Service'),
    name: objectName,
    namespace: namespace.optional(),
    port: port.optional(),
  };
  /** Runs on the raw reference, so the CRD defaults (group "", kind Service) are applied by hand. */
  function requirePortForService(ref: Record<string, unknown>, ctx: z.RefinementCtx): void {
    if ((ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service' && !has(ref, 'port'))
      addError(ctx, ['port'], 'port is required when referring to a Service');
  }
  const backendObjectReference = withChecks(strictObject(backendObjectShape), requirePortForService);

  // ---------------------------------------------------------------------------------------------
  // Matches

  /** Path syntax rules for Exact and PathPrefix (HTTPPathMatch CEL rules). */
  function pathProblem(value: string): string | undefined {
    if (!value.startsWith('/')) return "must be an absolute path starting with '/'";
    for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#'])
      if (value.includes(bad)) return `must not contain '${bad}'`;
    if (value.endsWith('/..') || value.endsWith('/.')) return "must not end with '/..' or '/.'";
    if (!/^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/.test(value))
      return 'contains characters not allowed in a path';
    return undefined;
  }

  const httpPathMatch = strictObject({
    type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']).default('PathPrefix'),
    value: z.string().max(1024).default('/'),
  }).superRefine((p, ctx) => {
    if (p.type === 'RegularExpression') {
      const r = re2.safeParse(p.value);
      if (!r.success) for (const i of r.error.issues) ctx.addIssue({ ...i, path: ['value'] } as z.IssueData);
    } else {
      const problem = pathProblem(p.value);
      if (problem) addError(ctx, ['value'], `path "${p.value}" ${problem}`);
    }
  });

  function valueMatch(maxLen: number) {
    return strictObject({
      type: z.enum(['Exact', 'RegularExpression']).default('Exact'),
      name: headerName,
      value: z.string().min(1, 'value must not be empty').max(maxLen),
    }).superRefine((m, ctx) => {
      if (m.type === 'RegularExpression') {
        const r = re2.safeParse(m.value);
        if (!r.success)
          for (const i of r.error.issues) ctx.addIssue({ ...i, path: ['value'] } as z.IssueData);
      }
    });
  }
  const httpHeaderMatch = valueMatch(4096);
  const httpQueryParamMatch = valueMatch(1024);

  const HTTP_METHODS = [
    'GET',
    'HEAD',
    'POST',
    'PUT',
    'DELETE',
    'CONNECT',
    'OPTIONS',
    'TRACE',
    'PATCH',
  ] as const;

  const httpRouteMatch = strictObject({
    path: httpPathMatch.default({}),
    headers: z.array(httpHeaderMatch).max(16).optional(),
    queryParams: z.array(httpQueryParamMatch).max(16).optional(),
    method: z.enum(HTTP_METHODS).optional(),
  });

  // ---------------------------------------------------------------------------------------------
  // Filters

  const httpPathModifier = strictObject({
    type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch']),
    replaceFullPath: z.string().max(1024).optional(),
    replacePrefixMatch: z.string().max(1024).optional(),
  }).superRefine((m, ctx) => {
    if (m.type === 'ReplaceFullPath' && m.replaceFullPath === undefined)
      addError(ctx, ['replaceFullPath'], 'replaceFullPath is required when type is ReplaceFullPath');
    if (m.type === 'ReplacePrefixMatch' && m.replacePrefixMatch === undefined)
      addError(ctx, ['replacePrefixMatch'], 'replacePrefixMatch is required when type is ReplacePrefixMatch');
    if (m.type !== 'ReplaceFullPath' && m.replaceFullPath !== undefined)
      addError(ctx, ['replaceFullPath'], "replaceFullPath needs type 'ReplaceFullPath'");
    if (m.type !== 'ReplacePrefixMatch' && m.replacePrefixMatch !== undefined)
      addError(ctx, ['replacePrefixMatch'], "replacePrefixMatch needs type 'ReplacePrefixMatch'");
  });

  const httpRequestRedirectFilter = strictObject({
    scheme: z.enum(['http', 'https']).optional(),
    hostname: preciseHostname.optional(),
    path: httpPathModifier.optional(),
    port: port.optional(),
    statusCode: z
      .number()
      .int()
      .refine((c) => [301, 302, 303, 307, 308].includes(c), {
        message: 'statusCode must be one of 301, 302, 303, 307, 308',
      })
      .default(302),
  });

  const httpUrlRewriteFilter = strictObject({
    hostname: preciseHostname.optional(),
    path: httpPathModifier.optional(),
  });

  /** Fraction of requests; numerator ≤ denominator (CEL rule on `Fraction`). */
  const fraction = strictObject({
    numerator: z.number().int().min(0, 'numerator must be ≥ 0').max(2147483647),
    denominator: z.number().int().min(1, 'denominator must be > 0').max(2147483647).default(100),
  }).superRefine((f, ctx) => {
    if (f.numerator > f.denominator)
      addError(
        ctx,
        ['numerator'],
        `numerator (${f.numerator}) must be less than or equal to denominator (${f.denominator})`,
      );
  });

  const httpRequestMirrorFilter = withChecks(
    strictObject({
      backendRef: backendObjectReference,
      percent: z
        .number()
        .int()
        .min(0, 'percent must be between 0 and 100')
        .max(100, 'percent must be between 0 and 100')
        .optional(),
      fraction: fraction.optional(),
    }),
    (m, ctx) => {
      if (has(m, 'percent') && has(m, 'fraction'))
        addError(ctx, ['fraction'], 'only one of percent or fraction may be specified in requestMirror');
    },
  );

  const CORS_METHODS = [...HTTP_METHODS, '*'] as const;
  const httpCorsFilter = strictObject({
    allowOrigins: z.array(z.string().min(1)).max(64).optional(),
    allowCredentials: z.boolean().optional(),
    allowMethods: z.array(z.enum(CORS_METHODS)).max(9).optional(),
    allowHeaders: z.array(headerName).max(64).optional(),
    exposeHeaders: z.array(headerName).max(64).optional(),
    maxAge: z.number().int().min(1).optional(),
  }).superRefine((c, ctx) => {
    if (c.allowOrigins?.includes('*') && c.allowOrigins.length > 1)
      addError(ctx, ['allowOrigins'], "allowOrigins cannot contain '*' alongside other origins");
    if (c.allowMethods?.includes('*') && c.allowMethods.length > 1)
      addError(ctx, ['allowMethods'], "allowMethods cannot contain '*' alongside other methods");
  });

  const localObjectReference = strictObject({ group, kind, name: objectName });

  /** ExternalAuth (experimental); validated shallowly since Umbra does not implement it. */
  const httpExternalAuthFilter = strictObject({
    protocol: z.enum(['HTTP', 'GRPC']),
    backendRef: backendObjectReference,
    grpc: strictObject({ allowedHeaders: z.array(z.string()).optional() }).optional(),
    http: strictObject({
      path: z.string().optional(),
      allowedHeaders: z.array(z.string()).optional(),
      allowedResponseHeaders: z.array(z.string()).optional(),
    }).optional(),
    forwardBody: strictObject({ maxSize: z.number().int().min(0).max(65535).optional() }).optional(),
  });

  /** Filter type → the one field it populates. */
  const FILTER_FIELDS = {
    RequestHeaderModifier: 'requestHeaderModifier',
    ResponseHeaderModifier: 'responseHeaderModifier',
    RequestMirror: 'requestMirror',
    RequestRedirect: 'requestRedirect',
    URLRewrite: 'urlRewrite',
    CORS: 'cors',
    ExternalAuth: 'externalAuth',
    ExtensionRef: 'extensionRef',
  } as const;
  type FilterType = keyof typeof FILTER_FIELDS;
  const FILTER_TYPES = Object.keys(FILTER_FIELDS) as [FilterType, ...FilterType[]];

  /**
   * The check both route kinds' filters share: `type` names the one configuration field that is set
   * (an unknown type gets a hint naming the type each set field belongs to).
   */
  function oneFieldPerType(fields: Record<string, string>) {
    return (f: Record<string, unknown>, ctx: z.RefinementCtx): void => {
      const type = typeof f.type === 'string' && f.type in fields ? f.type : undefined;
      for (const [t, field] of Object.entries(fields)) {
        if (t === type && !has(f, field)) addError(ctx, [], `filter type ${t} needs the ${field} field`);
        if (t !== type && has(f, field))
          addError(
            ctx,
            [field],
            `${field} must not be set when type is ${String(f.type)}`,
            type ? undefined : `set type: ${t}`,
          );
      }
    };
  }

  /** A backendRef's weight (both route kinds). */
  const backendWeight = z
    .number()
    .int()
    .min(0, 'weight must be between 0 and 1000000')
    .max(1_000_000, 'weight must be between 0 and 1000000')
    .default(1);

  /** An HTTPRoute filter: `type` must name the one configuration field that is set. */
  const httpRouteFilter = withChecks(
    strictObject({
      type: z.enum(FILTER_TYPES),
      requestHeaderModifier: headerListOps.optional(),
      responseHeaderModifier: headerListOps.optional(),
      requestMirror: httpRequestMirrorFilter.optional(),
      requestRedirect: httpRequestRedirectFilter.optional(),
      urlRewrite: httpUrlRewriteFilter.optional(),
      cors: httpCorsFilter.optional(),
      externalAuth: httpExternalAuthFilter.optional(),
      extensionRef: localObjectReference.optional(),
    }),
    oneFieldPerType(FILTER_FIELDS),
  );

  // ---------------------------------------------------------------------------------------------
  // Rules

  const httpBackendRef = withChecks(
    strictObject({
      ...backendObjectShape,
      weight: backendWeight,
      filters: z.array(httpRouteFilter).max(16).optional(),
    }),
    requirePortForService,
  );

  const httpRouteTimeouts = strictObject({
    request: gatewayDuration.optional(),
    backendRequest: gatewayDuration.optional(),
  });

  const httpRouteRetry = strictObject({
    codes: z.array(z.number().int().min(400).max(599)).optional(),
    attempts: nonNegativeInt.optional(),
    backoff: gatewayDuration.optional(),
  });

  const sessionPersistence = strictObject({
    sessionName: z.string().max(128).optional(),
    absoluteTimeout: gatewayDuration.optional(),
    idleTimeout: gatewayDuration.optional(),
    type: z.enum(['Cookie', 'Header']).default('Cookie'),
    cookieConfig: strictObject({
      lifetimeType: z.enum(['Permanent', 'Session']).default('Session'),
    }).optional(),
  });

  const SINGLETON_FILTERS: FilterType[] = [
    'RequestHeaderModifier',
    'ResponseHeaderModifier',
    'RequestRedirect',
    'URLRewrite',
  ];

  function gwDurationMs(s: unknown): number | undefined {
    if (typeof s !== 'string' || !GATEWAY_DURATION.test(s)) return undefined;
    let ms = 0;
    for (const m of s.matchAll(/(\d+)(h|ms|m|s)/g))
      ms += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'h' | 'm' | 's' | 'ms'];
    return ms;
  }

  /** Usage of path.replacePrefixMatch in a list of raw filters (redirect or rewrite). */
  function usesReplacePrefix(filters: unknown): boolean {
    if (!Array.isArray(filters)) return false;
    return filters.some((f) => {
      if (!isRecord(f)) return false;
      for (const k of ['requestRedirect', 'urlRewrite']) {
        const x = f[k];
        if (isRecord(x) && isRecord(x.path) && x.path.type === 'ReplacePrefixMatch') return true;
      }
      return false;
    });
  }

  /** One rule, with the CEL rules of HTTPRouteRule and its filter list. */
  const httpRouteRule = withChecks(
    strictObject({
      name: sectionName.optional(),
      matches: z.array(httpRouteMatch).max(64).default([{}]),
      filters: z.array(httpRouteFilter).max(16).optional(),
      backendRefs: z.array(httpBackendRef).max(16).optional(),
      timeouts: httpRouteTimeouts.optional(),
      retry: httpRouteRetry.optional(),
      sessionPersistence: sessionPersistence.optional(),
    }),
    (rule, ctx) => {
      const filters = Array.isArray(rule.filters) ? rule.filters.filter(isRecord) : [];
      const types = filters.map((f) => f.type);
      const hasBackends = Array.isArray(rule.backendRefs) && rule.backendRefs.length > 0;
      if (hasBackends && types.includes('RequestRedirect'))
        addError(ctx, ['filters'], 'a RequestRedirect filter must not be used together with backendRefs');
      if (types.includes('RequestRedirect') && types.includes('URLRewrite'))
        addError(ctx, ['filters'], 'RequestRedirect and URLRewrite filters cannot be combined in one rule');
      for (const t of SINGLETON_FILTERS)
        if (types.filter((x) => x === t).length > 1)
          addError(ctx, ['filters'], `the ${t} filter cannot be repeated`);
      const backendFilters = Array.isArray(rule.backendRefs)
        ? rule.backendRefs.filter(isRecord).map((b) => b.filters)
        : [];
      if (usesReplacePrefix(rule.filters) || backendFilters.some(usesReplacePrefix)) {
        const m = rule.matches;
        const onePrefix =
          Array.isArray(m) &&
          m.length === 1 &&
          isRecord(m[0]) &&
          (m[0].path === undefined ||
            (isRecord(m[0].path) && (m[0].path.type ?? 'PathPrefix') === 'PathPrefix'));
        if (!onePrefix && m !== undefined)
          addError(
            ctx,
            ['matches'],
            'path.replacePrefixMatch needs exactly one match, and it must be a PathPrefix match',
          );
      }
      if (isRecord(rule.timeouts)) {
        const req = gwDurationMs(rule.timeouts.request);
        const be = gwDurationMs(rule.timeouts.backendRequest);
        if (req !== undefined && be !== undefined && req !== 0 && be > req)
          addError(
            ctx,
            ['timeouts', 'backendRequest'],
            'backendRequest timeout cannot be longer than request timeout',
          );
      }
      if (isRecord(rule.sessionPersistence)) {
        const sp = rule.sessionPersistence;
        if (
          isRecord(sp.cookieConfig) &&
          sp.cookieConfig.lifetimeType === 'Permanent' &&
          !has(sp, 'absoluteTimeout')
        )
          addError(
            ctx,
            ['sessionPersistence', 'absoluteTimeout'],
            'absoluteTimeout is required when cookie lifetimeType is Permanent',
          );
      }
    },
  );

  /** Checks both route kinds' specs share (the CRDs' CEL rules): unique rule names, ≤ 128 matches in all. */
  function routeRuleChecks(spec: { rules?: unknown }, ctx: z.RefinementCtx): void {
    if (!Array.isArray(spec.rules)) return;
    const names = new Map<string, number>();
    let matches = 0;
    spec.rules.forEach((r: unknown, i: number) => {
      if (!isRecord(r)) return;
      if (Array.isArray(r.matches)) matches += r.matches.length;
      if (typeof r.name !== 'string') return;
      if (names.has(r.name))
        addError(
          ctx,
          ['rules', i, 'name'],
          `rule name "${r.name}" is already used by rules[${names.get(r.name)}]`,
        );
      else names.set(r.name, i);
    });
    if (matches > 128)
      addError(ctx, ['rules'], `a route may have at most 128 matches across all rules (found ${matches})`);
  }

  const httpRouteSpec = withChecks(
    strictObject({
      parentRefs: z.array(parentReference).max(32).optional(),
      hostnames: z.array(gatewayHostname).max(16).optional(),
      rules: z.array(httpRouteRule).max(16).default([{}]),
    }),
    routeRuleChecks,
  );

  // ---------------------------------------------------------------------------------------------
  // Gateway

  const PROTOCOL =
    /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$/;
  const CORE_PROTOCOLS = ['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP'];
  const protocolType = z
    .string()
    .min(1)
    .max(255)
    .superRefine((p, ctx) => {
      if (!PROTOCOL.test(p))
        addError(
          ctx,
          [],
          `"${p}" is not a valid protocol`,
          `use one of ${CORE_PROTOCOLS.join(', ')} or a domain-prefixed name`,
        );
      else if (!p.includes('/') && !CORE_PROTOCOLS.includes(p))
        addError(
          ctx,
          [],
          `unknown protocol "${p}"`,
          `use one of ${CORE_PROTOCOLS.join(', ')} (custom protocols need a domain prefix, e.g. example.com/foo)`,
        );
    });

  const secretObjectReference = strictObject({
    group: group.default(''),
    kind: kind.default('Secret'),
    name: objectName,
    namespace: namespace.optional(),
  });
  const objectReference = strictObject({ group, kind, name: objectName, namespace: namespace.optional() });

  const listenerTlsConfig = strictObject({
    mode: z.enum(['Terminate', 'Passthrough']).default('Terminate'),
    certificateRefs: z.array(secretObjectReference).max(64).optional(),
    options: z.record(z.string(), z.string()).optional(),
    frontendValidation: strictObject({
      caCertificateRefs: z.array(objectReference).min(1).max(8),
    }).optional(),
  });

  const listener = strictObject({
    name: sectionName,
    hostname: gatewayHostname.optional(),
    port,
    protocol: protocolType,
    tls: listenerTlsConfig.optional(),
    allowedRoutes: strictObject({
      namespaces: withChecks(
        strictObject({
          from: z.enum(['All', 'Selector', 'Same']).default('Same'),
          selector: labelSelector.optional(),
        }),
        (n, ctx) => {
          if (n.from === 'Selector' && !has(n, 'selector'))
            addError(ctx, ['selector'], 'selector is required when from is Selector');
        },
      ).default({}),
      kinds: z
        .array(strictObject({ group: group.default(GATEWAY_GROUP), kind }))
        .max(8)
        .optional(),
    }).default({}),
  });

  const gatewaySpec = withChecks(
    strictObject({
      gatewayClassName: objectName,
      listeners: z.array(listener).min(1, 'a Gateway needs at least one listener').max(64),
      addresses: z
        .array(strictObject({ type: z.string().default('IPAddress'), value: z.string().max(253).optional() }))
        .max(16)
        .optional(),
      infrastructure: strictObject({
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
        parametersRef: strictObject({ group, kind, name: objectName }).optional(),
      }).optional(),
      allowedListeners: z.record(z.string(), z.unknown()).optional(),
      tls: z.record(z.string(), z.unknown()).optional(),
      backendTLS: z.record(z.string(), z.unknown()).optional(),
      defaultScope: z.string().optional(),
    }),
    (spec, ctx) => {
      if (!Array.isArray(spec.listeners)) return;
      const names = new Map<string, number>();
      const combos = new Map<string, number>();
      spec.listeners.forEach((l, i) => {
        if (!isRecord(l)) return;
        const p = l.protocol;
        if (typeof l.name === 'string') {
          if (names.has(l.name))
            addError(
              ctx,
              ['listeners', i, 'name'],
              `listener name "${l.name}" must be unique within the Gateway`,
            );
          else names.set(l.name, i);
        }
        const combo = `${String(l.port)}/${String(p)}/${String(l.hostname ?? '')}`;
        if (combos.has(combo))
          addError(
            ctx,
            ['listeners', i],
            `listener repeats port, protocol and hostname of listeners[${combos.get(combo)}]`,
          );
        else combos.set(combo, i);
        if ((p === 'HTTP' || p === 'TCP' || p === 'UDP') && has(l, 'tls'))
          addError(ctx, ['listeners', i, 'tls'], `tls must not be specified for protocol ${p}`);
        if ((p === 'TCP' || p === 'UDP') && has(l, 'hostname') && l.hostname !== '')
          addError(ctx, ['listeners', i, 'hostname'], `hostname must not be specified for protocol ${p}`);
        if (p === 'HTTPS' && isRecord(l.tls) && l.tls.mode !== undefined && l.tls.mode !== 'Terminate')
          addError(ctx, ['listeners', i, 'tls', 'mode'], 'tls mode must be Terminate for protocol HTTPS');
        if (p === 'HTTPS' && !has(l, 'tls'))
          addError(ctx, ['listeners', i], 'tls is required for protocol HTTPS');
      });
    },
  );

  // ---------------------------------------------------------------------------------------------
  // GatewayClass and ReferenceGrant

  const CONTROLLER_NAME =
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

  const gatewayClassSpec = strictObject({
    controllerName: z
      .string()
      .max(253)
      .regex(
        CONTROLLER_NAME,
        'controllerName must be a domain-prefixed path such as umbra.dev/gateway-controller',
      ),
    parametersRef: strictObject({
      group,
      kind,
      name: objectName,
      namespace: namespace.optional(),
    }).optional(),
    description: z.string().max(64).optional(),
  });

  const referenceGrantSpec = strictObject({
    from: z.array(strictObject({ group, kind, namespace })).min(1).max(16),
    to: z
      .array(strictObject({ group, kind, name: objectName.optional() }))
      .min(1)
      .max(16),
  });

  // ---------------------------------------------------------------------------------------------
  // GRPCRoute (gateway.networking.k8s.io/v1, grpcroute_types.go)

  /** Exact service names: `^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$` (GRPCMethodMatch CEL rule). */
  const GRPC_SERVICE = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
  const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

  const grpcMethodMatch = strictObject({
    type: z.enum(['Exact', 'RegularExpression']).default('Exact'),
    service: z.string().max(1024).optional(),
    method: z.string().max(1024).optional(),
  }).superRefine((m, ctx) => {
    if (!m.service && !m.method) addError(ctx, [], "one or both of 'service' or 'method' must be specified");
    if (m.type === 'Exact') {
      if (m.service && !GRPC_SERVICE.test(m.service))
        addError(
          ctx,
          ['service'],
          `service "${m.service}" contains characters not allowed in a gRPC service name`,
        );
      if (m.method && !GRPC_METHOD.test(m.method))
        addError(
          ctx,
          ['method'],
          `method "${m.method}" contains characters not allowed in a gRPC method name`,
        );
    } else
      for (const field of ['service', 'method'] as const) {
        const v = m[field];
        if (v === undefined) continue;
        const r = re2.safeParse(v);
        if (!r.success) for (const i of r.error.issues) ctx.addIssue({ ...i, path: [field] } as z.IssueData);
      }
  });

  const grpcRouteMatch = strictObject({
    method: grpcMethodMatch.optional(),
    headers: z.array(httpHeaderMatch).max(16).optional(),
  });

  const GRPC_FILTER_FIELDS = {
    RequestHeaderModifier: 'requestHeaderModifier',
    ResponseHeaderModifier: 'responseHeaderModifier',
    RequestMirror: 'requestMirror',
    ExtensionRef: 'extensionRef',
  } as const;
  type GrpcFilterType = keyof typeof GRPC_FILTER_FIELDS;
  const GRPC_FILTER_TYPES = Object.keys(GRPC_FILTER_FIELDS) as [GrpcFilterType, ...GrpcFilterType[]];

  /** A GRPCRoute filter: `type` must name the one configuration field that is set. */
  const grpcRouteFilter = withChecks(
    strictObject({
      type: z.enum(GRPC_FILTER_TYPES),
      requestHeaderModifier: headerListOps.optional(),
      responseHeaderModifier: headerListOps.optional(),
      requestMirror: httpRequestMirrorFilter.optional(),
      extensionRef: localObjectReference.optional(),
    }),
    oneFieldPerType(GRPC_FILTER_FIELDS),
  );

  /** RequestHeaderModifier and ResponseHeaderModifier may appear once in a filter list (CEL rules). */
  function singletonGrpcFilters(filters: unknown, ctx: z.RefinementCtx, at: (string | number)[]): void {
    if (!Array.isArray(filters)) return;
    const types = filters.filter(isRecord).map((f) => f.type);
    for (const t of ['RequestHeaderModifier', 'ResponseHeaderModifier'])
      if (types.filter((x) => x === t).length > 1) addError(ctx, at, `the ${t} filter cannot be repeated`);
  }

  const grpcBackendRef = withChecks(
    strictObject({
      ...backendObjectShape,
      weight: backendWeight,
      filters: z.array(grpcRouteFilter).max(16).optional(),
    }),
    (b, ctx) => {
      requirePortForService(b, ctx);
      singletonGrpcFilters(b.filters, ctx, ['filters']);
    },
  );

  const grpcRouteRule = withChecks(
    strictObject({
      name: sectionName.optional(),
      matches: z.array(grpcRouteMatch).max(8).optional(),
      filters: z.array(grpcRouteFilter).max(16).optional(),
      backendRefs: z.array(grpcBackendRef).max(16).optional(),
      sessionPersistence: sessionPersistence.optional(),
    }),
    (rule, ctx) => singletonGrpcFilters(rule.filters, ctx, ['filters']),
  );

  const grpcRouteSpec = withChecks(
    strictObject({
      parentRefs: z.array(parentReference).max(32).optional(),
      hostnames: z.array(gatewayHostname).max(16).optional(),
      rules: z.array(grpcRouteRule).max(16).default([{}]),
    }),
    routeRuleChecks,
  );
  return {
    backendObjectReference,
    gatewayClassSpec,
    gatewaySpec,
    grpcRouteMatch,
    grpcRouteRule,
    grpcRouteSpec,
    httpBackendRef,
    httpRequestMirrorFilter,
    httpRouteFilter,
    httpRouteMatch,
    httpRouteRule,
    httpRouteSpec,
    listener,
    parentReference,
    referenceGrantSpec,
  };
}

type Built = ReturnType<typeof buildGatewayApiSchemas>;

export type HTTPRouteSpec = z.output<Built['httpRouteSpec']>;
export type HTTPRouteRule = z.output<Built['httpRouteRule']>;
export type HTTPRouteMatch = z.output<Built['httpRouteMatch']>;
export type HTTPRouteFilter = z.output<Built['httpRouteFilter']>;
export type HTTPBackendRef = z.output<Built['httpBackendRef']>;
export type HTTPRequestMirrorFilter = z.output<Built['httpRequestMirrorFilter']>;
export type ParentReference = z.output<Built['parentReference']>;
export type BackendObjectReference = z.output<Built['backendObjectReference']>;
export type GatewaySpec = z.output<Built['gatewaySpec']>;
export type Listener = z.output<Built['listener']>;
export type GatewayClassSpec = z.output<Built['gatewayClassSpec']>;
export type ReferenceGrantSpec = z.output<Built['referenceGrantSpec']>;
export type GRPCRouteSpec = z.output<Built['grpcRouteSpec']>;
export type GRPCRouteRule = z.output<Built['grpcRouteRule']>;
export type GRPCRouteMatch = z.output<Built['grpcRouteMatch']>;
