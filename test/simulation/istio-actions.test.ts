// Simulation: what each Istio HTTPRoute action does — route (subset, port, per-destination headers),
// redirect, directResponse, rewrite, headers, timeout, retries, fault, corsPolicy, mirrors — and
// delegation. YAML and a request in; status, cluster, endpoint, path, Host, headers, mirrors out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryOn } from '../../src/model/retry-on.js';
import { ALL, compile, draws, HTTPBIN, issuesAt, service, sim, table, V1, V2, vs } from './sim.js';

const routeOf = (http: string, extra = '') =>
  table(`${HTTPBIN}---\n${vs('httpbin', ['httpbin'], http)}${extra}`);
const header = (h: readonly (readonly [string, string])[] | undefined, name: string) =>
  h?.filter(([k]) => k === name).map(([, v]) => v);

test('route: a subset, a port, and per-destination header operations (host there rewrites the authority)', () => {
  const t = routeOf(`- route:
  - destination: {host: httpbin, subset: v2, port: {number: 8000}}
    headers:
      request:
        set: {x-version: v2, host: httpbin-canary}
        add: {x-trace: a}
        remove: [x-secret]
      response:
        set: {x-served-by: v2}`);
  const r = sim(t, 'http://httpbin:8000/get', { headers: { 'x-secret': 's', 'x-trace': 'z' } });
  assert.equal(r.outcome, 'forward');
  assert.equal(r.cluster, V2);
  assert.equal(r.endpoint, '10.0.0.3:80');
  assert.equal(r.authority, 'httpbin-canary');
  assert.deepEqual(header(r.requestHeaders, 'x-version'), ['v2']);
  assert.deepEqual(header(r.requestHeaders, 'x-trace'), ['z', 'a']);
  assert.deepEqual(header(r.requestHeaders, 'x-secret'), []);
  assert.deepEqual(header(r.requestHeaders, 'host'), ['httpbin-canary']);
  assert.deepEqual(r.responseHeaderOps?.[0].set, [['x-served-by', 'v2']]);
});

test('route: weights pick the destination; a lone destination takes everything whatever its weight', () => {
  const t = routeOf(`- route:
  - destination: {host: httpbin, subset: v1}
    weight: 75
  - destination: {host: httpbin, subset: v2}
    weight: 25`);
  assert.equal(sim(t, 'http://httpbin:8000/', {}, { random: draws(0.74) }).cluster, V1);
  assert.equal(sim(t, 'http://httpbin:8000/', {}, { random: draws(0.75) }).cluster, V2);
  const lone = routeOf(`- route:\n  - destination: {host: httpbin}\n    weight: 0`);
  assert.equal(sim(lone, 'http://httpbin:8000/').cluster, ALL);
});

test('redirect: uri, authority, port, scheme; 301 by default; derivePort as Istio translates it', () => {
  const t = routeOf(`- match:
  - uri: {prefix: /old}
  redirect: {uri: /new}
- match:
  - uri: {prefix: /moved}
  redirect: {authority: example.com, redirectCode: 308}
- match:
  - uri: {prefix: /secure}
  redirect: {scheme: https, port: 8443}
- match:
  - uri: {prefix: /derive}
  redirect: {scheme: https, derivePort: FROM_REQUEST_PORT}
- match:
  - uri: {prefix: /default}
  redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT, uri: "/x?y=1"}`);
  const old = sim(t, 'http://httpbin:8000/old/page?q=1');
  assert.equal(old.outcome, 'redirect');
  assert.equal(old.status, 301);
  assert.equal(old.location, 'http://httpbin:8000/new?q=1');
  assert.deepEqual(
    [sim(t, 'http://httpbin:8000/moved').status, sim(t, 'http://httpbin:8000/moved').location],
    [308, 'http://example.com/moved'],
  );
  assert.equal(sim(t, 'http://httpbin:8000/secure').location, 'https://httpbin:8443/secure');
  assert.equal(
    sim(t, 'http://httpbin:8000/derive').location,
    'https://httpbin:8000/derive',
    'FROM_REQUEST_PORT: the port the route serves',
  );
  // FROM_PROTOCOL_DEFAULT leaves the port to Envoy, which keeps a non-default request port; a
  // redirect uri with its own query replaces the request's.
  assert.equal(sim(t, 'http://httpbin:8000/default?z=9').location, 'https://httpbin:8000/x?y=1');
  assert.equal(
    sim(t, 'http://httpbin/default').location,
    'https://httpbin/x?y=1',
    'http :80 is dropped when the scheme changes',
  );
});

