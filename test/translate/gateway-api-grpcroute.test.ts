// GRPCRoute (gateway.networking.k8s.io/v1) translated into proxy routes: method/service and header
// matches with the spec's precedence, RequestMirror with percent/fraction, weights, status
// conditions, Gateway and Service parents, and conflicts with HTTPRoutes and VirtualServices.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { build, cluster, service, simulate } from './gateway-api-sim.js';

const services = service('echo', 9000) + service('echo-v1', 9000) + service('echo-v2', 9000);

function grpcRoute(spec: string, name = 'echo', extra = ''): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: ${name}${extra}}
spec:
${spec}
---
`;
}

const meshParent = `  parentRefs: [{group: "", kind: Service, name: echo, port: 9000}]`;

function statusOf(b: ReturnType<typeof build>, name: string): string[] {
  const s = b.statuses.get(`gateway.networking.k8s.io/GRPCRoute/default/${name}`) as
    { parents: { conditions: { type: string; status: string; reason: string }[] }[] } | undefined;
  return (s?.parents ?? []).map((p) =>
    p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' '),
  );
}

test('a GRPCRoute on a Service parent routes by service and method and mirrors with a fraction', () => {
  const b = build(
    services +
      grpcRoute(`${meshParent}
  rules:
  - matches: [{method: {service: grpc.testing.TestService, method: UnaryCall}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: echo-v2, port: 9000}, fraction: {numerator: 1, denominator: 4}}
    backendRefs: [{name: echo-v1, port: 9000}]
  - matches: [{method: {service: grpc.testing.TestService}}]
    backendRefs: [{name: echo-v2, port: 9000}]`),
  );
  const unary = simulate(b.table, {
    host: 'echo:9000',
    path: '/grpc.testing.TestService/UnaryCall',
    method: 'POST',
  });
  assert.equal(unary.route?.origin.kind, 'GRPCRoute');
  assert.deepEqual(unary.outcome, {
    kind: 'forward',
    clusters: [cluster('echo-v1', 9000)],
    path: '/grpc.testing.TestService/UnaryCall',
    authority: 'echo:9000',
    mirrors: [`${cluster('echo-v2', 9000)}@250000`],
  });
  const other = simulate(b.table, {
    host: 'echo:9000',
    path: '/grpc.testing.TestService/StreamingOutputCall',
    method: 'POST',
  });
  assert.deepEqual(other.outcome.kind === 'forward' && other.outcome.clusters, [cluster('echo-v2', 9000)]);
  // A service whose name only starts like the matched one is another service.
  const unrelated = simulate(b.table, { host: 'echo:9000', path: '/grpc.testing.TestServiceX/UnaryCall' });
  assert.equal(unrelated.outcome.kind, 'no-route');
  assert.deepEqual(statusOf(b, 'echo'), ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
});

test('precedence: more service characters, then method characters, then headers win, not list order', () => {
  const b = build(
    services +
      grpcRoute(`${meshParent}
  rules:
  - matches: [{method: {method: Get}}]
    backendRefs: [{name: echo-v1, port: 9000}]
  - matches: [{method: {service: a.B}}]
    backendRefs: [{name: echo, port: 9000}]
  - matches: [{method: {service: a.B, method: Get}, headers: [{name: x-v, value: "2"}]}]
    backendRefs: [{name: echo-v2, port: 9000}]
  - matches: [{method: {service: a.B, method: Get}}]
    backendRefs: [{name: echo-v1, port: 9000}]`),
  );
  const to = (path: string, headers?: Record<string, string>) => {
    const r = simulate(b.table, { host: 'echo:9000', path, method: 'POST', headers });
    return r.outcome.kind === 'forward' ? r.outcome.clusters[0] : r.outcome.kind;
  };
  assert.equal(to('/a.B/Get', { 'x-v': '2' }), cluster('echo-v2', 9000));
  assert.equal(to('/a.B/Get'), cluster('echo-v1', 9000));
  assert.equal(to('/a.B/List'), cluster('echo', 9000));
  assert.equal(to('/other.Svc/Get'), cluster('echo-v1', 9000));
});

test('RegularExpression method matches and weights', () => {
  const b = build(
    services +
      grpcRoute(`${meshParent}
  rules:
  - matches: [{method: {type: RegularExpression, service: "a\\\\.(B|C)", method: "Get.*"}}]
    backendRefs: [{name: echo-v1, port: 9000, weight: 3}, {name: echo-v2, port: 9000, weight: 1}]`),
  );
  const r = simulate(b.table, { host: 'echo:9000', path: '/a.C/GetAll', method: 'POST' });
  assert.equal(r.route?.origin.kind, 'GRPCRoute');
  assert.ok(r.route && r.route.action.kind === 'forward');
  assert.deepEqual(
    r.route.action.backends.map((x) => x.weight),
    [3, 1],
  );
  assert.equal(simulate(b.table, { host: 'echo:9000', path: '/a.D/GetAll' }).route?.origin.kind, undefined);
});

test('invalid backends: ResolvedRefs=False and UNAVAILABLE (503) for their share', () => {
  const b = build(
    services +
      grpcRoute(`${meshParent}
  rules:
  - backendRefs: [{name: missing, port: 9000}]`),
  );
  assert.deepEqual(statusOf(b, 'echo'), ['Accepted=True/Accepted ResolvedRefs=False/BackendNotFound']);
  const r = simulate(b.table, { host: 'echo:9000', path: '/a.B/Get' });
  assert.ok(r.route && r.route.action.kind === 'forward');
  assert.equal(r.route.action.noBackendStatus, 503);
});

test('an HTTPRoute and a GRPCRoute on one Service: the older is accepted, the other is not', () => {
  const http = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
${meshParent}
  rules: [{backendRefs: [{name: echo-v2, port: 9000}]}]
---
`;
  const b = build(
    services +
      http +
      grpcRoute(
        `${meshParent}
  rules: [{backendRefs: [{name: echo-v1, port: 9000}]}]`,
        'echo',
        ', creationTimestamp: "2024-01-01T00:00:00Z"',
      ),
  );
  assert.deepEqual(statusOf(b, 'echo'), ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
  const web = b.statuses.get('gateway.networking.k8s.io/HTTPRoute/default/web') as {
    parents: { conditions: { type: string; status: string; message: string }[] }[];
  };
  const accepted = web.parents[0].conditions.find((c) => c.type === 'Accepted');
  assert.equal(accepted?.status, 'False');
  assert.match(accepted?.message ?? '', /GRPCRoute default\/echo \(older\)/);
  const r = simulate(b.table, { host: 'echo:9000', path: '/x/y' });
  assert.equal(r.route?.origin.kind, 'GRPCRoute');
});

