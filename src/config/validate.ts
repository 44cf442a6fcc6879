// Per-document validation: picks the schema for apiVersion/kind, turns every schema problem into a
// ConfigIssue with its JSON path and line, and warns about fields Umbra accepts but ignores.
// Cross-resource checks (references between resources) belong to translation, not here.

import { z } from 'zod';
import type { ConfigIssue, Severity } from './issues.js';
import { resourceId, type ObjectMeta, type Resource, type SourceRef } from './resource.js';
import {
  didYouMean,
  isRecord,
  nameProblem,
  strictObject,
  type IssueParams,
  type NameRule,
} from './schemas/common.js';
import {
  endpointSliceShape,
  namespaceSpec,
  objectMeta,
  secretShape,
  serviceSpec,
  type EndpointSliceSpec,
  type NamespaceSpec,
  type SecretSpec,
  type ServiceSpec,
} from './schemas/kubernetes.js';
import {
  buildIstioSchemas,
  workloadEntrySpec,
  type DestinationRuleSpec,
  type IstioGatewaySpec,
  type ServiceEntrySpec,
  type VirtualServiceSpec,
  type WorkloadEntrySpec,
} from './schemas/istio.js';
import {
  GATEWAY_GROUP,
  buildGatewayApiSchemas,
  type GatewayClassSpec,
  type GatewaySpec,
  type GRPCRouteSpec,
  type HTTPRouteSpec,
  type ReferenceGrantSpec,
} from './schemas/gateway-api.js';
import { buildUmbraSchemas, type MirrorPolicySpec } from './schemas/umbra.js';
import { formatPath, parsePath, type PathSegment } from './yaml-source.js';

export const ISTIO_GROUP = 'networking.istio.io';
export const UMBRA_GROUP = 'umbra.dev';
export { GATEWAY_GROUP };

// ---------------------------------------------------------------------------------------------
// Kinds

interface KindDef {
  readonly group: string;
  readonly kind: string;
  readonly versions: readonly string[];
  /**
   * Schema of `spec`, or of the top-level fields listed in `inline` (EndpointSlice). Built on the
   * first document of the kind: the Istio, Gateway API and Umbra schemas are built per group when
   * first needed (README "Memory": a configuration that uses one API does not hold the others').
   */
  readonly spec: () => z.ZodTypeAny;
  readonly inline?: z.ZodRawShape;
  readonly specRequired: boolean;
  readonly clusterScoped?: boolean;
  readonly nameRule: NameRule;
}

/** Schema groups built so far, by name. */
const builtGroups = new Map<string, unknown>();

/** `build` run once, on first call: the group's schemas are held only once a document needs them. */
function schemaGroup<T>(name: string, build: () => T): () => T {
  return () => {
    if (!builtGroups.has(name)) builtGroups.set(name, build());
    return builtGroups.get(name) as T;
  };
}

const istioSchemas = schemaGroup('istio', buildIstioSchemas);
const gatewayApiSchemas = schemaGroup('gateway-api', buildGatewayApiSchemas);
const umbraSchemas = schemaGroup('umbra', buildUmbraSchemas);

/** The schema groups this process has built (a configuration builds only those it uses). */
export function builtSchemaGroups(): string[] {
  return [...builtGroups.keys()];
}

/**
 * Forgets the built schemas and envelopes; the next document builds what it needs again (a few
 * milliseconds). Called once a process is serving (runtime/settle-heap.ts): between reloads the
 * schemas are about 1 MiB of heap that nothing uses.
 */
export function releaseBuiltSchemas(): void {
  builtGroups.clear();
  envelopes.clear();
}

const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'];
const GATEWAY_VERSIONS = ['v1', 'v1beta1'];

