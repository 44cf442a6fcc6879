// Gateway API route matching, simulated (YAML in → route chosen, no sockets): the seed's two
// HTTPRoutes, PathPrefix by whole segments, Exact, RE2 regexes, headers, query params, methods, the
// spec's precedence across all rules of all routes on one parent, and 404 when nothing matches.

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

test('seed: the route-to-v1 HTTPRoute sends httpbin:8000 to httpbin-v1, under every name of the service', () => {
  const b = build(`${seed('service.yaml')}---\n${workloads}${seed('gateway-api-route-v1.yaml')}`);
  for (const host of [
    'httpbin:8000',
    'httpbin',
    'httpbin.default:8000',
    'httpbin.default.svc.cluster.local:8000',
  ]) {
    const r = simulate(b.table, { host, path: '/headers' });
    assert.deepEqual(
      r.outcome,
      { kind: 'forward', clusters: [cluster('httpbin-v1')], path: '/headers', authority: host, mirrors: [] },
      host,
    );
    assert.equal(r.route?.origin.kind, 'HTTPRoute');
  }
  // httpbin-v1 itself is not routed by the HTTPRoute: its own default route.
  assert.equal(simulate(b.table, { host: 'httpbin-v1', path: '/' }).route?.origin.kind, 'Service');
});

test('seed: the mirroring HTTPRoute keeps v1 as the backend and copies 100 % to httpbin-v2', () => {
  // As `umbra apply` leaves it: the mirroring HTTPRoute replaced the first one (same name).
  const services = seed('gateway-api-route-v1.yaml')
    .split(/^---$/m)
    .filter((d) => !d.includes('kind: HTTPRoute'))
    .join('---\n');
  const b = build(
    `${seed('service.yaml')}---\n${workloads}${services}---\n${seed('gateway-api-mirror.yaml')}`,
  );
  const r = simulate(b.table, { host: 'httpbin:8000', path: '/headers' });
  assert.deepEqual(r.outcome, {
    kind: 'forward',
    clusters: [cluster('httpbin-v1')],
    path: '/headers',
    authority: 'httpbin:8000',
    mirrors: [`${cluster('httpbin-v2')}@1000000`],
  });
  const mirror = r.route?.action.kind === 'forward' ? r.route.action.mirrors[0] : undefined;
  assert.deepEqual(mirror?.authority, { mode: 'suffix', suffix: '-shadow' });
  // Nothing is listed before the mirror filter and nothing would change the request: the copy is the primary's request.
  assert.equal(mirror?.copyOf, undefined);
});

const backends =
  service('a') + service('b') + service('c') + service('d') + service('e') + service('f') + service('g');
const parent = `parentRefs: [{group: "", kind: Service, name: web, port: 80}]`;

function meshRoutes(...routes: string[]): string {
  return `${backends}${service('web')}${routes.join('---\n')}`;
}

function route(name: string, rules: string, extra = ''): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}${extra}}
spec:
  ${parent}
  rules:
