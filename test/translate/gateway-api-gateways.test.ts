// Gateways Umbra serves (GatewayClass with controllerName umbra.dev/gateway-controller), simulated:
// listeners per port, hostname intersection, listener isolation, AllowedRoutes, sectionName/port,
// conflicts between Gateways, unsupported protocols, and the Gateway, listener and route status.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, cluster, routeConditions, service, simulate, type Built } from './gateway-api-sim.js';

const CLASS = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: umbra}
spec: {controllerName: umbra.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: other}
spec: {controllerName: example.com/other-controller}
---
`;

function gateway(name: string, listeners: string, cls = 'umbra', namespace = 'default', extra = ''): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  gatewayClassName: ${cls}
  listeners:
${listeners}
${extra}---
`;
}

function route(
  name: string,
  parentRefs: string,
  backend: string,
  opts: { namespace?: string; hostnames?: string; rules?: string } = {},
): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${opts.namespace ?? 'default'}}
spec:
  parentRefs: ${parentRefs}
${opts.hostnames ? `  hostnames: ${opts.hostnames}\n` : ''}  rules: ${opts.rules ?? `[{backendRefs: [{name: ${backend}, namespace: default, port: 80}]}]`}
---
`;
}

const backends = ['a', 'b', 'c', 'd'].map((n) => service(n)).join('');

function at(b: Built, port: number, host: string, path = '/'): string {
  const o = simulate(b.table, { host, path, gatewayPort: port }).outcome;
  return o.kind === 'forward' ? (o.clusters[0] ?? 'invalid') : o.kind === 'redirect' ? o.location : o.kind;
}

test('a Gateway of the Umbra class serves its HTTP listener; statuses of class, Gateway, listener and route', () => {
  const b = build(
    CLASS +
      backends +
      gateway('gw', '  - {name: http, port: 18080, protocol: HTTP}') +
      route('r', '[{name: gw}]', 'a'),
  );
  assert.equal(at(b, 18080, 'anything.example:18080'), cluster('a'));
  assert.deepEqual(routeConditions(b, 'r'), ['Accepted=True/Accepted ResolvedRefs=True/ResolvedRefs']);
  const cls = b.statuses.get('gateway.networking.k8s.io/GatewayClass//umbra') as {
    conditions: { type: string; status: string }[];
  };
  assert.deepEqual(
    cls.conditions.map((c) => `${c.type}=${c.status}`),
    ['Accepted=True'],
  );
  assert.equal(
    b.statuses.get('gateway.networking.k8s.io/GatewayClass//other'),
    undefined,
    "another controller's class is not Umbra's to report on",
  );
  const gw = b.statuses.get('gateway.networking.k8s.io/Gateway/default/gw') as {
    conditions: { type: string; status: string; reason: string }[];
    listeners: {
      name: string;
      attachedRoutes: number;
      supportedKinds: unknown[];
      conditions: { type: string; status: string }[];
    }[];
  };
  assert.deepEqual(
    gw.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
    ['Accepted=True/Accepted', 'Programmed=True/Programmed'],
  );
  assert.deepEqual(gw.listeners[0].supportedKinds, [
    { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
    { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' },
  ]);
  assert.equal(gw.listeners[0].attachedRoutes, 1);
  assert.deepEqual(
    gw.listeners[0].conditions.map((c) => `${c.type}=${c.status}`),
    ['Accepted=True', 'Programmed=True', 'ResolvedRefs=True', 'Conflicted=False'],
  );
  assert.deepEqual(
    b.table.gatewayListeners.map((l) => [l.address, l.port]),
    [['', 18080]],
  );
});

test("another controller's Gateway: not served, and no status for that parent", () => {
  const b = build(
    CLASS +
      backends +
      gateway('theirs', '  - {name: http, port: 18081, protocol: HTTP}', 'other') +
      route('r', '[{name: theirs}]', 'a'),
  );
  assert.deepEqual(b.table.gatewayListeners, []);
  assert.deepEqual(routeConditions(b, 'r'), []);
  assert.ok(
    b.issues.some((i) => i.resource === 'Gateway default/theirs' && /another controller/.test(i.message)),
  );
});

test('Accepted reasons for Gateway parents: NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname', () => {
  const gw = gateway(
    'gw',
    `  - {name: same, port: 18082, protocol: HTTP, hostname: "*.example.com"}
  - {name: all, port: 18083, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: labelled, port: 18084, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: blue}}}}}
  - {name: tls, port: 18443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}`,
  );
  const ns = `apiVersion: v1