test('directResponse: status and body (string or base64 bytes); the route response headers apply', () => {
  const t = routeOf(`- match:
  - uri: {exact: /teapot}
  directResponse:
    status: 418
    body: {string: "I'm a teapot"}
  headers:
    response:
      set: {x-direct: "yes"}
- match:
  - uri: {exact: /bytes}
  directResponse:
    status: 503
    body: {bytes: aGVsbG8=}
- route:
  - destination: {host: httpbin}`);
  const r = sim(t, 'http://httpbin:8000/teapot');
  assert.deepEqual([r.outcome, r.status, r.body], ['direct', 418, "I'm a teapot"]);
  assert.deepEqual(r.responseHeaderOps?.[0].set, [['x-direct', 'yes']]);
  assert.equal(sim(t, 'http://httpbin:8000/bytes').body, 'hello');
  assert.equal(sim(t, 'http://httpbin:8000/bytes').mirrors.length, 0);
});

test('rewrite: uri replaces what was matched (Envoy prefix_rewrite); uriRegexRewrite; authority', () => {
  const t = routeOf(`- match:
  - uri: {prefix: /api/}
  rewrite: {uri: /v2/, authority: backend.internal}
  route:
  - destination: {host: httpbin}
- match:
  - uri: {prefix: /raw}
  rewrite: {uri: /r}
  route:
  - destination: {host: httpbin}
- match:
  - uri: {exact: /exact}
  rewrite: {uri: /whole}
  route:
  - destination: {host: httpbin}
- match:
  - uri: {regex: "/users/[0-9]+/profile"}
  rewrite:
    uriRegexRewrite: {match: "^/users/([0-9]+)/profile$", rewrite: "/profiles/\\\\1"}
  route:
  - destination: {host: httpbin}
- match:
  - headers:
      x-any: {}
  rewrite: {uri: /v9}
  route:
  - destination: {host: httpbin}`);
  const api = sim(t, 'http://httpbin:8000/api/items?x=1');
  assert.deepEqual([api.path, api.authority], ['/v2/items?x=1', 'backend.internal']);
  assert.equal(sim(t, 'http://httpbin:8000/rawdata').path, '/rdata');
  assert.equal(sim(t, 'http://httpbin:8000/exact').path, '/whole');
  assert.equal(sim(t, 'http://httpbin:8000/users/42/profile').path, '/profiles/42');
  // No uri match: Istio's route matches prefix "/", so the rewrite replaces just that "/".
  assert.equal(sim(t, 'http://httpbin:8000/abc', { headers: { 'x-any': '1' } }).path, '/v9abc');
});

test('headers: request set/add/remove and response operations on the rule', () => {
  const t = routeOf(`- headers:
    request:
      set: {x-env: prod}
      add: {x-hop: umbra}
      remove: [cookie]
    response:
      add: {cache-control: no-store}
      remove: [server]
  route:
  - destination: {host: httpbin}`);
  const r = sim(t, 'http://httpbin:8000/', { headers: { 'x-env': 'dev', cookie: 'a=1', 'x-hop': 'client' } });
  assert.deepEqual(header(r.requestHeaders, 'x-env'), ['prod']);
  assert.deepEqual(header(r.requestHeaders, 'x-hop'), ['client', 'umbra']);
  assert.deepEqual(header(r.requestHeaders, 'cookie'), []);
  assert.deepEqual(r.responseHeaderOps?.[0], {
    set: undefined,
    add: [['cache-control', 'no-store']],
    remove: ['server'],
  });
});

test('timeout and retries: Istio defaults, attempts 0, retryOn with status codes, perTryTimeout, backoff', () => {
  const t = routeOf(`- match:
  - uri: {prefix: /default}
  timeout: 2s
  route:
  - destination: {host: httpbin}
- match:
  - uri: {prefix: /none}
  retries: {attempts: 0}
  route:
  - destination: {host: httpbin}
- route:
  - destination: {host: httpbin}
  retries:
    attempts: 4
    perTryTimeout: 250ms
    retryOn: gateway-error,reset,409,429
    backoff: 10ms
    retryIgnorePreviousHosts: false`);
  const d = sim(t, 'http://httpbin:8000/default');
  assert.equal(d.timeoutMs, 2000);
  // Istio's default policy: 2 retries on connect-failure, refused-stream, unavailable, cancelled, 503.
  assert.equal(d.retry?.attempts, 2);
  assert.deepEqual(d.retry?.retryOn, [
    'connect-failure',
    'refused-stream',
    'unavailable',
    'cancelled',
    'retriable-status-codes',
  ]);
  assert.deepEqual(d.retry?.retriableStatusCodes, [503]);
  assert.equal(d.retry?.ignorePreviousHosts, true);
  assert.equal(sim(t, 'http://httpbin:8000/none').retry, undefined);
  const c = sim(t, 'http://httpbin:8000/x').retry!;
  assert.equal(c.attempts, 4);
  assert.equal(c.perTryTimeoutMs, 250);
  assert.equal(c.backoffBaseMs, 10);
  assert.deepEqual(c.retriableStatusCodes, [409, 429]);
  assert.ok(c.conditions & RetryOn.RETRIABLE_STATUS_CODES, 'status codes turn retriable-status-codes on');
  assert.ok(c.conditions & RetryOn.GATEWAY_ERROR && c.conditions & RetryOn.RESET);
  assert.equal(c.ignorePreviousHosts, false);
  assert.equal(sim(t, 'http://httpbin:8000/x').timeoutMs, 0, 'no timeout unless set (Istio)');
});

