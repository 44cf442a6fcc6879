// Resolves HTTPRoute backend references (backendRefs and RequestMirror.backendRef) to clusters: a
// core Service, or Istio's ServiceEntry and Hostname kinds as Istio accepts them. A reference into
// another namespace needs a ReferenceGrant there (ReferenceGrant, gateway.networking.k8s.io/v1beta1);
// failures carry the ResolvedRefs reason the spec names (BackendNotFound, InvalidKind, RefNotPermitted).

import type { Resource } from '../../config/resource.js';
import { GATEWAY_GROUP } from '../../config/schemas/gateway-api.js';
import { ISTIO_GROUP } from '../../config/validate.js';
import { serviceFqdn } from '../host-names.js';
import type { MeshService } from '../service-registry.js';
import type { GatewayApiContext } from './context.js';
import type { RouteResolvedRefsReason, Verdict } from './status.js';

export interface BackendRefLike {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
}

export interface BackendResolution {
  readonly cluster?: string;
  readonly svc?: MeshService;
  readonly problem?: Verdict<RouteResolvedRefsReason>;
}

const notFound = (message: string): BackendResolution => ({
  problem: { ok: false, reason: 'BackendNotFound', message },
});

function describe(ref: BackendRefLike, ns: string): string {
  const kind = ref.group ? `${ref.kind}.${ref.group}` : ref.kind;
  return `${kind} ${ns}/${ref.name}`;
}

/** A ReferenceGrant in the target namespace lets routes (of `fromKind`) of `fromNamespace` refer to the object. */
export function referencePermitted(
  ctx: GatewayApiContext,
  fromNamespace: string,
  ref: BackendRefLike,
  toNamespace: string,
  fromKind = 'HTTPRoute',
): boolean {
  if (fromNamespace === toNamespace) return true;
  return ctx.grants.some(
    (g) =>
      g.metadata.namespace === toNamespace &&
      g.spec.from.some(
        (f) => f.group === GATEWAY_GROUP && f.kind === fromKind && f.namespace === fromNamespace,
      ) &&
      g.spec.to.some(
        (t) => t.group === ref.group && t.kind === ref.kind && (t.name === undefined || t.name === ref.name),
      ),
  );
}

/**
 * GAMMA consumer routes (GEP-1426, conformance MeshConsumerRoute): a route in the client's namespace
 * attaches to a Service of another namespace and sends its traffic on to that same Service. Neither
 * reference needs a ReferenceGrant — the route only shapes its own namespace's calls to a Service it
 * could call anyway; any other Service across namespaces still does.
 */
function isParentService(route: Resource, ref: BackendRefLike, ns: string): boolean {
  if (ref.group !== '' || ref.kind !== 'Service') return false;
  const parents = (
    route.spec as { parentRefs?: { group?: string; kind?: string; name: string; namespace?: string }[] }
  ).parentRefs;
  return (parents ?? []).some(
    (p) =>
      p.kind === 'Service' &&
      (p.group ?? '') === '' &&
      p.name === ref.name &&
      (p.namespace ?? route.metadata.namespace) === ns,
  );
}

function servicePort(
  svc: MeshService,
  ref: BackendRefLike,
  what: string,
): { port?: number; problem?: BackendResolution } {
  if (ref.port !== undefined) {
    if (svc.ports.some((p) => p.port === ref.port)) return { port: ref.port };
    return {
      problem: notFound(
        `${what} has no port ${ref.port} (ports: ${svc.ports.map((p) => p.port).join(', ') || 'none'})`,
      ),
    };
  }
  if (svc.ports.length === 1) return { port: svc.ports[0].port };
  return { problem: notFound(`${what} has ${svc.ports.length} ports; the reference needs a port`) };
}

function findService(ctx: GatewayApiContext, ref: BackendRefLike, ns: string): MeshService | undefined {
  const reg = ctx.build.registry;
  if (ref.group === '' && ref.kind === 'Service') {
    const svc = reg.resolve(serviceFqdn(ref.name, ns), ns);
    return svc?.origin.kind === 'Service' ? svc : undefined;
  }
  if (ref.kind === 'Hostname') return reg.resolve(ref.name, ns);
  // ServiceEntry: its first non-wildcard host.
  const se = ctx.build.resources.find(
    (r) => r.kind === 'ServiceEntry' && r.metadata.namespace === ns && r.metadata.name === ref.name,
  );
  const host = (se?.spec as { hosts?: string[] } | undefined)?.hosts?.find((h) => !h.startsWith('*'));
  return host ? reg.resolve(host, ns) : undefined;
}

export function resolveBackend(
  ctx: GatewayApiContext,
  route: Resource,
  ref: BackendRefLike,
): BackendResolution {
  const ns = ref.namespace ?? route.metadata.namespace;
  const what = describe(ref, ns);
  if (isParentService(route, ref, ns)) return resolvePermitted(ctx, ref, ns, what);
  const supported =
    (ref.group === '' && ref.kind === 'Service') ||
    (ref.group === ISTIO_GROUP && (ref.kind === 'Hostname' || ref.kind === 'ServiceEntry'));
  if (!supported)
    return {
      problem: {
        ok: false,
        reason: 'InvalidKind',
        message: `backend kind ${ref.group ? `${ref.kind}.${ref.group}` : ref.kind} is not supported (use a Service)`,
      },
    };
  if (!referencePermitted(ctx, route.metadata.namespace, ref, ns, route.kind))
    return {
      problem: {
        ok: false,
        reason: 'RefNotPermitted',
        message: `${what} is in another namespace and no ReferenceGrant there allows ${route.kind}s from ${route.metadata.namespace}`,
      },
    };
  return resolvePermitted(ctx, ref, ns, what);
}

/** A reference whose kind is supported and which may be made: the service, its port, its cluster. */
function resolvePermitted(
  ctx: GatewayApiContext,
  ref: BackendRefLike,
  ns: string,
  what: string,
): BackendResolution {
  const svc = findService(ctx, ref, ns);
  if (!svc) return notFound(`${what} not found`);
  const { port, problem } = servicePort(svc, ref, what);
  if (problem || port === undefined) return problem ?? notFound(`${what}: no port`);
  return { cluster: ctx.build.clusters.get(svc, port, undefined), svc };
}