test('a GRPCRoute takes a service from a VirtualService as an HTTPRoute does', () => {
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  hosts: [echo]
  http: [{route: [{destination: {host: echo-v2}}]}]
---
`;
  const b = build(
    services + vs + grpcRoute(`${meshParent}\n  rules: [{backendRefs: [{name: echo-v1, port: 9000}]}]`),
  );
  const r = simulate(b.table, { host: 'echo:9000', path: '/a.B/Get' });
  assert.equal(r.route?.origin.kind, 'GRPCRoute');
  assert.ok(
    b.issues.some(
      (i) => i.resource === 'VirtualService default/echo' && /GRPCRoute default\/echo/.test(i.message),
    ),
  );
});

test('a GRPCRoute on a Gateway listener serves its hostnames; a listener admitting only HTTPRoute refuses it', () => {
  const gw = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: umbra}
spec: {controllerName: umbra.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: umbra
  listeners:
  - {name: grpc, port: 18080, protocol: HTTP}
  - name: web
    port: 18081
    protocol: HTTP
    allowedRoutes: {kinds: [{kind: HTTPRoute}]}
---
`;
  const b = build(
    services +
      gw +
      grpcRoute(`  parentRefs: [{name: gw, sectionName: grpc}, {name: gw, sectionName: web}]
  hostnames: [grpc.example.com]
  rules: [{backendRefs: [{name: echo-v1, port: 9000}]}]`),
  );
  const r = simulate(b.table, { host: 'grpc.example.com', path: '/a.B/Get', gatewayPort: 18080 });
  assert.deepEqual(r.outcome.kind === 'forward' && r.outcome.clusters, [cluster('echo-v1', 9000)]);
  assert.deepEqual(statusOf(b, 'echo'), [
    'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs',
    'Accepted=False/NotAllowedByListeners ResolvedRefs=True/ResolvedRefs',
  ]);
});

test('GRPCRoute validation: a method match needs service or method, Exact names are checked', () => {
  const bad = loadText(
    services +
      grpcRoute(`${meshParent}
  rules:
  - matches: [{method: {type: Exact}}, {method: {service: "a/b", method: "x"}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo-v2, port: 9000}, percent: 10, fraction: {numerator: 1}}}]`),
    'grpc.yaml',
  );
  const msgs = bad.issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.message}`);
  assert.ok(
    msgs.some((m) => m.startsWith('spec.rules[0].matches[0].method') && /service' or 'method/.test(m)),
    msgs.join('\n'),
  );
  assert.ok(
    msgs.some((m) => m.startsWith('spec.rules[0].matches[1].method.service')),
    msgs.join('\n'),
  );
  assert.ok(
    msgs.some((m) => /only one of percent or fraction/.test(m)),
    msgs.join('\n'),
  );
  assert.ok(bad.issues.every((i) => i.file === 'grpc.yaml'));
});
