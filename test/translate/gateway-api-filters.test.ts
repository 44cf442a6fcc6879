// Gateway API filters and backends, simulated (YAML in → what the request gets, no sockets):
// RequestRedirect (302 by default, the port rules), URLRewrite (the spec's ReplacePrefixMatch
// table), header modifiers on rules and backendRefs, RequestMirror (percent, fraction, several per
// rule, and what each copy sees), weights, invalid backends (500) and timeouts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ForwardAction, MirrorPolicy, Route } from '../../src/model/route-table.js';
import { build, cluster, service, simulate } from './gateway-api-sim.js';

const backends = service('a') + service('b') + service('c') + service('mirror');

function mesh(rules: string, name = 'r'): string {
  return `${backends}${service('web')}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 80}]
  rules:
${rules}
`;
}

function forward(r: Route | undefined): ForwardAction {
  assert.equal(r?.action.kind, 'forward');
  return r!.action as ForwardAction;
}

test('RequestRedirect: 302 by default; scheme, hostname, port, full path and prefix replacement', () => {
  const redirect = (
    path: string,
    filter: string,
  ) => `  - matches: [{path: {type: PathPrefix, value: ${path}}}]
    filters: [{type: RequestRedirect, requestRedirect: ${filter}}]`;
  const b = build(
    mesh(
      [
        redirect('/plain', '{}'),
        redirect('/host', '{hostname: example.org}'),
        redirect('/https', '{scheme: https}'),
        redirect('/https-8443', '{scheme: https, port: 8443}'),
        redirect('/port-8080', '{port: 8080}'),
        redirect('/port-80', '{port: 80}'),
        redirect('/full', '{path: {type: ReplaceFullPath, replaceFullPath: /new}, statusCode: 301}'),
        redirect('/old', '{path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}'),
      ].join('\n'),
    ),
  );
  const loc = (host: string, path: string) => simulate(b.table, { host, path }).outcome;
  assert.deepEqual(loc('web', '/plain'), { kind: 'redirect', status: 302, location: 'http://web/plain' });
  // No scheme and no port: the listener's (service's) port, here 80, which the Location leaves out.
  assert.deepEqual(loc('web:80', '/host?x=1'), {
    kind: 'redirect',
    status: 302,
    location: 'http://example.org/host?x=1',
  });
  assert.deepEqual(
    loc('web', '/https'),
    { kind: 'redirect', status: 302, location: 'https://web/https' },
    'a scheme brings its well-known port',
  );
  assert.deepEqual(loc('web', '/https-8443'), {
    kind: 'redirect',
    status: 302,
    location: 'https://web:8443/https-8443',
  });
  assert.deepEqual(loc('web', '/port-8080'), {
    kind: 'redirect',
    status: 302,
    location: 'http://web:8080/port-8080',
  });
  assert.deepEqual(loc('web', '/port-80'), { kind: 'redirect', status: 302, location: 'http://web/port-80' });
  assert.deepEqual(loc('web', '/full/x'), { kind: 'redirect', status: 301, location: 'http://web/new' });
  assert.deepEqual(loc('web', '/old/x/y'), { kind: 'redirect', status: 302, location: 'http://web/new/x/y' });
});

test('a redirect without scheme and port keeps the listener port: a service on 8000', () => {
  const b = build(`${service('svc8000', 8000)}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{group: "", kind: Service, name: svc8000}]
  rules: [{filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]}]
`);
  assert.deepEqual(simulate(b.table, { host: 'svc8000', path: '/p' }).outcome, {
    kind: 'redirect',
    status: 302,
    location: 'http://example.org:8000/p',
  });
});

test('URLRewrite ReplacePrefixMatch follows the spec table; ReplaceFullPath and hostname', () => {
  // HTTPPathModifier.replacePrefixMatch (gateway.networking.k8s.io/v1): request, prefix, replacement → path.
  const table: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    // The prefix "/" is the empty run of segments.
    ['/foo', '/', '/xyz', '/xyz/foo'],
    ['/foo/bar', '/', '/', '/foo/bar'],
  ];
  for (const [req, prefix, repl, want] of table) {
    const b = build(
      mesh(`  - matches: [{path: {type: PathPrefix, value: "${prefix}"}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: "${repl}"}}}]
    backendRefs: [{name: a, port: 80}]`),
    );
    const o = simulate(b.table, { host: 'web', path: req }).outcome;
    assert.equal(o.kind === 'forward' && o.path, want, `${req} with ${prefix} → "${repl}"`);
  }
  const full = build(
    mesh(`  - filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.example, path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
    backendRefs: [{name: a, port: 80}]`),
  );
  const o = simulate(full.table, { host: 'web', path: '/full/one/two?q=1' }).outcome;
  assert.deepEqual(o.kind === 'forward' && [o.path, o.authority], ['/one', 'rewritten.example']);
});

test('header modifiers: rule-level on the route, backendRef-level on the backend; names lower-cased', () => {
  const b = build(
    mesh(`  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Set, value: s}], add: [{name: X-Add, value: a}], remove: [X-Remove]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: X-Resp, value: r}]}
    backendRefs:
    - name: a
      port: 80
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Backend, value: a}]}}]`),
  );
  const r = simulate(b.table, { host: 'web', path: '/' }).route!;
  assert.deepEqual(r.requestHeaders, { set: [['x-set', 's']], add: [['x-add', 'a']], remove: ['x-remove'] });
  assert.deepEqual(r.responseHeaders, { set: undefined, add: [['x-resp', 'r']], remove: undefined });
  assert.deepEqual(forward(r).backends[0].requestHeaders, {
    set: [['x-backend', 'a']],
    add: undefined,
    remove: undefined,
  });
});

