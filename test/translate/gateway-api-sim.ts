// Simulation helpers for the Gateway API translation tests: YAML in, a compiled table out, and a
// request "sent" through the data plane's own lookup (virtual host → first matching route) with no
// sockets, so a test states which route, cluster, rewrite or redirect a request gets.

import assert from 'node:assert/strict';
import type { ConfigIssue } from '../../src/config/issues.js';
import { loadText } from '../../src/config/load.js';
import type { Route, RouteTable, VirtualHost } from '../../src/model/route-table.js';
import { redirectLocation, rewritePath } from '../../src/proxy/rewrites.js';
import {
  findGatewayVirtualHost,
  findVirtualHost,
  matchRoute,
  type RequestView,
} from '../../src/proxy/router.js';
import { buildRouteTable } from '../../src/translate/build-table.js';
import { DEFAULT_MIRROR } from '../../src/translate/mirror-policies.js';

export interface Built {
  readonly table: RouteTable;
  readonly issues: ConfigIssue[];
  readonly statuses: Map<string, unknown>;
}

export function build(yaml: string, namespace = 'default'): Built {
  const loaded = loadText(yaml, 'test.yaml');
  const errors = loaded.issues.filter((i) => i.severity === 'error');
  assert.deepEqual(errors, [], 'the test YAML must load without errors');
  const b = buildRouteTable(loaded.resources, { namespace, mirrorDefaults: DEFAULT_MIRROR, version: 1 });
  return { table: b.table, issues: b.issues, statuses: b.statuses };
}

export interface SimRequest {
  /** Host header ("httpbin:8000"). */
  readonly host: string;
  /** Path with optional query. */
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** Send to the Gateway listener on this port instead of the mesh (outbound) listener. */
  readonly gatewayPort?: number;
}

export type Outcome =
  | { kind: 'no-route' }
  | { kind: 'forward'; clusters: (string | undefined)[]; path: string; authority: string; mirrors: string[] }
  | { kind: 'redirect'; status: number; location: string }
  | { kind: 'direct'; status: number };

export interface SimResult {
  readonly route?: Route;
  /** What the request gets, in terms a test compares. */
  readonly outcome: Outcome;
}

export function simulate(table: RouteTable, r: SimRequest): SimResult {
  const q = r.path.indexOf('?');
  const path = q === -1 ? r.path : r.path.slice(0, q);
  const query = q === -1 ? '' : r.path.slice(q + 1);
  const authority = r.host.toLowerCase();
  const colon = authority.lastIndexOf(':');
  const port = colon === -1 ? 80 : Number(authority.slice(colon + 1));
  const headers: Record<string, string> = { host: r.host };
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
  let vhost: VirtualHost | undefined;
  if (r.gatewayPort !== undefined) {
    const gl = table.gatewayListeners.find((l) => l.port === r.gatewayPort);
    vhost = gl && findGatewayVirtualHost(gl, authority);
  } else vhost = findVirtualHost(table, authority);
  if (!vhost) return { outcome: { kind: 'no-route' } };
  const view: RequestView = {
    method: r.method ?? 'GET',
    path,
    query,
    authority,
    port,
    scheme: 'http',
    headers,
  };
  const route = matchRoute(vhost, view);
  if (!route) return { outcome: { kind: 'no-route' } };
  const a = route.action;
  switch (a.kind) {
    case 'redirect':
      return {
        route,
        outcome: {
          kind: 'redirect',
          status: a.status,
          location: redirectLocation(a, { authority, path, query, port, scheme: 'http' }),
        },
      };
    case 'direct':
      return { route, outcome: { kind: 'direct', status: a.status } };
    case 'forward':
      return {
        route,
        outcome: {
          kind: 'forward',
          clusters: a.backends.filter((b) => b.weight > 0).map((b) => b.cluster),
          path: a.rewrite?.path ? rewritePath(a.rewrite.path, path) : path,
          authority: a.rewrite?.authority ?? authority,
          mirrors: a.mirrors.map((m) => `${m.cluster}@${m.ppm}`),
        },
      };
  }
}

/** The cluster name Umbra gives a service port. */
export function cluster(service: string, port = 80, namespace = 'default'): string {
  return `outbound|${port}||${service}.${namespace}.svc.cluster.local`;
}

export interface ParentStatusView {
  parentRef: Record<string, unknown>;
  controllerName: string;
  conditions: { type: string; status: string; reason: string; message: string }[];
}

export function routeParents(b: Built, name: string, namespace = 'default'): ParentStatusView[] {
  const s = b.statuses.get(`gateway.networking.k8s.io/HTTPRoute/${namespace}/${name}`) as
    { parents: ParentStatusView[] } | undefined;
  return s?.parents ?? [];
}

/** "Accepted=True/Accepted ResolvedRefs=False/BackendNotFound" for each parent of an HTTPRoute. */
export function routeConditions(b: Built, name: string, namespace = 'default'): string[] {
  return routeParents(b, name, namespace).map((p) =>
    p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' '),
  );
}

/** A Service with one port and a WorkloadEntry-backed endpoint, as YAML ending in a separator. */
export function service(name: string, port = 80, namespace = 'default'): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  ports: [{name: http, port: ${port}}]
  selector: {app: ${name}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${namespace}}
spec: {address: 127.0.0.1, ports: {http: ${20000 + port}}, labels: {app: ${name}}}
---
`;
}
