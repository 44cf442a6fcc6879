// The Gateway API translation as a route source for build-table: compiles every HTTPRoute and
// GRPCRoute, attaches
// it to its parents (Services for the mesh, Gateways for listeners Umbra serves), and records the
// status an implementation writes — one RouteParentStatus per parent, Gateway and GatewayClass
// conditions — under each resource's key. Imports build-table only for types (no import cycle).

import { resourceKey, type Resource } from '../../config/resource.js';
import { GATEWAY_GROUP, type ParentReference } from '../../config/schemas/gateway-api.js';
import type { MeshRouteSource, RouteSourceContext } from '../build-table.js';
import { issueAt } from '../issue-at.js';
import { gatewayApiContext } from './context.js';
import { GatewaySet } from './gateways.js';
import { MeshRoutes } from './mesh.js';
import { byAge } from './precedence.js';
import { compileGrpcRoute } from './grpc-rules.js';
import { compileRoute, type CompiledRoute } from './rules.js';
import {
  routeParentStatus,
  type ParentRefEcho,
  type RouteAcceptedReason,
  type RouteParentStatus,
  type Verdict,
} from './status.js';

function echo(ref: ParentReference): ParentRefEcho {
  const out: { -readonly [K in keyof ParentRefEcho]: ParentRefEcho[K] } = {
    group: ref.group,
    kind: ref.kind,
    name: ref.name,
  };
  if (ref.namespace !== undefined) out.namespace = ref.namespace;
  if (ref.sectionName !== undefined) out.sectionName = ref.sectionName;
  if (ref.port !== undefined) out.port = ref.port;
  return out;
}

export function gatewayApiRoutes(build: RouteSourceContext): MeshRouteSource {
  const ctx = gatewayApiContext(build);
  const mesh = new MeshRoutes(ctx);
  const gateways = new GatewaySet(ctx);
  const setStatus = (r: Resource, status: unknown) => build.statuses.set(resourceKey(r), status);

  // Oldest first across both kinds: where an HTTPRoute and a GRPCRoute meet on one parent, the one
  // attached first (the older) is accepted and the other is not (GRPCRouteSpec.hostnames).
  const all = [
    ...ctx.routes.map((hr) => ({ hr: hr as Resource, compile: () => compileRoute(ctx, hr) })),
    ...ctx.grpcRoutes.map((gr) => ({ hr: gr as Resource, compile: () => compileGrpcRoute(ctx, gr) })),
  ].sort((a, b) => byAge(a.hr, b.hr));
  for (const { hr, compile } of all) {
    const route: CompiledRoute = compile();
    const parents: RouteParentStatus[] = [];
    const refs = route.resource.spec.parentRefs ?? [];
    if (refs.length === 0)
      build.issues.push(
        issueAt(
          hr,
          'spec',
          'warning',
          'the route has no parentRefs; it is attached to nothing and serves no traffic',
        ),
      );
    refs.forEach((ref, i) => {
      const path = `spec.parentRefs[${i}]`;
      let verdict: Verdict<RouteAcceptedReason> | undefined;
      if (ref.group === '' && ref.kind === 'Service') verdict = mesh.attach(route, ref, path);
      else if (ref.group === GATEWAY_GROUP && ref.kind === 'Gateway') verdict = gateways.attach(route, ref);
      else {
        build.issues.push(
          issueAt(
            hr,
            path,
            'warning',
            `parent kind ${ref.group ? `${ref.kind}.${ref.group}` : ref.kind} is not supported by Umbra; ignored`,
            'use a Gateway or a Service',
          ),
        );
        return;
      }
      if (!verdict) return; // another controller's Gateway
      if (!verdict.ok && verdict.reason !== 'UnsupportedValue')
        build.issues.push(
          issueAt(hr, path, 'warning', `not attached: ${verdict.message} (${verdict.reason})`),
        );
      parents.push(routeParentStatus(hr, echo(ref), verdict, route.refs, ctx.now));
    });
    if (parents.length > 0) setStatus(hr, { parents });
  }

  mesh.finish();
  gateways.writeStatuses(setStatus);
  return {
    routesFor: (svc, port) => mesh.routesFor(svc, port),
    gatewayListeners: gateways.proxyListeners(),
  };
}
