// The kinds Umbra lists and watches on the API server: group, version, plural and scope of each,
// and the REST paths they live at (k8s API conventions: /api/v1 for core, /apis/GROUP/VERSION).

export interface WatchedKind {
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Pods are not configuration: they become workloads behind Services. */
  readonly role: 'resource' | 'workload';
  /** Umbra writes this kind's status subresource (Gateway API objects). */
  readonly writesStatus?: boolean;
  /** Asked of the API server on list and watch, so other objects of the kind never reach Umbra. */
  readonly fieldSelector?: string;
}

const ISTIO = 'networking.istio.io';
const GATEWAY = 'gateway.networking.k8s.io';

/**
 * Watched kinds. Istio's v1 API is served since Istio 1.22 and Gateway API v1 since 1.0; older
 * clusters answer 404, which Umbra reports and treats as "no objects of that kind".
 */
export const WATCHED_KINDS: readonly WatchedKind[] = [
  { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true, role: 'resource' },
  {
    kind: 'EndpointSlice',
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    namespaced: true,
    role: 'resource',
  },
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true, role: 'workload' },
  {
    kind: 'VirtualService',
    group: ISTIO,
    version: 'v1',
    plural: 'virtualservices',
    namespaced: true,
    role: 'resource',
  },
  {
    kind: 'DestinationRule',
    group: ISTIO,
    version: 'v1',
    plural: 'destinationrules',
    namespaced: true,
    role: 'resource',
  },
  {
    kind: 'WorkloadEntry',
    group: ISTIO,
    version: 'v1',
    plural: 'workloadentries',
    namespaced: true,
    role: 'resource',
  },
  {
    kind: 'ServiceEntry',
    group: ISTIO,
    version: 'v1',
    plural: 'serviceentries',
    namespaced: true,
    role: 'resource',
  },
  {
    kind: 'HTTPRoute',
    group: GATEWAY,
    version: 'v1',
    plural: 'httproutes',
    namespaced: true,
    role: 'resource',
    writesStatus: true,
  },
  {
    kind: 'GRPCRoute',
    group: GATEWAY,
    version: 'v1',
    plural: 'grpcroutes',
    namespaced: true,
    role: 'resource',
    writesStatus: true,
  },
  {
    kind: 'Gateway',
    group: GATEWAY,
    version: 'v1',
    plural: 'gateways',
    namespaced: true,
    role: 'resource',
    writesStatus: true,
  },
  {
    kind: 'GatewayClass',
    group: GATEWAY,
    version: 'v1',
    plural: 'gatewayclasses',
    namespaced: false,
    role: 'resource',
  },
  // After the Gateway API one: lookups by kind name alone (status writing) find that one first.
  {
    kind: 'Gateway',
    group: ISTIO,
    version: 'v1',
    plural: 'gateways',
    namespaced: true,
    role: 'resource',
  },
  {
    kind: 'ReferenceGrant',
    group: GATEWAY,
    version: 'v1beta1',
    plural: 'referencegrants',
    namespaced: true,
    role: 'resource',
  },
  // Certificates of HTTPS listeners (Gateway certificateRefs, Istio credentialName). Only TLS
  // Secrets are listed: service-account tokens and other Secrets never enter Umbra's memory.
  {
    kind: 'Secret',
    group: '',
    version: 'v1',
    plural: 'secrets',
    namespaced: true,
    role: 'resource',
    fieldSelector: 'type=kubernetes.io/tls',
  },
  {
    kind: 'MirrorPolicy',
    group: 'umbra.dev',
    version: 'v1alpha1',
    plural: 'mirrorpolicies',
    namespaced: true,
    role: 'resource',
  },
];

export function apiVersionOf(k: WatchedKind): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** Collection path: all namespaces when `namespace` is undefined (or the kind is cluster-scoped). */
export function collectionPath(k: WatchedKind, namespace?: string): string {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  if (k.namespaced && namespace !== undefined)
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${k.plural}`;
  return `${base}/${k.plural}`;
}

/** Path of one object (and, with `sub`, of its subresource such as "status"). */
export function objectPath(k: WatchedKind, namespace: string, name: string, sub?: string): string {
  const path = `${collectionPath(k, k.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
  return sub ? `${path}/${sub}` : path;
}

export function findKind(kind: string, group: string): WatchedKind | undefined {
  return WATCHED_KINDS.find((k) => k.kind === kind && k.group === group);
}
