// What the Gateway API translation works from: the shared build context plus the Gateway API
// resources it reads, picked out once per build.

import type { Resource } from '../../config/resource.js';
import type {
  GatewayClassSpec,
  GatewaySpec,
  GRPCRouteSpec,
  HTTPRouteSpec,
  ReferenceGrantSpec,
} from '../../config/schemas/gateway-api.js';
import { ofKind } from '../../config/validate.js';
import type { RouteSourceContext } from '../build-table.js';
import { byAge } from './precedence.js';

export interface GatewayApiContext {
  readonly build: RouteSourceContext;
  /** HTTPRoutes, oldest first. */
  readonly routes: readonly Resource<HTTPRouteSpec>[];
  /** GRPCRoutes, oldest first. */
  readonly grpcRoutes: readonly Resource<GRPCRouteSpec>[];
  readonly gateways: readonly Resource<GatewaySpec>[];
  readonly classes: readonly Resource<GatewayClassSpec>[];
  readonly grants: readonly Resource<ReferenceGrantSpec>[];
  readonly namespaces: readonly Resource[];
  /** Namespace Umbra's own clients (the mesh side) live in. */
  readonly clientNamespace: string;
  /** One timestamp for every condition of this build. */
  readonly now: string;
}

export function gatewayApiContext(build: RouteSourceContext): GatewayApiContext {
  const rs = build.resources;
  return {
    build,
    routes: [...ofKind(rs, 'HTTPRoute')].sort(byAge),
    grpcRoutes: [...ofKind(rs, 'GRPCRoute')].sort(byAge),
    gateways: [...ofKind(rs, 'Gateway')].sort(byAge),
    classes: ofKind(rs, 'GatewayClass'),
    grants: ofKind(rs, 'ReferenceGrant'),
    namespaces: ofKind(rs, 'Namespace'),
    clientNamespace: build.options.namespace,
    // metav1.Time: RFC 3339 to the second.
    now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}
