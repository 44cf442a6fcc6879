// The route that sends all of one service port's traffic to one cluster: a service's default route
// (no VirtualService or HTTPRoute) and the passthrough to a known endpoint's own address.

import type { RetryPolicy, Route } from '../model/route-table.js';
import type { MeshService } from './service-registry.js';

/** `cluster` is the cluster's name; undefined when the service lacks the port (requests get 503). */
export function singleClusterRoute(
  name: string,
  svc: MeshService,
  cluster: string | undefined,
  retry?: RetryPolicy,
): Route {
  return {
    name,
    origin: { kind: svc.origin.kind, namespace: svc.namespace, name: svc.name, path: 'spec' },
    match: {},
    action: {
      kind: 'forward',
      backends: [{ cluster, weight: 1 }],
      totalWeight: 1,
      noBackendStatus: 503,
      timeoutMs: 0,
      perTryTimeoutMs: 0,
      ...(retry ? { retry } : {}),
      mirrors: [],
    },
  };
}