test('fault: delay then abort by percentage; an absent percentage injects nothing (and is reported)', () => {
  const c = compile(
    `${HTTPBIN}---\n${vs(
      'httpbin',
      ['httpbin'],
      `- match:
  - uri: {prefix: /slow}
  fault:
    delay: {fixedDelay: 1500ms, percentage: {value: 50}}
    abort: {httpStatus: 503, percentage: {value: 10}}
  route:
  - destination: {host: httpbin}
- fault:
    delay: {fixedDelay: 1s}
    abort: {httpStatus: 500}
  route:
  - destination: {host: httpbin}`,
    )}`,
  );
  const t = c.table;
  // Draws: delay (<0.5 → delayed), then abort (<0.1 → aborted).
  const both = sim(t, 'http://httpbin:8000/slow', {}, { random: draws(0.2, 0.05) });
  assert.deepEqual([both.outcome, both.status, both.flag, both.delayMs], ['local', 503, 'DI,FI', 1500]);
  const delayed = sim(t, 'http://httpbin:8000/slow', {}, { random: draws(0.2, 0.5, 0.9, 0.9) });
  assert.deepEqual([delayed.outcome, delayed.flag, delayed.delayMs], ['forward', 'DI', 1500]);
  const neither = sim(t, 'http://httpbin:8000/slow', {}, { random: draws(0.9, 0.9) });
  assert.deepEqual([neither.outcome, neither.flag, neither.delayMs], ['forward', '-', undefined]);
  const unset = sim(t, 'http://httpbin:8000/other', {}, { random: draws(0) });
  assert.deepEqual([unset.outcome, unset.flag], ['forward', '-']);
  assert.match(issuesAt(c, 'spec.http[1].fault.delay')[0].message, /delays no request/);
  assert.match(issuesAt(c, 'spec.http[1].fault.abort')[0].message, /aborts no request/);
});