kind: Namespace
metadata: {name: blue, labels: {team: blue}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: routes-from-team-and-blue, namespace: default}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: team}, {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: blue}]
  to: [{group: "", kind: Service}]
---
`;
  const b = build(
    CLASS +
      ns +
      backends +
      gw +
      route('missing-gw', '[{name: nope}]', 'a') +
      route('bad-section', '[{name: gw, sectionName: nope}]', 'a') +
      route('bad-port', '[{name: gw, port: 9}]', 'a') +
      route('other-ns-same', '[{name: gw, namespace: default, sectionName: same}]', 'a', {
        namespace: 'team',
      }) +
      route('other-ns-all', '[{name: gw, namespace: default, sectionName: all}]', 'b', {
        namespace: 'team',
      }) +
      route('blue-selector', '[{name: gw, namespace: default, sectionName: labelled}]', 'c', {
        namespace: 'blue',
      }) +
      route('red-selector', '[{name: gw, namespace: default, sectionName: labelled}]', 'c', {
        namespace: 'team',
      }) +
      route('to-https', '[{name: gw, sectionName: tls}]', 'a') +
      route('wrong-host', '[{name: gw, sectionName: same}]', 'a', { hostnames: '[example.org]' }),
  );
  const reason = (name: string, namespace = 'default') =>
    routeConditions(b, name, namespace)[0]?.split(' ')[0];
  assert.equal(reason('missing-gw'), 'Accepted=False/NoMatchingParent');
  assert.equal(reason('bad-section'), 'Accepted=False/NoMatchingParent');
  assert.equal(reason('bad-port'), 'Accepted=False/NoMatchingParent');
  assert.equal(reason('other-ns-same', 'team'), 'Accepted=False/NotAllowedByListeners');
  assert.equal(reason('other-ns-all', 'team'), 'Accepted=True/Accepted');
  assert.equal(reason('blue-selector', 'blue'), 'Accepted=True/Accepted');
  assert.equal(reason('red-selector', 'team'), 'Accepted=False/NotAllowedByListeners');
  assert.equal(reason('to-https'), 'Accepted=False/NotAllowedByListeners');
  assert.equal(reason('wrong-host'), 'Accepted=False/NoMatchingListenerHostname');
  // The HTTPS listener whose Secret is missing is reported and not served; the Gateway is accepted
  // with the others.
  const gws = b.statuses.get('gateway.networking.k8s.io/Gateway/default/gw') as {
    conditions: { type: string; status: string; reason: string }[];
    listeners: { name: string; conditions: { type: string; reason: string }[] }[];
  };
  assert.deepEqual(gws.conditions[0], {
    ...gws.conditions[0],
    type: 'Accepted',
    status: 'True',
    reason: 'ListenersNotValid',
  });
  const tls = gws.listeners.find((l) => l.name === 'tls')?.conditions ?? [];
  assert.deepEqual(
    tls.map((c) => `${c.type}/${c.reason}`),
    [
      'Accepted/Accepted',
      'Programmed/Invalid',
      'ResolvedRefs/InvalidCertificateRef',
      'Conflicted/NoConflicts',
    ],
  );
  assert.equal(at(b, 18083, 'x'), cluster('b'));
  assert.equal(at(b, 18084, 'x'), cluster('c'));
  assert.deepEqual(b.table.gatewayListeners.map((l) => l.port).sort(), [18082, 18083, 18084]);
});

test('hostname intersection between listener and route, with the route served only for the intersection', () => {
  const b = build(
    CLASS +
      backends +
      gateway(
        'gw',
        `  - {name: wild, port: 18085, protocol: HTTP, hostname: "*.example.com"}
  - {name: exact, port: 18086, protocol: HTTP, hostname: foo.example.com}`,
      ) +
      route('narrow', '[{name: gw, sectionName: wild}]', 'a', { hostnames: '[foo.example.com, other.org]' }) +
      route('wide', '[{name: gw, sectionName: exact}]', 'b', { hostnames: '["*.example.com"]' }),
  );
  assert.equal(at(b, 18085, 'foo.example.com'), cluster('a'));
  assert.equal(at(b, 18085, 'foo.example.com:18085'), cluster('a'), 'the port in Host is ignored');
  assert.equal(at(b, 18085, 'bar.example.com'), 'no-route');
  assert.equal(at(b, 18085, 'other.org'), 'no-route', 'outside the listener hostname');
  assert.equal(
    at(b, 18086, 'foo.example.com'),
    cluster('b'),
    'a wildcard route on an exact listener serves the listener hostname',
  );
  assert.equal(at(b, 18086, 'bar.example.com'), 'no-route');
});

test('listener isolation: a request is served by the routes of the most specific listener of its port', () => {
  const b = build(
    CLASS +
      backends +
      gateway(
        'gw',
        `  - {name: empty, port: 18087, protocol: HTTP}
  - {name: wildcard, port: 18087, protocol: HTTP, hostname: "*.example.com"}
  - {name: foo, port: 18087, protocol: HTTP, hostname: foo.example.com}`,
      ) +
      route('on-empty', '[{name: gw, sectionName: empty}]', 'a') +
      route('on-wildcard', '[{name: gw, sectionName: wildcard}]', 'b') +
      route('on-foo', '[{name: gw, sectionName: foo}]', 'c', {
        rules: '[{matches: [{path: {value: /foo-only}}], backendRefs: [{name: c, port: 80}]}]',
      }),
  );
  assert.equal(b.table.gatewayListeners.length, 1, 'one proxy listener for the three on one port');
  assert.equal(at(b, 18087, 'foo.example.com', '/foo-only'), cluster('c'));
  assert.equal(
    at(b, 18087, 'foo.example.com', '/'),
    'no-route',
    'not handed down to the wildcard or empty listener',
  );
  assert.equal(at(b, 18087, 'bar.example.com'), cluster('b'));
  assert.equal(at(b, 18087, 'a.b.example.com'), cluster('b'));
  assert.equal(at(b, 18087, 'example.com'), cluster('a'), '*.example.com does not cover example.com');
  assert.equal(at(b, 18087, 'elsewhere.org'), cluster('a'));
});

test('two Gateways on one port: the older keeps a hostname, the other listener is Conflicted', () => {
  const b = build(
    CLASS +
      backends +
      gateway('first', '  - {name: http, port: 18088, protocol: HTTP, hostname: shared.example}') +
      gateway(
        'second',
        '  - {name: http, port: 18088, protocol: HTTP, hostname: shared.example}\n  - {name: own, port: 18088, protocol: HTTP, hostname: own.example}',
      ) +
      route('r1', '[{name: first}]', 'a') +
      route('r2', '[{name: second}]', 'b'),
  );
  assert.equal(at(b, 18088, 'shared.example'), cluster('a'));
  assert.equal(at(b, 18088, 'own.example'), cluster('b'));
  const st = b.statuses.get('gateway.networking.k8s.io/Gateway/default/second') as {
    listeners: { name: string; conditions: { type: string; status: string; reason: string }[] }[];
  };
  const conflicted = st.listeners
    .find((l) => l.name === 'http')!
    .conditions.find((c) => c.type === 'Conflicted');
  assert.deepEqual([conflicted?.status, conflicted?.reason], ['True', 'HostnameConflict']);
});

test('on a Gateway, a redirect without scheme and port keeps the listener port; precedence holds per hostname', () => {
  const b = build(
    CLASS +
      backends +
      gateway('gw', '  - {name: http, port: 18089, protocol: HTTP}') +
      route('redir', '[{name: gw}]', 'a', {
        rules:
          '[{matches: [{path: {value: /r}}], filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]}]',
      }) +
      route('deep', '[{name: gw}]', 'b', {
        rules: '[{matches: [{path: {value: /r/deeper}}], backendRefs: [{name: b, port: 80}]}]',
      }),
  );
  assert.equal(at(b, 18089, 'gw.test:18089', '/r/x'), 'http://example.org:18089/r/x');
  assert.equal(at(b, 18089, 'gw.test:18089', '/r/deeper/x'), cluster('b'));
});
