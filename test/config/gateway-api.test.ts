// Gateway API resources: RequestMirror percent/fraction rules, filter type consistency, defaults,
// path syntax, rule-level CEL rules and Gateway listeners.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPaths, loadText } from '../../src/config/load.js';
import { formatIssue, type ConfigIssue } from '../../src/config/issues.js';
import { ofKind } from '../../src/config/validate.js';
import { fixture } from './fixtures.js';

const errors = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'error');

function route(rules: string, version = 'v1'): string {
  return `apiVersion: gateway.networking.k8s.io/${version}
kind: HTTPRoute
metadata:
  name: httpbin
spec:
  parentRefs:
  - {group: "", kind: Service, name: httpbin, port: 8000}
  rules:
  ${rules.trim().replace(/\n/g, '\n  ')}
`;
}

test('fraction numerator greater than denominator is an error', async () => {
  const r = await loadPaths([fixture('invalid/httproute-fraction.yaml')]);
  assert.equal(r.resources.length, 0);
  const [i] = errors(r.issues);
  assert.equal(i.path, 'spec.rules[0].filters[0].requestMirror.fraction.numerator');
  assert.equal(i.line, 19);
  assert.match(i.message, /numerator \(3\) must be less than or equal to denominator \(2\)/);
});

test('percent and fraction together is an error; filter type must match its field', async () => {
  const r = await loadPaths([fixture('invalid/httproute-percent-and-fraction.yaml')]);
  assert.deepEqual(
    errors(r.issues).map((i) => [i.line, i.path]),
    [
      [19, 'spec.rules[0].filters[0].requestMirror.fraction'],
      [21, 'spec.rules[0].filters[1]'],
      [22, 'spec.rules[0].filters[1].requestMirror'],
    ],
  );
  assert.match(r.issues[0].message, /only one of percent or fraction/);
});

test('requestMirror: percent range, fraction defaults, several mirrors per rule', () => {
  const ok = loadText(
    route(`- filters:
  - type: RequestMirror
    requestMirror: {backendRef: {name: v2, port: 80}, fraction: {numerator: 1}}
  - type: RequestMirror
    requestMirror: {backendRef: {name: v3, port: 80}, percent: 0}
  backendRefs: [{name: v1, port: 80, weight: 0}]`),
    'm.yaml',
  );
  assert.deepEqual(ok.issues.map(formatIssue), []);
  const [hr] = ofKind(ok.resources, 'HTTPRoute');
  assert.deepEqual(hr.spec.rules[0].filters?.[0].requestMirror?.fraction, { numerator: 1, denominator: 100 });
  assert.equal(hr.spec.rules[0].backendRefs?.[0].weight, 0);

  for (const bad of [
    'percent: 101',
    'percent: -1',
    'percent: 12.5',
    'fraction: {numerator: -1}',
    'fraction: {numerator: 0, denominator: 0}',
  ]) {
    const r = loadText(
      route(`- filters:
  - type: RequestMirror
    requestMirror: {backendRef: {name: v2, port: 80}, ${bad}}
  backendRefs: [{name: v1, port: 80}]`),
      'm.yaml',
    );
    assert.equal(errors(r.issues).length, 1, `${bad}: ${r.issues.map(formatIssue).join('\n')}`);
  }
});

test('a Service backendRef needs a port; weights are bounded', () => {
  const r = loadText(
    route(`- backendRefs:\n  - {name: v1}\n  - {name: v2, port: 80, weight: 1000001}`),
    'b.yaml',
  );
  assert.deepEqual(
    errors(r.issues).map((i) => i.path),
    ['spec.rules[0].backendRefs[0].port', 'spec.rules[0].backendRefs[1].weight'],
  );
});

test('matches: defaults, path syntax, RE2 regexes, methods', () => {
  const ok = loadText(
    route(`- matches:
  - path: {type: Exact, value: /headers}
    method: GET
    headers: [{name: x-user, value: jason}]
  - path: {type: RegularExpression, value: "/v[0-9]+/.*"}
    queryParams: [{type: RegularExpression, name: q, value: "a|b"}]
  backendRefs: [{name: v1, port: 80}]`),
    'p.yaml',
  );
  assert.deepEqual(ok.issues.map(formatIssue), []);
  const [hr] = ofKind(ok.resources, 'HTTPRoute');
  assert.deepEqual(hr.spec.rules[0].matches[0].headers, [{ type: 'Exact', name: 'x-user', value: 'jason' }]);

  const bad = loadText(
    route(`- matches:
  - path: {type: PathPrefix, value: "v2"}
  - path: {value: "/a//b"}
  - path: {type: RegularExpression, value: "(?!x)"}
  - headers: [{type: RegularExpression, name: x, value: "a{2,1}"}]
  - method: get
  - path: {type: Prefix, value: /}
  backendRefs: [{name: v1, port: 80}]`),
    'p.yaml',
  );
  assert.deepEqual(
    errors(bad.issues).map((i) => i.path),
    [
      'spec.rules[0].matches[0].path.value',
      'spec.rules[0].matches[1].path.value',
      'spec.rules[0].matches[2].path.value',
      'spec.rules[0].matches[3].headers[0].value',
      'spec.rules[0].matches[4].method',
      'spec.rules[0].matches[5].path.type',
    ],
  );
  assert.match(errors(bad.issues)[2].message, /not RE2/);
  assert.equal(errors(bad.issues)[5].hint, 'did you mean "PathPrefix"?');
});

