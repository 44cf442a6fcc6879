// GAMMA: HTTPRoutes (and GRPCRoutes) whose parentRef is a Service route the traffic addressed to that service port
// (GEP-1426). A "producer" route lives in the service's namespace and applies to every client; a
// "consumer" route lives in the client's namespace and, for those clients, replaces the producer
// routes. When an Istio VirtualService claims the same host, Umbra does what istiod does for a
// sidecar: Gateway API routes of the client's own namespace are taken first (pilot's
// SelectVirtualServices), otherwise the older resource keeps the host; the loser is ignored for
// that port (pilot drops a duplicate virtual host) and reported.

import type { Resource } from '../../config/resource.js';
import type { ParentReference } from '../../config/schemas/gateway-api.js';
import { ofKind } from '../../config/validate.js';
import type { Route } from '../../model/route-table.js';
import { qualifyHost, serviceFqdn } from '../host-names.js';
import { issueAt } from '../issue-at.js';
import type { MeshService } from '../service-registry.js';
import type { GatewayApiContext } from './context.js';
import { byAge, compareKeys, resourceName } from './precedence.js';
import { routesForPort, type CompiledRoute } from './rules.js';
import { ACCEPTED, type RouteAcceptedReason, type Verdict } from './status.js';

interface Attachment {
  readonly svc: MeshService;
  readonly port: number;
  readonly routes: Set<CompiledRoute>;
}

export class MeshRoutes {
  private readonly attachments = new Map<string, Attachment>();
  private readonly served = new Map<string, Route[]>();
  private readonly hostnamesNoted = new Set<Resource>();

  constructor(private readonly ctx: GatewayApiContext) {}

  /** Attaches a route to a Service parent; returns the Accepted verdict for that parent. */
  attach(route: CompiledRoute, ref: ParentReference, refPath: string): Verdict<RouteAcceptedReason> {
    const hr = route.resource;
    const ns = ref.namespace ?? hr.metadata.namespace;
    const found = this.ctx.build.registry.resolve(serviceFqdn(ref.name, ns), ns);
    const svc = found?.origin.kind === 'Service' ? found : undefined;
    if (!svc)
      return { ok: false, reason: 'NoMatchingParent', message: `Service ${ns}/${ref.name} not found` };
    const ports = svc.ports.filter(
      (p) =>
        (ref.port === undefined || p.port === ref.port) &&
        (ref.sectionName === undefined || p.name === ref.sectionName),
    );
    if (ports.length === 0) {
      const want = ref.port !== undefined ? `port ${ref.port}` : `a port named "${ref.sectionName}"`;
      return { ok: false, reason: 'NoMatchingParent', message: `Service ${ns}/${ref.name} has no ${want}` };
    }
    if (!route.accepted.ok) return route.accepted;
    if ((hr.spec.hostnames ?? []).length > 0 && !this.hostnamesNoted.has(hr)) {
      this.hostnamesNoted.add(hr);
      this.ctx.build.issues.push(
        issueAt(
          hr,
          'spec.hostnames',
          'info',
          `hostnames do not apply to Service parents (${refPath}); the route serves every name of the service`,
        ),
      );
    }
    const other = otherKindOn(
      ports.map((p) => this.attachments.get(`${svc.fqdn}:${p.port}`)),
      hr.kind,
    );
    if (other)
      return {
        ok: false,
        reason: 'NotAllowedByListeners',
        message: `${other.resource.kind} ${resourceName(other.resource)} (older) already routes Service ${ns}/${ref.name}; HTTPRoutes and GRPCRoutes are not merged`,
      };
    for (const p of ports) {
      const key = `${svc.fqdn}:${p.port}`;
      let a = this.attachments.get(key);
      if (!a) this.attachments.set(key, (a = { svc, port: p.port, routes: new Set() }));
      a.routes.add(route);
    }
    return ACCEPTED;
  }

  /** Settles consumer/producer routes and VirtualService conflicts; call once all routes attached. */
  finish(): void {
    const vsByHost = this.virtualServicesByHost();
    const client = this.ctx.clientNamespace;
    for (const [key, a] of this.attachments) {
      const all = [...a.routes];
      const consumers = all.filter((r) => r.resource.metadata.namespace === client);
      const chosen =
        consumers.length > 0
          ? consumers
          : all.filter((r) => r.resource.metadata.namespace === a.svc.namespace);
      if (chosen.length === 0) {
        for (const r of all)
          this.ctx.build.issues.push(
            issueAt(
              r.resource,
              'spec.parentRefs',
              'info',
              `a consumer route for clients in namespace ${r.resource.metadata.namespace}; Umbra's clients are in ${client}, so it is not used for ${a.svc.fqdn}:${a.port}`,
            ),
          );
        continue;
      }
      const vs = vsByHost.get(a.svc.fqdn);
      if (vs) {
        const oldest = [...chosen].sort((x, y) => byAge(x.resource, y.resource))[0].resource;
        const routeWins = consumers.length > 0 || byAge(oldest, vs) < 0;
        const names = chosen.map((r) => `${r.resource.kind} ${resourceName(r.resource)}`).join(', ');
        if (!routeWins) {
          for (const r of chosen)
            this.ctx.build.issues.push(
              issueAt(
                r.resource,
                'spec.parentRefs',
                'warning',
                `VirtualService ${resourceName(vs)} (older) routes ${a.svc.fqdn}; this route is not used for port ${a.port}`,
                'Istio keeps the older of the two unless the HTTPRoute is in the client namespace',
              ),
            );
          continue;
        }
        this.ctx.build.issues.push(
          issueAt(
            vs,
            'spec.hosts',
            'warning',
            `${a.svc.fqdn} port ${a.port} is routed by ${names}; this VirtualService is ignored for that port`,
            consumers.length > 0
              ? `Gateway API routes in the client namespace (${client}) take precedence, as in Istio`
              : 'the HTTPRoute is older; Istio keeps the older one',
          ),
        );
      }
      const entries = chosen.flatMap((r) => r.entries).sort((x, y) => compareKeys(x.key, y.key));
      this.served.set(key, routesForPort(entries, a.port));
    }
  }

  routesFor(svc: MeshService, port: number): Route[] | undefined {
    return this.served.get(`${svc.fqdn}:${port}`);
  }

  /** The VirtualService Istio would use for each host: the oldest that names it (as build-table). */
  private virtualServicesByHost(): Map<string, Resource> {
    const out = new Map<string, Resource>();
    const vss = [...ofKind<{ hosts?: string[] }>(this.ctx.build.resources, 'VirtualService')].sort(byAge);
    for (const vs of vss)
      for (const h of vs.spec.hosts ?? []) {
        const fqdn =
          this.ctx.build.registry.resolve(h, vs.metadata.namespace)?.fqdn ??
          qualifyHost(h, vs.metadata.namespace);
        if (!out.has(fqdn)) out.set(fqdn, vs);
      }
    return out;
  }
}

/** A route of the other kind (HTTPRoute vs GRPCRoute) already attached where this one would go. */
function otherKindOn(
  attachments: readonly (Attachment | undefined)[],
  kind: string,
): CompiledRoute | undefined {
  for (const a of attachments) for (const r of a?.routes ?? []) if (r.resource.kind !== kind) return r;
  return undefined;
}