test('corsPolicy: preflights answered here, actual responses get the headers, unmatched origins per unmatchedPreflights', () => {
  const t = routeOf(`- match:
  - uri: {prefix: /ignore}
  corsPolicy:
    allowOrigins: [{exact: "https://a.example"}]
    unmatchedPreflights: IGNORE
  route:
  - destination: {host: httpbin}
- corsPolicy:
    allowOrigins:
    - exact: https://a.example
    - regex: "https://.*\\\\.b\\\\.example"
    allowMethods: [GET, POST]
    allowHeaders: [x-token, content-type]
    exposeHeaders: [x-request-id]
    maxAge: 24h
    allowCredentials: true
  route:
  - destination: {host: httpbin}`);
  const pre = sim(t, 'http://httpbin:8000/x', {
    method: 'OPTIONS',
    headers: { origin: 'https://app.b.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(pre.outcome, 'preflight');
  assert.equal(pre.status, 200);
  assert.deepEqual(pre.cors, [
    ['access-control-allow-origin', 'https://app.b.example'],
    ['access-control-allow-credentials', 'true'],
    ['access-control-allow-methods', 'GET,POST'],
    ['access-control-allow-headers', 'x-token,content-type'],
    ['access-control-max-age', '86400'],
  ]);
  const actual = sim(t, 'http://httpbin:8000/x', { headers: { origin: 'https://a.example' } });
  assert.equal(actual.outcome, 'forward');
  assert.deepEqual(actual.cors, [
    ['access-control-allow-origin', 'https://a.example'],
    ['access-control-allow-credentials', 'true'],
    ['access-control-expose-headers', 'x-request-id'],
  ]);
  // An origin not allowed: the preflight goes upstream (FORWARD), actual responses get nothing.
  const evil = sim(t, 'http://httpbin:8000/x', {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
  });
  assert.deepEqual([evil.outcome, evil.cors], ['forward', undefined]);
  const ignored = sim(t, 'http://httpbin:8000/ignore', {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
  });
  assert.deepEqual([ignored.outcome, ignored.status, ignored.cors], ['preflight', 200, []]);
  // No Origin: not a CORS request at all.
  assert.equal(
    sim(t, 'http://httpbin:8000/x', {
      method: 'OPTIONS',
      headers: { 'access-control-request-method': 'GET' },
    }).outcome,
    'forward',
  );
});

test('corsPolicy: the deprecated allowOrigin, and "*"', () => {
  const t = routeOf(`- corsPolicy:
    allowOrigin: ["*"]
  route:
  - destination: {host: httpbin}`);
  const r = sim(t, 'http://httpbin:8000/', { headers: { origin: 'https://anything.example' } });
  assert.deepEqual(r.cors, [['access-control-allow-origin', 'https://anything.example']]);
});

test('mirrors: mirror + mirrorPercentage, mirrors[] with percentages, the -shadow Host; a directResponse rule mirrors nothing', () => {
  const t = routeOf(`- match:
  - uri: {prefix: /one}
  route:
  - destination: {host: httpbin, subset: v1}
  mirror: {host: httpbin, subset: v2}
  mirrorPercentage: {value: 25.5}
- route:
  - destination: {host: httpbin, subset: v1}
  mirrors:
  - destination: {host: httpbin, subset: v2}
  - destination: {host: httpbin}
    percentage: {value: 0.5}`);
  const one = sim(t, 'http://httpbin:8000/one', {}, { random: draws(0.1) });
  assert.deepEqual(one.mirrors, [
    { name: 'httpbin.default|v2', cluster: V2, ppm: 255000, sampled: true, authority: 'httpbin-shadow:8000' },
  ]);
  assert.equal(sim(t, 'http://httpbin:8000/one', {}, { random: draws(0.3) }).mirrors[0].sampled, false);
  const many = sim(t, 'http://httpbin:8000/two', {}, { random: draws(0.5) });
  assert.deepEqual(
    many.mirrors.map((m) => [m.cluster, m.ppm, m.sampled]),
    [
      [V2, 1_000_000, true],
      [ALL, 5000, false],
    ],
  );
});

test('delegate: a root rule hands its traffic to a host-less VirtualService, matches merged', () => {
  const c = compile(`${HTTPBIN}---
${vs(
  'root',
  ['httpbin'],
  `- name: api
  match:
  - uri: {prefix: /api}
  delegate: {name: api-routes}
- route:
  - destination: {host: httpbin, subset: v1}`,
)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api-routes
spec:
  http:
  - name: v2
    match:
    - uri: {prefix: /api/v2}
    route:
    - destination: {host: httpbin, subset: v2}
  - match:
    - uri: {prefix: /other}
    route:
    - destination: {host: httpbin, subset: v2}
  - route:
    - destination: {host: httpbin, subset: v1}
    timeout: 3s
`);
  const t = c.table;
  const v2 = sim(t, 'http://httpbin:8000/api/v2/x');
  assert.deepEqual([v2.cluster, v2.route, v2.origin?.name], [V2, 'api-v2', 'api-routes']);
  const rest = sim(t, 'http://httpbin:8000/api/v1');
  assert.deepEqual([rest.cluster, rest.timeoutMs, rest.route], [V1, 3000, 'api']);
  // "/other" is not inside the root's "/api": that delegate rule is dropped, and reported.
  assert.equal(sim(t, 'http://httpbin:8000/other').route, 'default/root#1');
  assert.equal(sim(t, 'http://httpbin:8000/other').cluster, V1);
  assert.ok(
    c.issues.some(
      (i) =>
        i.resource === 'VirtualService default/api-routes' &&
        i.path === 'spec.http[1].match' &&
        /not narrower/.test(i.message),
    ),
  );
  // A missing delegate routes nothing and is reported on the root.
  const missing = compile(`${HTTPBIN}---\n${vs('root', ['httpbin'], `- delegate: {name: nope}`)}`);
  assert.match(issuesAt(missing, 'spec.http[0].delegate')[0].message, /not found/);
});

test('destinations resolve short names in the VirtualService namespace; an unknown host routes to 503', () => {
  const c = compile(`${service('web', [{ name: 'w1', address: '10.1.0.1', labels: {} }])}---
${vs('web', ['web'], `- route:\n  - destination: {host: nothere}`)}`);
  assert.equal(sim(c.table, 'http://web:8000/').status, 503);
  assert.equal(sim(c.table, 'http://web:8000/').flag, 'UH');
  const w = issuesAt(c, 'spec.http[0].route[0].destination.host');
  assert.match(w[0].message, /does not resolve/);
  assert.ok(w[0].hint);
});