test('weights: proportional; weight 0 gets nothing; an invalid backend keeps its share and answers 500', () => {
  const b = build(
    mesh(`  - backendRefs:
    - {name: a, port: 80, weight: 3}
    - {name: b, port: 80, weight: 0}
    - {name: missing, port: 80, weight: 1}`),
  );
  const a = forward(simulate(b.table, { host: 'web', path: '/' }).route);
  assert.deepEqual(
    a.backends.map((x) => [x.cluster, x.weight]),
    [
      [cluster('a'), 3],
      [cluster('b'), 0],
      [undefined, 1],
    ],
  );
  assert.equal(a.totalWeight, 4);
  assert.equal(a.noBackendStatus, 500);
  const none = build(mesh(`  - matches: [{path: {type: PathPrefix, value: /}}]`));
  const n = forward(simulate(none.table, { host: 'web', path: '/' }).route);
  assert.deepEqual(
    [n.backends.length, n.totalWeight, n.noBackendStatus],
    [0, 0, 500],
    'no backendRefs: every request gets 500',
  );
});

test('timeouts: request → route timeout, backendRequest → per-attempt timeout', () => {
  const b = build(
    mesh(`  - timeouts: {request: 10s, backendRequest: 1500ms}\n    backendRefs: [{name: a, port: 80}]`),
  );
  const a = forward(simulate(b.table, { host: 'web', path: '/' }).route);
  assert.deepEqual([a.timeoutMs, a.perTryTimeoutMs], [10_000, 1_500]);
  const none = forward(
    simulate(build(mesh(`  - backendRefs: [{name: a, port: 80}]`)).table, { host: 'web', path: '/' }).route,
  );
  assert.deepEqual([none.timeoutMs, none.perTryTimeoutMs], [0, 0], 'no timeouts unless configured');
});

test('RequestMirror: percent, fraction and neither → parts per million; 0 → no mirror; several per rule', () => {
  const m = (backend: string, extra = '') =>
    `    - type: RequestMirror\n      requestMirror: {backendRef: {name: ${backend}, port: 80}${extra}}`;
  const b = build(
    mesh(`  - filters:
${m('mirror', ', percent: 20')}
${m('b', ', fraction: {numerator: 1, denominator: 3}')}
${m('c', ', fraction: {numerator: 5}')}
${m('a')}
${m('a', ', percent: 0')}
    backendRefs: [{name: a, port: 80}]`),
  );
  const mirrors = forward(simulate(b.table, { host: 'web', path: '/' }).route).mirrors;
  assert.deepEqual(
    mirrors.map((x) => [x.cluster, x.ppm]),
    [
      [cluster('mirror'), 200_000],
      [cluster('b'), 333_333],
      [cluster('c'), 50_000],
      [cluster('a'), 1_000_000],
    ],
  );
});

test('RequestMirror copies see only the filters listed before them, never backendRef filters', () => {
  const b = build(
    mesh(`  - filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: a, port: 80}}}
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-after, value: "1"}]}
    - {type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}}}
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /rewritten}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: c, port: 80}}}
    backendRefs: [{name: a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /plain}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-before, value: "1"}]}
    - {type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}}}
    backendRefs: [{name: a, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /backend-filter}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: b, port: 80}}}]
    backendRefs:
    - name: a
      port: 80
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-backend, value: "1"}]}}]`),
  );
  const mirrors = (path: string): MirrorPolicy[] =>
    forward(simulate(b.table, { host: 'web', path }).route).mirrors as MirrorPolicy[];
  const [first, second, third] = mirrors('/x');
  assert.deepEqual(
    first.copyOf,
    { requestHeaders: undefined, rewritten: false },
    'listed first: sees neither the header change nor the rewrite',
  );
  assert.deepEqual(second.copyOf, {
    requestHeaders: { set: [['x-after', '1']], add: undefined, remove: undefined },
    rewritten: false,
  });
  assert.equal(third.copyOf, undefined, 'listed after both: the copy is the primary request');
  assert.equal(
    mirrors('/plain')[0].copyOf,
    undefined,
    'after every change of its rule: the copy is the primary request',
  );
  assert.deepEqual(
    mirrors('/backend-filter')[0].copyOf,
    { requestHeaders: undefined, rewritten: true },
    'backendRef filters are for that backend only',
  );
});

test("retries as Istio gives them to HTTPRoutes: its default policy, or retry's attempts, codes and backoff", () => {
  const retry = (rules: string) =>
    forward(simulate(build(mesh(rules)).table, { host: 'web', path: '/' }).route).retry;
  const dflt = retry(`  - backendRefs: [{name: a, port: 80}]\n    timeouts: {backendRequest: 2s}`);
  assert.deepEqual([dflt?.attempts, dflt?.retriableStatusCodes, dflt?.perTryTimeoutMs], [2, [503], 2000]);
  const set = retry(
    `  - backendRefs: [{name: a, port: 80}]\n    retry: {attempts: 3, codes: [500, 502], backoff: 100ms}`,
  );
  assert.deepEqual([set?.attempts, set?.retriableStatusCodes, set?.backoffBaseMs], [3, [500, 502], 100]);
  assert.ok(set?.retryOn.includes('connect-failure'));
  assert.equal(
    retry(`  - backendRefs: [{name: a, port: 80}]\n    retry: {attempts: 0}`),
    undefined,
    'attempts: 0 turns retries off',
  );
});