/** Every kind Umbra accepts, with its group and versions. */
export const KINDS: readonly KindDef[] = [
  {
    group: '',
    kind: 'Service',
    versions: ['v1'],
    spec: () => serviceSpec,
    specRequired: true,
    nameRule: 'label1035',
  },
  {
    group: '',
    kind: 'Namespace',
    versions: ['v1'],
    spec: () => namespaceSpec,
    specRequired: false,
    clusterScoped: true,
    nameRule: 'label',
  },
  {
    group: 'discovery.k8s.io',
    kind: 'EndpointSlice',
    versions: ['v1'],
    spec: () => z.object(endpointSliceShape),
    inline: endpointSliceShape,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: '',
    kind: 'Secret',
    versions: ['v1'],
    spec: () => z.object(secretShape),
    inline: secretShape,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: ISTIO_GROUP,
    kind: 'VirtualService',
    versions: ISTIO_VERSIONS,
    spec: () => istioSchemas().virtualServiceSpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: ISTIO_GROUP,
    kind: 'DestinationRule',
    versions: ISTIO_VERSIONS,
    spec: () => istioSchemas().destinationRuleSpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: ISTIO_GROUP,
    kind: 'ServiceEntry',
    versions: ISTIO_VERSIONS,
    spec: () => istioSchemas().serviceEntrySpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: ISTIO_GROUP,
    kind: 'WorkloadEntry',
    versions: ISTIO_VERSIONS,
    spec: () => workloadEntrySpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: ISTIO_GROUP,
    kind: 'Gateway',
    versions: ISTIO_VERSIONS,
    spec: () => istioSchemas().istioGatewaySpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: GATEWAY_GROUP,
    kind: 'HTTPRoute',
    versions: GATEWAY_VERSIONS,
    spec: () => gatewayApiSchemas().httpRouteSpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: GATEWAY_GROUP,
    kind: 'GRPCRoute',
    versions: ['v1'],
    spec: () => gatewayApiSchemas().grpcRouteSpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: GATEWAY_GROUP,
    kind: 'Gateway',
    versions: GATEWAY_VERSIONS,
    spec: () => gatewayApiSchemas().gatewaySpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: GATEWAY_GROUP,
    kind: 'GatewayClass',
    versions: GATEWAY_VERSIONS,
    spec: () => gatewayApiSchemas().gatewayClassSpec,
    specRequired: true,
    clusterScoped: true,
    nameRule: 'subdomain',
  },
  {
    group: GATEWAY_GROUP,
    kind: 'ReferenceGrant',
    versions: ['v1beta1', 'v1'],
    spec: () => gatewayApiSchemas().referenceGrantSpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
  {
    group: UMBRA_GROUP,
    kind: 'MirrorPolicy',
    versions: ['v1alpha1'],
    spec: () => umbraSchemas().mirrorPolicySpec,
    specRequired: true,
    nameRule: 'subdomain',
  },
];

/** Spec type of each kind, for `ofKind`. `Gateway` means the Gateway API one; see IstioGatewaySpec. */
export interface SpecByKind {
  Service: ServiceSpec;
  Namespace: NamespaceSpec;
  EndpointSlice: EndpointSliceSpec;
  Secret: SecretSpec;
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
  HTTPRoute: HTTPRouteSpec;
  GRPCRoute: GRPCRouteSpec;
  Gateway: GatewaySpec;
  GatewayClass: GatewayClassSpec;
  ReferenceGrant: ReferenceGrantSpec;
  MirrorPolicy: MirrorPolicySpec;
}
export type KnownKind = keyof SpecByKind;

/** Workload kinds: Umbra runs no containers, so these get a pointer to WorkloadEntry instead. */
export const WORKLOAD_KINDS = [
  'Deployment',
  'Pod',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
];

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function apiVersionOf(def: KindDef, version: string): string {
  return def.group ? `${def.group}/${version}` : version;
}

/**
 * Resources of one kind. `Gateway` selects Gateway API gateways unless `group` says otherwise
 * (Istio's Gateway has the same kind: pass group "networking.istio.io").
 */
export function ofKind<K extends KnownKind>(
  resources: readonly Resource[],
  kind: K,
  group?: string,
): Resource<SpecByKind[K]>[];
export function ofKind<T>(resources: readonly Resource[], kind: string, group?: string): Resource<T>[];
export function ofKind(resources: readonly Resource[], kind: string, group?: string): Resource[] {
  const g = group ?? (kind === 'Gateway' ? GATEWAY_GROUP : undefined);
  return resources.filter((r) => r.kind === kind && (g === undefined || groupOf(r.apiVersion) === g));
}

export function isKind<K extends KnownKind>(r: Resource, kind: K): r is Resource<SpecByKind[K]> {
  return r.kind === kind && (kind !== 'Gateway' || groupOf(r.apiVersion) === GATEWAY_GROUP);
}

export function isIstioGateway(r: Resource): r is Resource<IstioGatewaySpec> {
  return r.kind === 'Gateway' && groupOf(r.apiVersion) === ISTIO_GROUP;
}

// ---------------------------------------------------------------------------------------------
// Fields Umbra accepts but does not implement

export interface UnsupportedField {
  readonly kind: string;
  /** Only for this API group (the kind `Gateway` exists in two). */
  readonly group?: string;
  /**
   * Path pattern: `spec.http[*].retries.backoff`; `[*]` is any list index, `*` any map key,
   * `**` any depth. An empty pattern means the whole resource.
   */
  readonly path: string;
  /** Only warn when the value satisfies this (e.g. only some enum values are unsupported). */
  readonly when?: (value: unknown) => boolean;
  /** Replaces the default wording after the path. */
  readonly message?: string;
}

const NOT_ACCEPTED =
  'not supported by Umbra; the route is not served (status Accepted=False, UnsupportedValue)';
/** A non-empty gateways list without `mesh`: Istio applies it to gateways only, never to sidecars. */
const noMesh = (v: unknown) => Array.isArray(v) && v.length > 0 && !v.includes('mesh');

/**
 * Valid API fields the proxy does not implement. Each is reported as a warning ("not supported by
 * Umbra; ignored") instead of being dropped silently. Edit this list as features land.
 */
export const UNSUPPORTED_FIELDS: readonly UnsupportedField[] = [
  // VirtualService
  { kind: 'VirtualService', path: 'spec.tls' },
  { kind: 'VirtualService', path: 'spec.tcp' },
  // In the mesh, as Istio for a sidecar, Umbra applies no rule meant only for gateways and no match
  // block narrowed to client labels or a client namespace (its clients have neither). Rules bound to
  // Istio Gateways apply on the gateways Umbra serves (`umbra run --labels`, istio-gateways.ts).
  {
    kind: 'VirtualService',
    path: 'spec.gateways',
    when: noMesh,
    message:
      'without "mesh" this VirtualService is not applied to the mesh, only on the Istio Gateways it names (served when umbra run --labels matches their selector)',
  },
  { kind: 'VirtualService', path: 'spec.exportTo' },
  {
    kind: 'VirtualService',
    path: 'spec.http[*].match[*].gateways',
    when: noMesh,
    message:
      'without "mesh" this match block never matches in the mesh; it applies only on the Istio Gateways it names',
  },
  {
    kind: 'VirtualService',
    path: 'spec.http[*].match[*].sourceLabels',
    when: (v) => typeof v === 'object' && v !== null && Object.keys(v).length > 0,
    message:
      "Umbra's mesh clients have no labels: this match block never matches in the mesh (on an Istio Gateway, Umbra's --labels are matched)",
  },
  {
    kind: 'VirtualService',
    path: 'spec.http[*].match[*].sourceNamespace',
    message:
      "Umbra's clients are taken to be in its own namespace (--namespace): this block matches only if that is the one named",
  },
  { kind: 'VirtualService', path: 'spec.http[*].match[*].statPrefix' },
  // Umbra has no localities (WorkloadEntry.locality is not used either).
  { kind: 'VirtualService', path: 'spec.http[*].retries.retryRemoteLocalities' },
  { kind: 'VirtualService', path: 'spec.http[*].fault.delay.exponentialDelay' },
  { kind: 'VirtualService', path: 'spec.http[*].fault.abort.http2Error' },
  // DestinationRule (trafficPolicy appears at the top, per subset, and per port)
  { kind: 'DestinationRule', path: 'spec.**.loadBalancer.localityLbSetting' },
  { kind: 'DestinationRule', path: 'spec.**.loadBalancer.warmupDurationSecs' },
  { kind: 'DestinationRule', path: 'spec.**.loadBalancer.warmup' },
  {
    kind: 'DestinationRule',
    path: 'spec.**.loadBalancer.simple',
    when: (v) => v === 'PASSTHROUGH',
    message: 'PASSTHROUGH is not supported by Umbra; endpoints are balanced round robin',
  },
  // Upstream connections are HTTP/1.1 over TCP as node and undici offer them.
  { kind: 'DestinationRule', path: 'spec.**.connectionPool.tcp.maxConnectionDuration' },
  { kind: 'DestinationRule', path: 'spec.**.connectionPool.tcp.tcpKeepalive.probes' },
  { kind: 'DestinationRule', path: 'spec.**.connectionPool.tcp.tcpKeepalive.interval' },
  { kind: 'DestinationRule', path: 'spec.**.tls.caCrl' },
  // MUTUAL with files or a credentialName Secret is supported (upstream-tls.ts); Istio's own mTLS is not.
  {
    kind: 'DestinationRule',
    path: 'spec.**.tls.mode',
    when: (v) => v === 'ISTIO_MUTUAL',
    message:
      'ISTIO_MUTUAL (certificates from the Istio mesh CA) is out of scope for Umbra; ignored (connections use plain TCP) — use MUTUAL with clientCertificate/privateKey or credentialName',
  },
  {
    kind: 'DestinationRule',
    path: 'spec.**.outlierDetection.consecutiveErrors',
    message:
      'deprecated: counts gateway errors (502, 503, 504) only, with 5xx ejection off unless consecutive5xxErrors is set (as istiod applies it)',
  },
  { kind: 'DestinationRule', path: 'spec.**.tunnel' },
  { kind: 'DestinationRule', path: 'spec.**.proxyProtocol' },
  { kind: 'DestinationRule', path: 'spec.**.retryBudget' },
  { kind: 'DestinationRule', path: 'spec.exportTo' },
  { kind: 'DestinationRule', path: 'spec.workloadSelector' },
  // ServiceEntry
  { kind: 'ServiceEntry', path: 'spec.exportTo' },
  { kind: 'ServiceEntry', path: 'spec.subjectAltNames' },
  { kind: 'ServiceEntry', path: 'spec.endpoints[*].network' },
  { kind: 'ServiceEntry', path: 'spec.endpoints[*].locality' },
  { kind: 'ServiceEntry', path: 'spec.endpoints[*].weight' },
  { kind: 'ServiceEntry', path: 'spec.endpoints[*].serviceAccount' },
  // WorkloadEntry: Umbra balances endpoints evenly and has no networks, localities or identities.
  { kind: 'WorkloadEntry', path: 'spec.network' },
  { kind: 'WorkloadEntry', path: 'spec.locality' },
  { kind: 'WorkloadEntry', path: 'spec.weight' },
  { kind: 'WorkloadEntry', path: 'spec.serviceAccount' },
  // Istio Gateway (served as a gateway workload, istio-gateways.ts): HTTP and HTTPS servers, TLS
  // SIMPLE with a credentialName Secret, Umbra's TLS defaults (docs/tls.md).
  {
    kind: 'Gateway',
    group: ISTIO_GROUP,
    path: 'spec.servers[*].tls.mode',
    when: (v) => v !== 'SIMPLE',
    message:
      'only SIMPLE (TLS terminated with a credentialName Secret) is supported by Umbra; the server is not served',
  },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].port.targetPort' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].defaultEndpoint' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.serverCertificate' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.privateKey' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.caCertificates' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.caCrl' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.credentialNames' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.tlsCertificates' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.subjectAltNames' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.verifyCertificateSpki' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.verifyCertificateHash' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.minProtocolVersion' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.maxProtocolVersion' },
  { kind: 'Gateway', group: ISTIO_GROUP, path: 'spec.servers[*].tls.cipherSuites' },
  // Gateway API Gateway: TLS termination uses Umbra's defaults (docs/tls.md); no client certificates.
  { kind: 'Gateway', group: GATEWAY_GROUP, path: 'spec.listeners[*].tls.options' },
  {
    kind: 'Gateway',
    group: GATEWAY_GROUP,
    path: 'spec.listeners[*].tls.frontendValidation',
    message:
      'client certificate validation is not supported by Umbra; clients are not asked for certificates',
  },
  // HTTPRoute
  { kind: 'HTTPRoute', path: 'spec.rules[*].sessionPersistence' },
  // Filters Umbra cannot run must not be skipped (HTTPRouteFilter): the route is not accepted at all.
  { kind: 'HTTPRoute', path: 'spec.rules[*].filters[*].extensionRef', message: NOT_ACCEPTED },
  { kind: 'HTTPRoute', path: 'spec.rules[*].filters[*].externalAuth', message: NOT_ACCEPTED },
  { kind: 'HTTPRoute', path: 'spec.rules[*].backendRefs[*].filters[*].extensionRef', message: NOT_ACCEPTED },
  // GRPCRoute: the same rules as HTTPRoute.
  { kind: 'GRPCRoute', path: 'spec.rules[*].sessionPersistence' },
  { kind: 'GRPCRoute', path: 'spec.rules[*].filters[*].extensionRef', message: NOT_ACCEPTED },
  { kind: 'GRPCRoute', path: 'spec.rules[*].backendRefs[*].filters[*].extensionRef', message: NOT_ACCEPTED },
];

