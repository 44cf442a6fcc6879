// HTTPRoute status as Umbra writes it — Accepted and ResolvedRefs per parent with the spec's reasons
// and Umbra's controller name — and the matching config issues; an invalid route is reported and
// never half-applied; routes on other controllers' Gateways get no status from Umbra.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, cluster, routeConditions, routeParents, service, simulate } from './gateway-api-sim.js';

const OK = 'Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs';

function route(spec: string, name = 'r', namespace = 'default'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}
---
`;
}

const toWeb = (extra = '') => `  parentRefs: [{group: "", kind: Service, name: web${extra}}]`;

test('a valid mesh route: Accepted and ResolvedRefs true, Umbra as controller, the parentRef echoed', () => {
  const b = build(
    service('web') +
      service('a') +
      route(`${toWeb(', port: 80')}\n  rules: [{backendRefs: [{name: a, port: 80}]}]`),
  );
  const [p] = routeParents(b, 'r');
  assert.deepEqual(p.parentRef, { group: '', kind: 'Service', name: 'web', port: 80 });
  assert.equal(p.controllerName, 'umbra.dev/gateway-controller');
  assert.deepEqual(routeConditions(b, 'r'), [OK]);
  assert.match(p.conditions[0].message, /served by Umbra/);
});

test('ResolvedRefs reasons: BackendNotFound, a missing port, InvalidKind, RefNotPermitted — and a ReferenceGrant', () => {
  const cases: [string, string, RegExp][] = [
    ['{name: nothere, port: 80}', 'ResolvedRefs=False/BackendNotFound', /Service default\/nothere not found/],
    ['{name: a, port: 81}', 'ResolvedRefs=False/BackendNotFound', /has no port 81/],
    ['{group: example.com, kind: Bucket, name: a}', 'ResolvedRefs=False/InvalidKind', /not supported/],
    ['{name: a, namespace: other, port: 80}', 'ResolvedRefs=False/RefNotPermitted', /no ReferenceGrant/],
  ];
  for (const [ref, want, message] of cases) {
    const b = build(
      service('web') +
        service('a') +
        service('a', 80, 'other') +
        route(`${toWeb()}\n  rules: [{backendRefs: [${ref}]}]`),
    );
    assert.deepEqual(routeConditions(b, 'r'), [`Accepted=True/Accepted ${want}`], ref);
    assert.match(routeParents(b, 'r')[0].conditions[1].message, message);
    assert.ok(
      b.issues.some(
        (i) =>
          i.resource === 'HTTPRoute default/r' &&
          i.path === 'spec.rules[0].backendRefs[0]' &&
          i.severity === 'warning',
      ),
      ref,
    );
    // Still served: the rule answers 500 for the invalid backend's share.
    const o = simulate(b.table, { host: 'web', path: '/' }).outcome;
    assert.deepEqual(o.kind === 'forward' && o.clusters, [undefined], ref);
  }
  const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow, namespace: other}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
---
`;
  const b = build(
    service('web') +
      service('a', 80, 'other') +
      grant +
      route(`${toWeb()}\n  rules: [{backendRefs: [{name: a, namespace: other, port: 80}]}]`),
  );
  assert.deepEqual(routeConditions(b, 'r'), [OK]);
  const o = simulate(b.table, { host: 'web', path: '/' }).outcome;
  assert.deepEqual(o.kind === 'forward' && o.clusters, [cluster('a', 80, 'other')]);
});

test('a mirror to a missing backend: ResolvedRefs false, the mirror is dropped, the route still serves', () => {
  const b = build(
    service('web') +
      service('a') +
      route(
        `${toWeb()}\n  rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: ghost, port: 80}}}], backendRefs: [{name: a, port: 80}]}]`,
      ),
  );
  assert.deepEqual(routeConditions(b, 'r'), ['Accepted=True/Accepted ResolvedRefs=False/BackendNotFound']);
  assert.deepEqual(simulate(b.table, { host: 'web', path: '/' }).outcome, {
    kind: 'forward',
    clusters: [cluster('a')],
    path: '/',
    authority: 'web',
    mirrors: [],
  });
});

test('Accepted reasons for Service parents: NoMatchingParent for a missing service or port', () => {
  const b1 = build(
    service('a') +
      route(
        `  parentRefs: [{group: "", kind: Service, name: ghost}]\n  rules: [{backendRefs: [{name: a, port: 80}]}]`,
      ),
  );
  assert.deepEqual(routeConditions(b1, 'r'), [
    'Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs',
  ]);
  const b2 = build(
    service('web') +
      service('a') +
      route(`${toWeb(', port: 9999')}\n  rules: [{backendRefs: [{name: a, port: 80}]}]`),
  );
  assert.deepEqual(routeConditions(b2, 'r'), [
    'Accepted=False/NoMatchingParent ResolvedRefs=True/ResolvedRefs',
  ]);
  assert.match(routeParents(b2, 'r')[0].conditions[0].message, /has no port 9999/);
  assert.equal(
    simulate(b2.table, { host: 'web', path: '/' }).route?.origin.kind,
    'Service',
    'web keeps its default route',
  );
});

