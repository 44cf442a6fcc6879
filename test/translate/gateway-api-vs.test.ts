// Both APIs at once: a VirtualService and an HTTPRoute (GAMMA) claiming one service. Umbra does what
// istiod does for a sidecar: Gateway API routes in the client's namespace are selected first, so
// they win; otherwise the older resource keeps the host; the loser is ignored for that port and
// reported. Ports the HTTPRoute does not attach to stay with the VirtualService.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { build, cluster, service, simulate } from './gateway-api-sim.js';

const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');
const workloads = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: v1}
spec: {address: 127.0.0.1, ports: {http: 18081}, labels: {app: httpbin, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: v2}
spec: {address: 127.0.0.1, ports: {http: 18082}, labels: {app: httpbin, version: v2}}
---
`;

function target(yaml: string, host: string, namespace = 'default'): { kind?: string; cluster?: string } {
  const r = simulate(build(yaml, namespace).table, { host, path: '/' });
  return {
    kind: r.route?.origin.kind,
    cluster: r.outcome.kind === 'forward' ? r.outcome.clusters[0] : undefined,
  };
}

test("the seed's VirtualService and HTTPRoute together: the HTTPRoute (client namespace) wins, the VirtualService is reported", () => {
  // The Istio flavour's mirroring VirtualService (with the DestinationRule) and the Gateway API route to v1.
  const dr = seed('route-v1.yaml')
    .split(/^---$/m)
    .find((d) => d.includes('kind: DestinationRule'));
  const yaml = `${seed('service.yaml')}---\n${workloads}${dr}---\n${seed('mirror.yaml')}---\n${seed('gateway-api-route-v1.yaml')}`;
  const b = build(yaml);
  const r = simulate(b.table, { host: 'httpbin:8000', path: '/headers' });
  assert.equal(r.route?.origin.kind, 'HTTPRoute');
  assert.deepEqual(r.outcome, {
    kind: 'forward',
    clusters: [cluster('httpbin-v1')],
    path: '/headers',
    authority: 'httpbin:8000',
    mirrors: [],
  });
  const warning = b.issues.find(
    (i) => i.resource === 'VirtualService default/httpbin' && /routed by HTTPRoute/.test(i.message),
  );
  assert.ok(warning, JSON.stringify(b.issues));
  assert.match(warning.message, /routed by HTTPRoute default\/httpbin/);
  assert.match(warning.hint ?? '', /client namespace/);
});

test('a port the HTTPRoute does not attach to stays with the VirtualService', () => {
  const svc = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 80}, {name: admin, port: 9000}]
  selector: {app: web}
---
`;
  const yaml = `${svc}${service('a')}${service('b')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: b}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules: [{backendRefs: [{name: a, port: 80}]}]
`;
  assert.deepEqual(target(yaml, 'web:80'), { kind: 'HTTPRoute', cluster: cluster('a') });
  assert.deepEqual(target(yaml, 'web:9000'), { kind: 'VirtualService', cluster: cluster('b') });
});

test('an HTTPRoute outside the client namespace and a VirtualService: the older one keeps the host', () => {
  const svcs = service('web', 80, 'shop') + service('a', 80, 'shop') + service('b', 80, 'shop');
  const vs = (ts: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop, creationTimestamp: "${ts}"}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: b}}]}]
---
`;
  const hr = (ts: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop, creationTimestamp: "${ts}"}
spec:
  parentRefs: [{group: "", kind: Service, name: web}]
  rules: [{backendRefs: [{name: a, port: 80}]}]
---
`;
  const older = '2024-01-01T00:00:00Z';
  const newer = '2025-01-01T00:00:00Z';
  // Umbra's clients are in "default"; the producer route lives in "shop".
  assert.deepEqual(target(svcs + vs(older) + hr(newer), 'web.shop'), {
    kind: 'VirtualService',
    cluster: cluster('b', 80, 'shop'),
  });
  assert.deepEqual(target(svcs + vs(newer) + hr(older), 'web.shop'), {
    kind: 'HTTPRoute',
    cluster: cluster('a', 80, 'shop'),
  });
  const b = build(svcs + vs(older) + hr(newer));
  assert.ok(
    b.issues.some(
      (i) => i.resource === 'HTTPRoute shop/web' && /VirtualService shop\/web \(older\)/.test(i.message),
    ),
  );
  // Clients in "shop" itself: the route is in their namespace and wins whatever its age.
  assert.deepEqual(target(svcs + vs(older) + hr(newer), 'web', 'shop'), {
    kind: 'HTTPRoute',
    cluster: cluster('a', 80, 'shop'),
  });
});