function patternSegments(pattern: string): string[] {
  return pattern === ''
    ? []
    : pattern
        .replace(/\[\*\]/g, '.[*]')
        .split('.')
        .filter(Boolean);
}

/** Every concrete path in `value` matching the pattern segments, with the value found there. */
function matchPaths(
  value: unknown,
  segs: readonly string[],
  at: PathSegment[],
  out: [PathSegment[], unknown][],
): void {
  if (segs.length === 0) {
    out.push([at, value]);
    return;
  }
  const [head, ...rest] = segs;
  if (head === '**') {
    matchPaths(value, rest, at, out);
    if (Array.isArray(value)) value.forEach((v, i) => matchPaths(v, segs, [...at, i], out));
    else if (isRecord(value))
      for (const [k, v] of Object.entries(value)) matchPaths(v, segs, [...at, k], out);
    return;
  }
  if (head === '[*]') {
    if (Array.isArray(value)) value.forEach((v, i) => matchPaths(v, rest, [...at, i], out));
    return;
  }
  if (!isRecord(value)) return;
  if (head === '*') {
    for (const [k, v] of Object.entries(value)) matchPaths(v, rest, [...at, k], out);
    return;
  }
  if (value[head] !== undefined && value[head] !== null) matchPaths(value[head], rest, [...at, head], out);
}