test('rule-level rules: redirect with backends, redirect with rewrite, repeated filters, timeouts', () => {
  const r = loadText(
    route(`- filters:
  - type: RequestRedirect
    requestRedirect: {scheme: https, statusCode: 301}
  - type: URLRewrite
    urlRewrite: {hostname: example.com}
  - type: RequestHeaderModifier
    requestHeaderModifier: {set: [{name: x-a, value: "1"}]}
  - type: RequestHeaderModifier
    requestHeaderModifier: {remove: [x-b]}
  backendRefs: [{name: v1, port: 80}]
  timeouts: {request: 1s, backendRequest: 2s}`),
    'r.yaml',
  );
  const msgs = errors(r.issues).map((i) => i.message);
  assert.ok(msgs.some((m) => /RequestRedirect filter must not be used together with backendRefs/.test(m)));
  assert.ok(msgs.some((m) => /cannot be combined/.test(m)));
  assert.ok(msgs.some((m) => /RequestHeaderModifier filter cannot be repeated/.test(m)));
  assert.ok(msgs.some((m) => /backendRequest timeout cannot be longer/.test(m)));
});

test('redirect defaults to 302 and only allows redirect codes; durations use GEP-2257', () => {
  const ok = loadText(
    route(`- filters:\n  - type: RequestRedirect\n    requestRedirect: {hostname: example.com}`),
    'r.yaml',
  );
  assert.deepEqual(ok.issues.map(formatIssue), []);
  assert.equal(
    ofKind(ok.resources, 'HTTPRoute')[0].spec.rules[0].filters?.[0].requestRedirect?.statusCode,
    302,
  );
  const bad = loadText(
    route(
      `- filters:\n  - type: RequestRedirect\n    requestRedirect: {statusCode: 300}\n  timeouts: {request: 1.5s}`,
    ),
    'r.yaml',
  );
  assert.deepEqual(
    errors(bad.issues).map((i) => i.path),
    ['spec.rules[0].filters[0].requestRedirect.statusCode', 'spec.rules[0].timeouts.request'],
  );
});

test('header modifiers allow one action per header name', () => {
  const r = loadText(
    route(`- filters:
  - type: ResponseHeaderModifier
    responseHeaderModifier:
      set: [{name: X-A, value: "1"}]
      remove: [x-a]
  backendRefs: [{name: v1, port: 80}]`),
    'h.yaml',
  );
  assert.deepEqual(
    errors(r.issues).map((i) => i.path),
    ['spec.rules[0].filters[0].responseHeaderModifier.remove[0]'],
  );
});

test('v1beta1 HTTPRoute is accepted; v1alpha2 is not, and the error lists versions', () => {
  const ok = loadText(route(`- backendRefs: [{name: v1, port: 80}]`, 'v1beta1'), 'v.yaml');
  assert.deepEqual(ok.issues.map(formatIssue), []);
  const old = loadText(route(`- backendRefs: [{name: v1, port: 80}]`, 'v1alpha2'), 'v.yaml');
  assert.equal(old.issues.length, 1);
  assert.equal(old.issues[0].path, 'apiVersion');
  assert.match(
    old.issues[0].message,
    /accepted: gateway\.networking\.k8s\.io\/v1, gateway\.networking\.k8s\.io\/v1beta1/,
  );
});

test('a route without rules gets the default catch-all rule', () => {
  const r = loadText(
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: empty}
spec:
  parentRefs: [{name: gw}]
`,
    'e.yaml',
  );
  assert.deepEqual(r.issues, []);
  const [hr] = ofKind(r.resources, 'HTTPRoute');
  assert.deepEqual(hr.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }]);
  assert.deepEqual(hr.spec.rules, [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }]);
});

test('Gateway and GatewayClass: listeners, protocols, defaults; Istio Gateway stored with a warning', () => {
  const r = loadText(
    `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: umbra}
spec:
  controllerName: umbra.dev/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: umbra
  listeners:
  - {name: http, port: 8080, protocol: HTTP, hostname: "*.example.com"}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`,
    'gw.yaml',
  );
  assert.deepEqual(errors(r.issues), []);
  // An Istio Gateway is served when Umbra runs as the workload it selects (istio-gateways.ts).
  assert.deepEqual(r.issues, []);
  const gws = ofKind(r.resources, 'Gateway');
  assert.equal(gws.length, 1, 'ofKind("Gateway") is the Gateway API kind');
  assert.deepEqual(gws[0].spec.listeners[0].allowedRoutes, { namespaces: { from: 'Same' } });
  assert.equal(ofKind(r.resources, 'Gateway', 'networking.istio.io').length, 1);
  const [gc] = ofKind(r.resources, 'GatewayClass');
  assert.equal(gc.metadata.namespace, '', 'cluster-scoped');

  const bad = loadText(
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: umbra
  listeners:
  - {name: http, port: 8080, protocol: HTTP, tls: {mode: Terminate}}
  - {name: http, port: 8081, protocol: HTTP2}
  - {name: tcp, port: 9000, protocol: TCP, hostname: a.example.com}
`,
    'gw.yaml',
  );
  assert.deepEqual(
    errors(bad.issues).map((i) => i.path),
    [
      'spec.listeners[0].tls',
      'spec.listeners[1].name',
      'spec.listeners[1].protocol',
      'spec.listeners[2].hostname',
    ],
  );
});