test('an unsupported filter: Accepted=False UnsupportedValue and none of the route is served (never half-applied)', () => {
  const b = build(
    service('web') +
      service('a') +
      service('b') +
      route(`${toWeb()}
  rules:
  - matches: [{path: {value: /good}}]
    backendRefs: [{name: a, port: 80}]
  - matches: [{path: {value: /bad}}]
    filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Magic, name: m}}]
    backendRefs: [{name: b, port: 80}]`),
  );
  assert.deepEqual(routeConditions(b, 'r'), [
    'Accepted=False/UnsupportedValue ResolvedRefs=True/ResolvedRefs',
  ]);
  // Neither rule is served: /good is not routed to a either, the service keeps its default route.
  assert.equal(simulate(b.table, { host: 'web', path: '/good' }).route?.origin.kind, 'Service');
  assert.ok(b.issues.some((i) => i.path === 'spec.rules[1].filters[0]' && /not supported/.test(i.message)));
  assert.equal(
    b.issues.filter((i) => i.severity === 'error').length,
    0,
    'reported through status and warnings; the rest of the configuration still loads',
  );
});

test('several parents each get their own status; an unknown parent kind gets none but an issue', () => {
  const b = build(
    service('web') +
      service('api') +
      service('a') +
      route(`  parentRefs:
  - {group: "", kind: Service, name: web}
  - {group: "", kind: Service, name: missing}
  - {group: example.com, kind: Mesh, name: m}
  - {group: "", kind: Service, name: api, port: 80}
  rules: [{backendRefs: [{name: a, port: 80}]}]`),
  );
  assert.deepEqual(
    routeParents(b, 'r').map((p) => [p.parentRef.name, p.conditions[0].reason]),
    [
      ['web', 'Accepted'],
      ['missing', 'NoMatchingParent'],
      ['api', 'Accepted'],
    ],
  );
  assert.ok(b.issues.some((i) => i.path === 'spec.parentRefs[2]' && /not supported/.test(i.message)));
  for (const host of ['web', 'api']) {
    const o = simulate(b.table, { host, path: '/' }).outcome;
    assert.deepEqual(o.kind === 'forward' && o.clusters, [cluster('a')], host);
  }
});

test('consumer and producer routes: a route in the client namespace replaces the producer routes for Umbra', () => {
  const producer = route(
    `  parentRefs: [{group: "", kind: Service, name: web, namespace: shop}]\n  rules: [{backendRefs: [{name: a, port: 80}]}]`,
    'producer',
    'shop',
  );
  const consumer = route(
    `  parentRefs: [{group: "", kind: Service, name: web, namespace: shop}]\n  rules: [{backendRefs: [{name: b, namespace: shop, port: 80}]}]`,
    'consumer',
    'default',
  );
  const elsewhere = route(
    `  parentRefs: [{group: "", kind: Service, name: web, namespace: shop}]\n  rules: [{backendRefs: [{name: c, namespace: shop, port: 80}]}]`,
    'other-team',
    'team',
  );
  const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: g, namespace: shop}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}, {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: team}]
  to: [{group: "", kind: Service}]
---
`;
  const svcs =
    service('web', 80, 'shop') +
    service('a', 80, 'shop') +
    service('b', 80, 'shop') +
    service('c', 80, 'shop') +
    grant;
  const to = (yaml: string) => {
    const o = simulate(build(yaml).table, { host: 'web.shop', path: '/' }).outcome;
    return o.kind === 'forward' ? o.clusters[0] : o.kind;
  };
  assert.equal(to(svcs + producer), cluster('a', 80, 'shop'), 'a producer route applies to every client');
  assert.equal(
    to(svcs + producer + consumer),
    cluster('b', 80, 'shop'),
    "the client namespace's own route wins",
  );
  assert.equal(
    to(svcs + producer + elsewhere),
    cluster('a', 80, 'shop'),
    "another namespace's consumer route is not for Umbra's clients",
  );
});

test('a route without parentRefs is attached to nothing: an issue, no status', () => {
  const b = build(service('a') + route(`  rules: [{backendRefs: [{name: a, port: 80}]}]`));
  assert.deepEqual(routeParents(b, 'r'), []);
  assert.ok(b.issues.some((i) => i.resource === 'HTTPRoute default/r' && /no parentRefs/.test(i.message)));
});