${rules}
`;
}

test('precedence across all rules of all routes on a parent: exact, longest prefix, method, headers, query params', () => {
  const b = build(
    meshRoutes(
      route(
        'r1',
        `  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: x-v, value: "2"}]}]
    backendRefs: [{name: e, port: 80}]`,
      ),
      route(
        'r2',
        `  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: b, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api/v1}}]
    backendRefs: [{name: c, port: 80}]
  - matches: [{path: {type: Exact, value: /api/v1/users}}]
    backendRefs: [{name: d, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, method: POST}]
    backendRefs: [{name: f, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: x-v, value: "2"}], queryParams: [{name: q, value: "1"}]}]
    backendRefs: [{name: g, port: 80}]`,
      ),
    ),
  );
  const cases: [string, { path: string; method?: string; headers?: Record<string, string> }, string][] = [
    ['catch-all', { path: '/other' }, 'a'],
    ['prefix beats the catch-all although listed in a later route', { path: '/api/x' }, 'b'],
    ['longer prefix', { path: '/api/v1/x' }, 'c'],
    ['exact beats any prefix', { path: '/api/v1/users' }, 'd'],
    ['method beats no method', { path: '/api/x', method: 'POST' }, 'f'],
    ['method beats header matches', { path: '/api/x', method: 'POST', headers: { 'x-v': '2' } }, 'f'],
    ['a header match beats none', { path: '/api/x', headers: { 'x-v': '2' } }, 'e'],
    ['more query params win on equal headers', { path: '/api/x?q=1', headers: { 'x-v': '2' } }, 'g'],
    [
      'longest prefix before anything else',
      { path: '/api/v1/x', method: 'POST', headers: { 'x-v': '2' } },
      'c',
    ],
  ];
  for (const [what, req, want] of cases) {
    const r = simulate(b.table, { host: 'web', ...req });
    assert.deepEqual(r.outcome.kind === 'forward' && r.outcome.clusters, [cluster(want)], what);
  }
});

test('ties go to the oldest route, then to namespace/name order, then to list order', () => {
  const same = (backend: string) =>
    `  - matches: [{path: {type: PathPrefix, value: /x}}]\n    backendRefs: [{name: ${backend}, port: 80}]`;
  const older = build(
    meshRoutes(
      route('zeta', same('a'), ', creationTimestamp: "2024-01-01T00:00:00Z"'),
      route('alpha', same('b'), ', creationTimestamp: "2024-06-01T00:00:00Z"'),
    ),
  );
  assert.deepEqual(
    (simulate(older.table, { host: 'web', path: '/x' }).outcome as { clusters: string[] }).clusters,
    [cluster('a')],
  );
  const byName = build(meshRoutes(route('zeta', same('a')), route('alpha', same('b'))));
  assert.deepEqual(
    (simulate(byName.table, { host: 'web', path: '/x' }).outcome as { clusters: string[] }).clusters,
    [cluster('b')],
  );
  const listOrder = build(meshRoutes(route('one', `${same('c')}\n${same('d')}`)));
  assert.deepEqual(
    (simulate(listOrder.table, { host: 'web', path: '/x' }).outcome as { clusters: string[] }).clusters,
    [cluster('c')],
  );
});

test('PathPrefix matches whole segments; Exact is exact; RegularExpression is a full RE2 match', () => {
  const b = build(
    meshRoutes(
      route(
        'paths',
        `  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /trail/}}]
    backendRefs: [{name: b, port: 80}]
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: c, port: 80}]
  - matches: [{path: {type: RegularExpression, value: "/re/[0-9]+"}}]
    backendRefs: [{name: d, port: 80}]`,
      ),
    ),
  );
  const to = (path: string) => {
    const o = simulate(b.table, { host: 'web:80', path }).outcome;
    return o.kind === 'forward' ? o.clusters[0] : o.kind;
  };
  assert.equal(to('/v2'), cluster('a'));
  assert.equal(to('/v2/'), cluster('a'));
  assert.equal(to('/v2/x?y=1'), cluster('a'));
  assert.equal(to('/v2example'), 'no-route', 'a prefix never matches half a segment');
  assert.equal(to('/trail'), cluster('b'), 'a trailing slash in the prefix is ignored');
  assert.equal(to('/trail/x'), cluster('b'));
  assert.equal(to('/exact'), cluster('c'));
  assert.equal(to('/exact/'), 'no-route');
  assert.equal(to('/re/42'), cluster('d'));
  assert.equal(to('/re/42x'), 'no-route', 'regexes must match the whole path');
  assert.equal(to('/nothing'), 'no-route', 'no match → 404');
});

test('headers: names are case-insensitive, values exact or RE2; only the first entry for a name counts; query params and methods', () => {
  const b = build(
    meshRoutes(
      route(
        'hdr',
        `  - matches: [{headers: [{name: X-Env, value: canary}, {name: x-env, value: ignored}]}]
    backendRefs: [{name: a, port: 80}]
  - matches: [{headers: [{name: x-ver, type: RegularExpression, value: "v[0-9]+"}]}]
    backendRefs: [{name: b, port: 80}]
  - matches: [{queryParams: [{name: mode, value: fast}]}]
    backendRefs: [{name: c, port: 80}]
  - matches: [{method: DELETE}]
    backendRefs: [{name: d, port: 80}]`,
      ),
    ),
  );
  const to = (req: { path?: string; method?: string; headers?: Record<string, string> }) => {
    const o = simulate(b.table, {
      host: 'web',
      path: req.path ?? '/',
      method: req.method,
      headers: req.headers,
    }).outcome;
    return o.kind === 'forward' ? o.clusters[0] : o.kind;
  };
  assert.equal(to({ headers: { 'X-ENV': 'canary' } }), cluster('a'));
  assert.equal(to({ headers: { 'x-env': 'Canary' } }), 'no-route', 'values are case-sensitive');
  assert.equal(to({ headers: { 'x-ver': 'v12' } }), cluster('b'));
  assert.equal(to({ headers: { 'x-ver': 'v12-beta' } }), 'no-route');
  assert.equal(to({ path: '/?mode=fast' }), cluster('c'));
  assert.equal(to({ path: '/?Mode=fast' }), 'no-route', 'query param names are exact');
  assert.equal(to({ method: 'DELETE' }), cluster('d'));
  assert.equal(to({ method: 'GET' }), 'no-route');
});

test('gateway.networking.k8s.io/v1beta1 HTTPRoutes are translated like v1', () => {
  const v1beta1 = route('old', `  - backendRefs: [{name: a, port: 80}]`).replace(
    'gateway.networking.k8s.io/v1',
    'gateway.networking.k8s.io/v1beta1',
  );
  const b = build(meshRoutes(v1beta1));
  const r = simulate(b.table, { host: 'web', path: '/' });
  assert.deepEqual(
    [r.route?.origin.kind, r.outcome.kind === 'forward' && r.outcome.clusters[0]],
    ['HTTPRoute', cluster('a')],
  );
});
