// The one place resources become a RouteTable: registry → clusters → virtual hosts per service
// port (Istio VirtualService rules, Gateway API routes, or the default all-endpoints route).

import { isIP } from 'node:net';
import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import type {
  Cluster,
  GatewayListener,
  Route,
  RouteTable,
  VirtualHost,
  WildcardHost,
} from '../model/route-table.js';
import { ClusterBuilder } from './clusters.js';
import { addEndpointPassthrough } from './endpoint-passthrough.js';
import { qualifyHost } from './host-names.js';
import { issueAt } from './issue-at.js';
import { analyze, dedupeIssues, dropDuplicates } from './analysis.js';
import { delegateIndex } from './istio-delegates.js';
import {
  istioRetryPolicy,
  appliesToMesh,
  virtualServiceRoutes,
  type IstioContext,
  type VirtualServiceView,
} from './istio-routes.js';
import { refuseSelfMirrors } from './mirror-loops.js';
import { gatewayApiRoutes } from './gateway-api/route-source.js';
import { singleClusterRoute } from './single-cluster-route.js';
import { istioGatewayRoutes } from './istio-gateways.js';
import { DEFAULT_MIRROR, type MirrorDefaults } from './mirror-policies.js';
import {
  buildServiceRegistry,
  type MeshService,
  type ServiceRegistry,
  type Workload,
} from './service-registry.js';

export interface BuildOptions {
  /** Namespace Umbra's clients live in: short names ("httpbin") resolve here. */
  readonly namespace: string;
  readonly mirrorDefaults: MirrorDefaults;
  /** Workloads known from elsewhere (Pods, when watching Kubernetes). */
  readonly workloads?: readonly Workload[];
  readonly version: number;
  /** Umbra's own listener addresses ("address:port"): a mirror into one of them is refused (loop). */
  readonly selfAddresses?: readonly string[];
  /** Umbra's labels as a gateway workload (`--labels`): Istio Gateways whose selector matches are served. */
  readonly labels?: Readonly<Record<string, string>>;
}

export const DEFAULT_BUILD: BuildOptions = {
  namespace: 'default',
  mirrorDefaults: DEFAULT_MIRROR,
  version: 1,
};

/** Hooks the Gateway API translation plugs into (kept apart so each API has its own module). */
export interface RouteSourceContext extends IstioContext {
  readonly resources: readonly Resource[];
  readonly options: BuildOptions;
  /** Status to report on resources (Gateway API conditions), by resourceKey. */
  readonly statuses: Map<string, unknown>;
}
export interface MeshRouteSource {
  /** Routes for traffic addressed to a service port, or undefined when this source has none. */
  routesFor(svc: MeshService, port: number): Route[] | undefined;
  readonly gatewayListeners: readonly GatewayListener[];
}
export type MeshRouteSourceFactory = (ctx: RouteSourceContext) => MeshRouteSource;

const extraSources: MeshRouteSourceFactory[] = [];
/** Registers another API's translation (Gateway API registers itself on import). */
export function registerRouteSource(f: MeshRouteSourceFactory): void {
  extraSources.push(f);
}
// Registered here, the one place every caller (run, validate, admin, tests) goes through. Its
// routes win over a VirtualService for a service port only where Istio's would (gateway-api/mesh.ts).
registerRouteSource(gatewayApiRoutes);
// Istio Gateways selecting Umbra's labels, with the VirtualServices bound to them (issue 15).
registerRouteSource(istioGatewayRoutes);

