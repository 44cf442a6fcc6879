// Simulation: every HTTPMatchRequest field of an Istio VirtualService — YAML and a request in, the
// route and cluster it reaches out — with Envoy's semantics where Istio leaves them to Envoy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, HTTPBIN, issuesAt, sim, table, V1, V2, vs } from './sim.js';

/** A VirtualService whose first rule has `match` (YAML under `- match:`) → v2, and a catch-all → v1. */
function matchToV2(match: string): ReturnType<typeof table> {
  return table(`${HTTPBIN}---
${vs(
  'httpbin',
  ['httpbin'],
  `- name: hit
  match:
${match
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
  route:
  - destination: {host: httpbin, subset: v2}
- name: rest
  route:
  - destination: {host: httpbin, subset: v1}`,
)}`);
}

const to = (t: ReturnType<typeof table>, url: string, headers: Record<string, string> = {}, method = 'GET') =>
  sim(t, url, { method, headers }).cluster;

test('uri exact, prefix and regex; a hand-written prefix /v2 also takes /v2example', () => {
  const exact = matchToV2('- uri: {exact: /status/418}');
  assert.equal(to(exact, 'http://httpbin:8000/status/418'), V2);
  assert.equal(to(exact, 'http://httpbin:8000/status/4181'), V1);
  assert.equal(to(exact, 'http://httpbin:8000/status/418?x=1'), V2, 'the query is not part of the path');
  const pre = matchToV2('- uri: {prefix: /v2}');
  assert.equal(to(pre, 'http://httpbin:8000/v2/x'), V2);
  assert.equal(to(pre, 'http://httpbin:8000/v2example'), V2);
  assert.equal(to(pre, 'http://httpbin:8000/v1'), V1);
  const re = matchToV2('- uri: {regex: "/items/[0-9]+"}');
  assert.equal(to(re, 'http://httpbin:8000/items/42'), V2);
  assert.equal(to(re, 'http://httpbin:8000/items/42/x'), V1, 'regexes match the whole path');
});

test('ignoreUriCase applies to exact and prefix, not to regex (Envoy case_sensitive)', () => {
  const t = matchToV2(
    '- uri: {prefix: /API}\n  ignoreUriCase: true\n- uri: {regex: "/Re"}\n  ignoreUriCase: true',
  );
  assert.equal(to(t, 'http://httpbin:8000/api/x'), V2);
  assert.equal(to(t, 'http://httpbin:8000/Api'), V2);
  assert.equal(to(t, 'http://httpbin:8000/Re'), V2);
  assert.equal(to(t, 'http://httpbin:8000/re'), V1);
});

test('scheme, method and authority', () => {
  const scheme = matchToV2('- scheme: {exact: https}');
  assert.equal(to(scheme, 'https://httpbin:8000/'), V2);
  assert.equal(to(scheme, 'http://httpbin:8000/'), V1);
  const method = matchToV2('- method: {regex: "POST|PUT"}');
  assert.equal(to(method, 'http://httpbin:8000/', {}, 'PUT'), V2);
  assert.equal(to(method, 'http://httpbin:8000/', {}, 'GET'), V1);
  const authority = matchToV2('- authority: {prefix: "httpbin.default"}');
  assert.equal(to(authority, 'http://httpbin.default:8000/'), V2);
  assert.equal(to(authority, 'http://httpbin:8000/'), V1);
});

test('headers: exact, prefix, regex, presence ({} and regex "*"); several conditions are AND-ed', () => {
  const t = matchToV2('- headers:\n    end-user: {exact: jason}\n    x-canary: {}');
  assert.equal(to(t, 'http://httpbin:8000/', { 'end-user': 'jason', 'x-canary': '' }), V2);
  assert.equal(to(t, 'http://httpbin:8000/', { 'end-user': 'jason' }), V1, 'x-canary missing');
  assert.equal(
    to(t, 'http://httpbin:8000/', { 'End-User': 'Jason', 'x-canary': '1' }),
    V1,
    'values are case-sensitive',
  );
  const star = matchToV2('- headers:\n    x-debug: {regex: "*"}');
  assert.equal(
    to(star, 'http://httpbin:8000/', { 'x-debug': 'anything' }),
    V2,
    'regex "*" means present (istio #20629)',
  );
  assert.equal(to(star, 'http://httpbin:8000/'), V1);
  const pre = matchToV2('- headers:\n    user-agent: {prefix: "curl/"}');
  assert.equal(to(pre, 'http://httpbin:8000/', { 'user-agent': 'curl/8.5' }), V2);
  const re = matchToV2('- headers:\n    x-tenant: {regex: "t-[a-z]{2}"}');
  assert.equal(to(re, 'http://httpbin:8000/', { 'x-tenant': 't-eu' }), V2);
  assert.equal(to(re, 'http://httpbin:8000/', { 'x-tenant': 't-eur' }), V1);
});

test('queryParams: exact and regex on the raw value, presence, first occurrence', () => {
  const t = matchToV2('- queryParams:\n    v: {exact: "2"}');
  assert.equal(to(t, 'http://httpbin:8000/?v=2'), V2);
  assert.equal(to(t, 'http://httpbin:8000/?a=1&v=2&v=3'), V2);
  assert.equal(to(t, 'http://httpbin:8000/?v=3&v=2'), V1, 'the first value counts');
  assert.equal(to(t, 'http://httpbin:8000/?vv=2'), V1);
  const raw = matchToV2('- queryParams:\n    q: {exact: "a%20b"}');
  assert.equal(
    to(raw, 'http://httpbin:8000/?q=a%20b'),
    V2,
    'Envoy matches query values without decoding them',
  );
  const present = matchToV2('- queryParams:\n    debug: {}');
  assert.equal(to(present, 'http://httpbin:8000/?debug'), V2);
  assert.equal(to(present, 'http://httpbin:8000/?x=debug'), V1);
});

test('withoutHeaders: a match only without the header — a missing header counts as ""', () => {
  const t = matchToV2('- withoutHeaders:\n    x-internal: {exact: "yes"}');
  assert.equal(to(t, 'http://httpbin:8000/'), V2);
  assert.equal(to(t, 'http://httpbin:8000/', { 'x-internal': 'no' }), V2);
  assert.equal(to(t, 'http://httpbin:8000/', { 'x-internal': 'yes' }), V1);
  const any = matchToV2('- withoutHeaders:\n    x-internal: {}');
  assert.equal(to(any, 'http://httpbin:8000/', { 'x-internal': 'no' }), V1);
  const dotStar = matchToV2('- withoutHeaders:\n    x-internal: {regex: ".*"}');
  assert.equal(
    to(dotStar, 'http://httpbin:8000/'),
    V1,
    'treat_missing_header_as_empty: ".*" matches the missing header too',
  );
});

test('port: a match block only applies on that service port', () => {
  const t =
    table(`${HTTPBIN.replace('  - name: http-8000\n    port: 8000\n    targetPort: 80', '  - name: http-8000\n    port: 8000\n    targetPort: 80\n  - name: http-9000\n    port: 9000\n    targetPort: 80')}---
${vs(
  'httpbin',
  ['httpbin'],
  `- match:
  - port: 9000
  route:
  - destination: {host: httpbin, subset: v2, port: {number: 9000}}
- route:
  - destination: {host: httpbin, subset: v1}`,
)}`);
  assert.equal(sim(t, 'http://httpbin:9000/').cluster, 'outbound|9000|v2|httpbin.default.svc.cluster.local');
  assert.equal(sim(t, 'http://httpbin:8000/').cluster, 'outbound|8000|v1|httpbin.default.svc.cluster.local');
});

test('several match blocks are OR-ed; named blocks name the route "rule.match" as Istio does', () => {
  const t = matchToV2('- name: legacy\n  uri: {prefix: /old}\n- name: tagged\n  headers:\n    x-v2: {}');
  const a = sim(t, 'http://httpbin:8000/old/x');
  assert.equal(a.cluster, V2);
  assert.equal(a.route, 'hit.legacy');
  const b = sim(t, 'http://httpbin:8000/new', { headers: { 'x-v2': '1' } });
  assert.equal(b.route, 'hit.tagged');
  assert.equal(sim(t, 'http://httpbin:8000/new').route, 'rest');
  assert.equal(b.origin?.path, 'spec.http[0].match[1]');
});

test('rules are evaluated in order: the first match wins', () => {
  const t = table(`${HTTPBIN}---
${vs(
  'httpbin',
  ['httpbin'],
  `- match:
  - uri: {prefix: /a}
  route:
  - destination: {host: httpbin, subset: v1}
- match:
  - uri: {prefix: /a/b}
  route:
  - destination: {host: httpbin, subset: v2}`,
)}`);
  assert.equal(sim(t, 'http://httpbin:8000/a/b').cluster, V1);
  assert.equal(sim(t, 'http://httpbin:8000/c').flag, 'NR');
  assert.equal(sim(t, 'http://httpbin:8000/c').status, 404);
});

test('a pattern RE2 refuses is a config error with its field; a JWT-claim header is reported and never matches', () => {
  const bad = compile(`${HTTPBIN}---
${vs(
  'httpbin',
  ['httpbin'],
  `- match:
  - uri: {regex: "(a)\\\\1"}
  route:
  - destination: {host: httpbin}`,
)}`);
  const e = bad.issues.find((i) => i.severity === 'error');
  assert.ok(e, 'an error');
  assert.equal(e.path, 'spec.http[0].match[0].uri.regex');
  assert.match(e.message, /RE2|regular expression/i);

  const jwt = compile(`${HTTPBIN}---
${vs(
  'httpbin',
  ['httpbin'],
  `- match:
  - headers:
      "@request.auth.claims.group": {exact: admin}
  route:
  - destination: {host: httpbin, subset: v2}
- route:
  - destination: {host: httpbin, subset: v1}`,
)}`);
  const w = issuesAt(jwt, 'spec.http[0].match[0].headers["@request.auth.claims.group"]');
  assert.equal(w.length, 1);
  assert.match(w[0].message, /JWT claim matching is not supported/);
  assert.equal(
    sim(jwt.table, 'http://httpbin:8000/', { headers: { '@request.auth.claims.group': 'admin' } }).cluster,
    V1,
  );
});

test('gateways without mesh, sourceLabels and another sourceNamespace narrow a block to clients Umbra never has', () => {
  for (const cond of [
    '- gateways: [istio-system/ingress]',
    '- sourceLabels: {app: canary}',
    '- sourceNamespace: other',
  ]) {
    const t = matchToV2(cond);
    assert.equal(to(t, 'http://httpbin:8000/'), V1, `${cond} must not take mesh traffic`);
  }
  assert.equal(to(matchToV2('- gateways: [mesh, istio-system/ingress]'), 'http://httpbin:8000/'), V2);
  assert.equal(to(matchToV2('- sourceLabels: {}\n  uri: {prefix: /}'), 'http://httpbin:8000/'), V2);
  // Umbra's clients are in its own namespace (the default here).
  assert.equal(to(matchToV2('- sourceNamespace: default'), 'http://httpbin:8000/'), V2);
  const c = compile(`${HTTPBIN}---
${vs('httpbin', ['httpbin'], `- match:\n  - sourceLabels: {app: canary}\n  route:\n  - destination: {host: httpbin, subset: v2}`)}`);
  assert.match(issuesAt(c, 'spec.http[0].match[0].sourceLabels')[0].message, /never matches/);
});

test('a VirtualService bound only to gateways is not applied to the mesh (the service keeps its default route)', () => {
  const c = compile(`${HTTPBIN}---
${vs('ingress', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v2}`, '  gateways: [istio-system/ingress]\n')}`);
  assert.match(issuesAt(c, 'spec.gateways')[0].message, /not applied/);
  for (let i = 0; i < 10; i++) assert.notEqual(sim(c.table, 'http://httpbin:8000/').cluster, V2);
  const mesh = table(`${HTTPBIN}---
${vs('both', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v2}`, '  gateways: [istio-system/ingress, mesh]\n')}`);
  assert.equal(sim(mesh, 'http://httpbin:8000/').cluster, V2);
});