interface RawIssue {
  severity: Severity;
  path: PathSegment[];
  message: string;
  hint?: string;
}

function unsupportedWarnings(kind: string, group: string, doc: Record<string, unknown>): RawIssue[] {
  const out: RawIssue[] = [];
  const seen = new Set<string>();
  for (const u of UNSUPPORTED_FIELDS) {
    if (u.kind !== kind || (u.group !== undefined && u.group !== group)) continue;
    const found: [PathSegment[], unknown][] = [];
    matchPaths(doc, patternSegments(u.path), [], found);
    for (const [path, value] of found) {
      if (u.when && !u.when(value)) continue;
      const key = formatPath(path);
      if (seen.has(key)) continue; // `**` can reach a node twice
      seen.add(key);
      out.push({ severity: 'warning', path, message: u.message ?? 'not supported by Umbra; ignored' });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Warnings that need more than a path (run on the raw document, whatever its errors)

function virtualServiceLint(spec: Record<string, unknown>): RawIssue[] {
  const out: RawIssue[] = [];
  // A VirtualService without hosts is a delegate; translation reports one no rule delegates to.
  if (!Array.isArray(spec.http)) return out;
  spec.http.forEach((raw, i) => {
    if (!isRecord(raw)) return;
    const at = (...p: PathSegment[]) => ['spec', 'http', i, ...p];
    const hasMirror = raw.mirror !== undefined && raw.mirror !== null;
    if (raw.mirrorPercent !== undefined && !hasMirror)
      out.push({
        severity: 'warning',
        path: at('mirrorPercent'),
        message: 'mirrorPercent has no effect without mirror',
      });
    else if (raw.mirrorPercent !== undefined && raw.mirrorPercentage !== undefined)
      out.push({
        severity: 'warning',
        path: at('mirrorPercent'),
        message: 'mirrorPercent is deprecated and overridden by mirrorPercentage',
      });
    else if (raw.mirrorPercent !== undefined)
      out.push({
        severity: 'warning',
        path: at('mirrorPercent'),
        message: 'mirrorPercent is deprecated',
        hint: 'use mirrorPercentage: {value: N}',
      });
    if (raw.mirrorPercentage !== undefined && !hasMirror)
      out.push({
        severity: 'warning',
        path: at('mirrorPercentage'),
        message: Array.isArray(raw.mirrors)
          ? 'mirrorPercentage applies only to mirror; it has no effect on mirrors[]'
          : 'mirrorPercentage has no effect without mirror',
        hint: Array.isArray(raw.mirrors) ? 'set mirrors[].percentage instead' : undefined,
      });
    const emptyPercent = (p: unknown, path: PathSegment[]) => {
      if (isRecord(p) && p.value === undefined)
        out.push({
          severity: 'warning',
          path,
          message: 'a percentage without value means 0 %',
          hint: 'set value: 100 to mirror everything, or remove the field',
        });
    };
    emptyPercent(raw.mirrorPercentage, at('mirrorPercentage'));
    if (Array.isArray(raw.mirrors))
      raw.mirrors.forEach(
        (m, j) => isRecord(m) && emptyPercent(m.percentage, at('mirrors', j, 'percentage')),
      );
    const hasForward = Array.isArray(raw.route) && raw.route.length > 0;
    if (!hasForward && (hasMirror || Array.isArray(raw.mirrors)))
      out.push({
        severity: 'warning',
        path: at(hasMirror ? 'mirror' : 'mirrors'),
        message: 'mirrors only copy forwarded requests; this rule forwards nothing',
      });
  });
  return out;
}

const LINTS: Readonly<Record<string, (spec: Record<string, unknown>) => RawIssue[]>> = {
  VirtualService: virtualServiceLint,
};

// ---------------------------------------------------------------------------------------------
// zod issues → ConfigIssues

function typeName(received: string): string {
  return received === 'nan' ? 'NaN' : received;
}

function fromZod(issue: z.ZodIssue): RawIssue {
  const path = issue.path as PathSegment[];
  const params = (issue.code === z.ZodIssueCode.custom ? issue.params : undefined) as IssueParams | undefined;
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      if (issue.received === 'undefined')
        return { severity: 'error', path, message: 'required field is missing' };
      if (issue.received === 'nan')
        return { severity: 'error', path, message: 'must be a finite number, got NaN' };
      return {
        severity: 'error',
        path,
        message: issue.message.startsWith('Expected ')
          ? `expected ${issue.expected}, got ${typeName(issue.received)}`
          : `${issue.message} (got ${typeName(issue.received)})`,
        hint:
          issue.expected === 'string' && (issue.received === 'number' || issue.received === 'boolean')
            ? 'quote the value to make it a string'
            : undefined,
      };
    case z.ZodIssueCode.invalid_enum_value: {
      const options = issue.options.map(String);
      const near = didYouMean(String(issue.received), options);
      return {
        severity: 'error',
        path,
        message: `"${String(issue.received)}" is not one of ${options.join(', ')}`,
        hint: near ? `did you mean "${near}"?` : undefined,
      };
    }
    case z.ZodIssueCode.unrecognized_keys:
      return { severity: 'error', path, message: `unknown field(s): ${issue.keys.join(', ')}` };
    case z.ZodIssueCode.not_finite:
      return {
        severity: 'error',
        path,
        message: issue.message === 'Number must be finite' ? 'must be a finite number' : issue.message,
      };
    case z.ZodIssueCode.too_small:
    case z.ZodIssueCode.too_big: {
      const big = issue.code === z.ZodIssueCode.too_big;
      const n = big ? issue.maximum : issue.minimum;
      if (
        !issue.message.startsWith('Number must') &&
        !issue.message.startsWith('Array must') &&
        !issue.message.startsWith('String must')
      )
        return { severity: 'error', path, message: issue.message };
      const cmp = big ? (issue.inclusive ? '≤' : '<') : issue.inclusive ? '≥' : '>';
      const what = issue.type === 'array' ? 'number of items' : issue.type === 'string' ? 'length' : 'value';
      return { severity: 'error', path, message: `${what} must be ${cmp} ${String(n)}` };
    }
    case z.ZodIssueCode.custom:
      return { severity: params?.severity ?? 'error', path, message: issue.message, hint: params?.hint };
    default:
      return { severity: 'error', path, message: issue.message };
  }
}

// ---------------------------------------------------------------------------------------------
// Documents

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

const KIND_NAMES = [...new Set(KINDS.map((k) => k.kind))];

function workloadKindIssue(doc: Record<string, unknown>, kind: string): RawIssue {
  const spec = isRecord(doc.spec) ? doc.spec : {};
  const template =
    kind === 'CronJob' && isRecord(spec.jobTemplate) && isRecord(spec.jobTemplate.spec)
      ? spec.jobTemplate.spec
      : spec;
  const tmplMeta =
    isRecord(template.template) && isRecord(template.template.metadata)
      ? template.template.metadata
      : undefined;
  const labelsRaw =
    kind === 'Pod' ? (isRecord(doc.metadata) ? doc.metadata.labels : undefined) : tmplMeta?.labels;
  const labels = isRecord(labelsRaw) ? Object.entries(labelsRaw).map(([k, v]) => `${k}: ${String(v)}`) : [];
  const labelText = labels.length ? `{${labels.join(', ')}}` : 'the pod template labels';
  const podSpec =
    kind === 'Pod'
      ? spec
      : isRecord(template.template) && isRecord(template.template.spec)
        ? template.template.spec
        : {};
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers.filter(isRecord) : [];
  const containerPorts = containers.flatMap((c) => (Array.isArray(c.ports) ? c.ports.filter(isRecord) : []));
  const firstPort = containerPorts.find((p) => typeof p.containerPort === 'number');
  const portText = firstPort
    ? `{${typeof firstPort.name === 'string' ? firstPort.name : 'http'}: ${String(firstPort.containerPort)}}`
    : '{http: <port>}';
  return {
    severity: 'error',
    path: ['kind'],
    message: `Umbra does not run containers, so a ${kind} cannot be applied: run the workload yourself and declare its address with an Istio WorkloadEntry (networking.istio.io/v1) whose labels are the pod template's`,
    hint: `kind: WorkloadEntry, spec: {address: <host or IP>, labels: ${labelText}, ports: ${portText}}`,
  };
}

/** Finds the definition for apiVersion/kind, or explains why there is none. */
function resolveKind(apiVersion: string, kind: string, doc: Record<string, unknown>): KindDef | RawIssue {
  const group = groupOf(apiVersion);
  const version = apiVersion.slice(apiVersion.indexOf('/') + 1);
  const candidates = KINDS.filter((k) => k.kind === kind);
  if (candidates.length === 0) {
    if (WORKLOAD_KINDS.includes(kind)) return workloadKindIssue(doc, kind);
    const near = didYouMean(kind, KIND_NAMES);
    return {
      severity: 'error',
      path: ['kind'],
      message: `unknown kind "${kind}"`,
      hint: near ? `did you mean "${near}"?` : `Umbra reads ${KIND_NAMES.join(', ')}`,
    };
  }
  const def = candidates.find((k) => k.group === group && k.versions.includes(version));
  if (def) return def;
  const accepted = candidates.flatMap((k) => k.versions.map((v) => apiVersionOf(k, v)));
  return {
    severity: 'error',
    path: ['apiVersion'],
    message: `apiVersion "${apiVersion}" is not accepted for ${kind}; accepted: ${accepted.join(', ')}`,
  };
}

function envelopeFor(def: KindDef): z.ZodTypeAny {
  const base = {
    apiVersion: z.string(),
    kind: z.string(),
    metadata: objectMeta,
    // Status is written by controllers, never read from input: accepted and dropped.
    status: z.unknown().optional(),
  };
  if (def.inline) return strictObject({ ...base, ...def.inline });
  const spec = def.spec();
  return strictObject({ ...base, spec: def.specRequired ? spec : spec.optional() });
}

const envelopes = new Map<KindDef, z.ZodTypeAny>();

function identify(doc: Record<string, unknown>, fallback: string): string {
  const meta = isRecord(doc.metadata) ? doc.metadata : {};
  if (typeof doc.kind !== 'string' || typeof meta.name !== 'string') return fallback;
  return resourceId({
    kind: doc.kind,
    metadata: { name: meta.name, namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined },
  });
}

/**
 * Validates one object (a YAML document or an object from the API server). Returns the resource
 * when it has no errors; warnings and infos may come with it. Issue lines come from `source.lineOf`.
 */
export function validateObject(
  obj: unknown,
  source: SourceRef,
): { resource?: Resource; issues: ConfigIssue[] } {
  const raw: RawIssue[] = [];
  const fallbackId = source.doc > 0 ? `${source.file} (document ${source.doc + 1})` : source.file;
  let id = fallbackId;
  const finish = (resource?: Resource) => ({ resource, issues: toConfigIssues(raw, id, source) });

  if (!isRecord(obj)) {
    raw.push({
      severity: 'error',
      path: [],
      message: `a document must be a mapping (a Kubernetes object), got ${describeValue(obj)}`,
    });
    return finish();
  }
  id = identify(obj, fallbackId);
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || apiVersion === '')
    raw.push({
      severity: 'error',
      path: ['apiVersion'],
      message: apiVersion === undefined ? 'apiVersion is required' : 'apiVersion must be a non-empty string',
    });
  if (typeof kind !== 'string' || kind === '')
    raw.push({
      severity: 'error',
      path: ['kind'],
      message: kind === undefined ? 'kind is required' : 'kind must be a non-empty string',
    });
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || raw.length > 0) return finish();

  const def = resolveKind(apiVersion, kind, obj);
  if (!('versions' in def)) {
    raw.push(def);
    return finish();
  }

  let envelope = envelopes.get(def);
  if (!envelope) envelopes.set(def, (envelope = envelopeFor(def)));
  const parsed = envelope.safeParse(obj);
  if (!parsed.success) raw.push(...parsed.error.issues.map(fromZod));

  // Naming rules depend on the kind (Services need DNS-1035 labels).
  const meta = isRecord(obj.metadata) ? obj.metadata : undefined;
  if (meta && typeof meta.name === 'string' && meta.name !== '') {
    const problem = nameProblem(meta.name, def.nameRule);
    if (problem)
      raw.push({ severity: 'error', path: ['metadata', 'name'], message: `"${meta.name}" ${problem}` });
  }
  if (def.clusterScoped && meta && typeof meta.namespace === 'string')
    raw.push({
      severity: 'warning',
      path: ['metadata', 'namespace'],
      message: `${kind} is cluster-scoped; namespace ignored`,
    });

  raw.push(...unsupportedWarnings(kind, def.group, obj));
  const specRaw = def.inline ? obj : obj.spec;
  const lint = LINTS[kind];
  if (lint && isRecord(specRaw) && def.group === ISTIO_GROUP) raw.push(...lint(specRaw));

  if (!parsed.success || raw.some((i) => i.severity === 'error')) return finish();

  const data = parsed.data as Record<string, unknown> & { metadata: z.output<typeof objectMeta> };
  const metadata: ObjectMeta = {
    ...data.metadata,
    creationTimestamp: data.metadata.creationTimestamp ?? undefined,
    namespace: def.clusterScoped ? '' : (data.metadata.namespace ?? 'default'),
  };
  let spec: unknown;
  if (def.inline) {
    const inlined: Record<string, unknown> = {};
    for (const k of Object.keys(def.inline))
      if (data[k] !== undefined && data[k] !== null) inlined[k] = data[k];
    spec = inlined;
  } else spec = data.spec ?? {};
  const resource: Resource = { apiVersion, kind, metadata, spec, source };
  id = resourceId(resource);
  return finish(resource);
}

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

function toConfigIssues(raw: RawIssue[], resource: string, source: SourceRef): ConfigIssue[] {
  const seen = new Set<string>();
  const out: (ConfigIssue & { order: number })[] = [];
  raw.forEach((r, order) => {
    const path = formatPath(r.path);
    const key = `${r.severity}|${path}|${r.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    const pos = source.lineOf(path);
    out.push({
      severity: r.severity,
      resource,
      path,
      message: r.message,
      file: source.file,
      line: pos?.line,
      column: pos?.column,
      ...(r.hint ? { hint: r.hint } : {}),
      order,
    });
  });
  // Reading order of the file, then severity; issues without a line keep their place at the end.
  out.sort(
    (a, b) =>
      (a.line ?? Infinity) - (b.line ?? Infinity) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      a.order - b.order,
  );
  return out.map(({ order: _order, ...issue }) => issue);
}

/** A SourceRef whose lines come from a path-lookup function over segments (YAML documents). */
export function sourceRef(
  file: string,
  doc: number,
  lineOfSegments: (path: readonly PathSegment[]) => { line: number; column: number } | undefined,
): SourceRef {
  return { file, doc, lineOf: (path: string) => lineOfSegments(parsePath(path)) };
}