function byAge(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = `${a.metadata.namespace}/${a.metadata.name}`;
  const nb = `${b.metadata.namespace}/${b.metadata.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** Istio applies one VirtualService per host for sidecars; the oldest wins and the rest are reported. */
function virtualServicesByHost(
  vss: readonly Resource[],
  registry: ServiceRegistry,
  issues: ConfigIssue[],
): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const vs of [...vss].sort(byAge)) {
    // Bound to gateways only (no `mesh`): Istio does not apply it to sidecars, nor does Umbra.
    if (!appliesToMesh((vs.spec as VirtualServiceView).gateways)) continue;
    const hosts = (vs.spec as VirtualServiceView).hosts ?? [];
    hosts.forEach((h, i) => {
      const key = registry.resolve(h, vs.metadata.namespace)?.fqdn ?? qualifyHost(h, vs.metadata.namespace);
      const prev = out.get(key);
      if (prev) {
        issues.push(
          issueAt(
            vs,
            `spec.hosts[${i}]`,
            'warning',
            `host ${key} is already routed by VirtualService ${prev.metadata.namespace}/${prev.metadata.name}; this one is ignored for it`,
            'merge the rules into one VirtualService',
          ),
        );
        return;
      }
      out.set(key, vs);
    });
  }
  return out;
}

/** The port a client means when it names the service without one: 80 if served, else the first. */
function defaultPort(svc: MeshService): number | undefined {
  return svc.ports.find((p) => p.port === 80)?.port ?? svc.ports[0]?.port;
}

export interface BuildResult {
  readonly table: RouteTable;
  readonly issues: ConfigIssue[];
  readonly statuses: Map<string, unknown>;
}

export function buildRouteTable(
  resources: readonly Resource[],
  options: BuildOptions = DEFAULT_BUILD,
): BuildResult {
  const issues: ConfigIssue[] = [];
  // One definition per identity, the last one as the loader would keep it (reported by analysis.ts).
  resources = dropDuplicates(resources, issues);
  const registry = buildServiceRegistry(resources, options.workloads ?? [], issues);
  const clusters = new ClusterBuilder(
    resources.filter((r) => r.kind === 'DestinationRule'),
    issues,
    resources,
    options.namespace,
  );
  const ctx: RouteSourceContext = {
    registry,
    clusters,
    mirrorPolicies: resources.filter((r) => r.kind === 'MirrorPolicy'),
    delegates: delegateIndex(resources),
    clientNamespace: options.namespace,
    mirrorDefaults: options.mirrorDefaults,
    issues,
    resources,
    options,
    statuses: new Map(),
  };
  const vsByHost = virtualServicesByHost(
    resources.filter((r) => r.kind === 'VirtualService'),
    registry,
    issues,
  );
  const sources = extraSources.map((f) => f(ctx));
  const hostIndex = new Map<string, VirtualHost>();
  const wildcardHosts: WildcardHost[] = [];

  for (const svc of registry.services) {
    const vs = vsByHost.get(svc.fqdn);
    const dflt = defaultPort(svc);
    for (const sp of svc.ports) {
      const routes =
        sources.map((s) => s.routesFor(svc, sp.port)).find((r) => r !== undefined) ??
        (vs ? virtualServiceRoutes(vs, ctx, sp.port) : defaultRoutes(svc, sp.port, clusters));
      const vhost: VirtualHost = {
        name: `${svc.fqdn}:${sp.port}`,
        service: { name: svc.name, namespace: svc.namespace, fqdn: svc.fqdn, port: sp.port },
        routes,
      };
      for (const alias of svc.aliases) {
        // A bare short name means "a service in my namespace", as kube-dns search paths do.
        if (alias === svc.name && svc.namespace !== options.namespace && svc.origin.kind === 'Service')
          continue;
        hostIndex.set(`${alias}:${sp.port}`, vhost);
        if (sp.port === dflt) hostIndex.set(alias, vhost);
      }
    }
  }

  // VirtualService hosts that name no service (external names, wildcards) route on any port.
  for (const [host, vs] of vsByHost) {
    if (registry.resolve(host, vs.metadata.namespace)) continue;
    const vhost: VirtualHost = { name: host, routes: virtualServiceRoutes(vs, ctx, undefined) };
    if (host.startsWith('*')) wildcardHosts.push({ suffix: host.slice(1), vhost });
    else {
      // An IPv6 literal host ("::1") is addressed in brackets ("[::1]:80", RFC 3986 §3.2.2).
      const key = isIP(host) === 6 ? `[${host}]` : host;
      hostIndex.set(key, vhost);
      hostIndex.set(`${key}:*`, vhost);
    }
  }
  wildcardHosts.sort((a, b) => b.suffix.length - a.suffix.length);
  addEndpointPassthrough(registry.services, clusters, hostIndex, options.selfAddresses ?? []);

  const table: RouteTable = Object.freeze({
    version: options.version,
    hostIndex,
    wildcardHosts,
    clusters: clusters.clusters as ReadonlyMap<string, Cluster>,
    gatewayListeners: onePerPort(
      sources.flatMap((s) => s.gatewayListeners),
      issues,
    ),
  });
  refuseSelfMirrors(table, resources, options.selfAddresses ?? [], issues);
  analyze(resources, registry, issues); // istioctl-analyze-style checks (analysis.ts)
  return { table, issues: dedupeIssues(issues), statuses: ctx.statuses };
}

/**
 * One listener per address and port: a Gateway API Gateway and an Istio Gateway on the same port
 * cannot both have it. The first (Gateway API) keeps it; the other is reported and not served.
 */
function onePerPort(listeners: GatewayListener[], issues: ConfigIssue[]): GatewayListener[] {
  const seen = new Map<string, GatewayListener>();
  for (const l of listeners) {
    const key = `${l.address}|${l.port}`;
    const first = seen.get(key);
    if (!first) seen.set(key, l);
    else
      issues.push({
        severity: 'warning',
        resource: l.name,
        path: '',
        message: `port ${l.port} is already served by ${first.name}; ${l.name} is not served there`,
      });
  }
  return [...seen.values()];
}

/** Istio gives the default route of a service its default retry policy (route.BuildDefaultHTTPOutboundRoute). */
const DEFAULT_ROUTE_RETRY = istioRetryPolicy(undefined, false);

function defaultRoutes(svc: MeshService, port: number, clusters: ClusterBuilder): Route[] {
  return [singleClusterRoute('default', svc, clusters.get(svc, port, undefined), DEFAULT_ROUTE_RETRY)];
}
