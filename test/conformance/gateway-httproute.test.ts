// Gateway API HTTPRoute conformance, table-driven in the style of the upstream suite: a real Umbra
// serving a Gateway listener, echo backends infra-backend-v1/v2/v3, and for each case the status,
// the backend reached, the path and headers it saw, response headers and redirect Locations.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startDelayServer } from '../helpers/servers.js';
import { GATEWAY_CLASS, gatewayYaml, runCase, startEnv, type Case, type Env } from './harness.js';

const HEADERS_SET = {
  set: [{ name: 'X-Header-Set', value: 'set-overwrites-values' }],
  add: [
    { name: 'X-Header-Add', value: 'header-val-1' },
    { name: 'X-Header-Add-Append', value: 'header-val-2' },
  ],
  remove: ['X-Header-Remove'],
};
const hdrs = JSON.stringify(HEADERS_SET);

function routes(): string {
  const r = (name: string, rules: string, hostnames = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}}
spec:
  parentRefs: [{name: same-namespace}]
${hostnames}  rules:
${rules}
---
`;
  const to = (b: string) => `backendRefs: [{name: ${b}, port: 8080}]`;
  return [
    r(
      'matching',
      `  - {matches: [{path: {type: PathPrefix, value: /}}], ${to('infra-backend-v1')}}
  - {matches: [{path: {type: PathPrefix, value: /v2}}], ${to('infra-backend-v2')}}
  - {matches: [{path: {type: Exact, value: /exact}}], ${to('infra-backend-v3')}}
  - {matches: [{headers: [{name: version, value: two}]}], ${to('infra-backend-v2')}}
  - {matches: [{queryParams: [{name: animal, value: whale}]}], ${to('infra-backend-v3')}}
  - {matches: [{path: {value: /method}, method: POST}], ${to('infra-backend-v2')}}`,
    ),
    r('specific-host', `  - {${to('infra-backend-v3')}}`, '  hostnames: [specific.example]\n'),
    // Alone on its host: a PathPrefix "/" would outrank it (regexes rank after prefixes, as in Istio).
    r(
      'regex',
      `  - {matches: [{path: {type: RegularExpression, value: "/regex/[0-9]+"}}], ${to('infra-backend-v3')}}`,
      '  hostnames: [regex.example]\n',
    ),
    r(
      'redirects',
      `  - matches: [{path: {value: /redirect-host}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: redirect.example}}]
  - matches: [{path: {value: /redirect-scheme}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]
  - matches: [{path: {value: /redirect-port}}]
    filters: [{type: RequestRedirect, requestRedirect: {port: 8083}}]
  - matches: [{path: {value: /redirect-full}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /new}}}]
  - matches: [{path: {value: /redirect-prefix}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement}}}]`,
    ),
    r(
      'filters',
      `  - matches: [{path: {value: /prefix/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]
    ${to('infra-backend-v1')}
  - matches: [{path: {value: /strip-prefix}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    ${to('infra-backend-v1')}
  - matches: [{path: {value: /full/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
    ${to('infra-backend-v1')}
  - matches: [{path: {value: /rewrite-host}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.example}}]
    ${to('infra-backend-v2')}
  - matches: [{path: {value: /headers}}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: ${hdrs}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Resp-Set, value: resp}], add: [{name: X-Resp-Add, value: more}], remove: [content-type]}}
    ${to('infra-backend-v1')}
  - matches: [{path: {value: /backend-headers}}]
    backendRefs:
    - name: infra-backend-v2
      port: 8080
      filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Backend, value: v2}]}}]
  - matches: [{path: {value: /cors}}]
    filters: [{type: CORS, cors: {allowOrigins: ["https://*.example.com"], allowMethods: [GET, POST], allowHeaders: [x-custom], maxAge: 3600}}]
    ${to('infra-backend-v1')}
  - matches: [{path: {value: /weight0}}]
    backendRefs: [{name: infra-backend-v1, port: 8080, weight: 0}, {name: infra-backend-v2, port: 8080, weight: 1}]
  - matches: [{path: {value: /invalid-backend}}]
    ${to('does-not-exist')}
  - matches: [{path: {value: /backend-timeout}}]
    timeouts: {backendRequest: 100ms}
    ${to('slow-backend')}
  - matches: [{path: {value: /request-timeout}}]
    timeouts: {request: 100ms}
    ${to('slow-backend')}
  - matches: [{path: {value: /in-time}}]
    timeouts: {request: 10s, backendRequest: 5s}
    ${to('slow-backend')}`,
    ),
  ].join('');
}

let env: Env;
let base: string;
let port: number;

before(async () => {
  port = await freePort();
  const slow = await startDelayServer(1500);
  env = await startEnv(
    ['infra-backend-v1', 'infra-backend-v2', 'infra-backend-v3'],
    () => GATEWAY_CLASS + gatewayYaml(port) + routes(),
    { 'slow-backend': slow },
  );
  base = `http://127.0.0.1:${port}`;
  assert.deepEqual([...env.umbra.gateways.bound.keys()], [`127.0.0.1:${port}`]);
});

after(() => env?.close());

const matching: Case[] = [
  { name: 'PathPrefix / catches everything else', request: { path: '/' }, backend: 'infra-backend-v1' },
  { name: 'PathPrefix /v2', request: { path: '/v2' }, backend: 'infra-backend-v2' },
  {
    name: 'PathPrefix /v2 with a trailing segment and query',
    request: { path: '/v2/x?a=1&b=%20c' },
    backend: 'infra-backend-v2',
  },
  {
    name: 'PathPrefix /v2 never matches /v2example',
    request: { path: '/v2example' },
    backend: 'infra-backend-v1',
  },
  { name: 'Exact /exact', request: { path: '/exact' }, backend: 'infra-backend-v3' },
  { name: 'Exact does not match /exact/', request: { path: '/exact/' }, backend: 'infra-backend-v1' },
  {
    name: 'RegularExpression',
    request: { path: '/regex/123', host: 'regex.example' },
    backend: 'infra-backend-v3',
  },
  {
    name: 'RegularExpression must match the whole path',
    request: { path: '/regex/123/x', host: 'regex.example' },
    status: 404,
  },
  { name: 'header match', request: { path: '/', headers: { Version: 'two' } }, backend: 'infra-backend-v2' },
  { name: 'query param match', request: { path: '/?animal=whale' }, backend: 'infra-backend-v3' },
  {
    name: 'method match',
    request: { path: '/method', method: 'POST', body: 'x' },
    backend: 'infra-backend-v2',
  },
  { name: 'method mismatch falls through', request: { path: '/method' }, backend: 'infra-backend-v1' },
  {
    name: 'the Host is passed unmodified',
    request: { path: '/', host: 'example.org:1234' },
    backend: 'infra-backend-v1',
    expected: { host: 'example.org:1234' },
  },
  {
    name: 'a route with hostnames serves only them',
    request: { path: '/v2', host: 'specific.example' },
    backend: 'infra-backend-v3',
  },
];

const filters: Case[] = [
  {
    name: 'redirect: hostname, listener port kept',
    request: { path: '/redirect-host/x?q=1' },
    status: 302,
    location: `http://redirect.example:PORT/redirect-host/x?q=1`,
  },
  {
    name: 'redirect: scheme https, its default port',
    request: { path: '/redirect-scheme' },
    status: 302,
    location: 'https://example.org/redirect-scheme',
  },
  {
    name: 'redirect: port',
    request: { path: '/redirect-port' },
    status: 302,
    location: 'http://example.org:8083/redirect-port',
  },
  {
    name: 'redirect: 301 and full path',
    request: { path: '/redirect-full/x' },
    status: 301,
    location: 'http://example.org:PORT/new',
  },
  {
    name: 'redirect: prefix replaced',
    request: { path: '/redirect-prefix/lemon' },
    status: 302,
    location: 'http://example.org:PORT/replacement/lemon',
  },
  {
    name: 'rewrite: ReplacePrefixMatch',
    request: { path: '/prefix/one/two' },
    backend: 'infra-backend-v1',
    expected: { path: '/one/two' },
  },
  {
    name: 'rewrite: ReplacePrefixMatch to /',
    request: { path: '/strip-prefix/three?x=1' },
    backend: 'infra-backend-v1',
    expected: { path: '/three?x=1' },
  },
  {
    name: 'rewrite: ReplacePrefixMatch to / on the prefix itself',
    request: { path: '/strip-prefix' },
    backend: 'infra-backend-v1',
    expected: { path: '/' },
  },
  {
    name: 'rewrite: ReplaceFullPath',
    request: { path: '/full/one/two' },
    backend: 'infra-backend-v1',
    expected: { path: '/one' },
  },
  {
    name: 'rewrite: hostname',
    request: { path: '/rewrite-host' },
    backend: 'infra-backend-v2',
    expected: { host: 'rewritten.example' },
  },
  {
    name: 'request and response header modifiers',
    request: {
      path: '/headers',
      headers: {
        'X-Header-Remove': 'remove-val',
        'X-Header-Add-Append': 'append-val-1',
        'X-Header-Set': 'set-val',
      },
    },
    backend: 'infra-backend-v1',
    expected: {
      headers: {
        'X-Header-Set': 'set-overwrites-values',
        'X-Header-Add': 'header-val-1',
        'X-Header-Add-Append': 'append-val-1,header-val-2',
      },
      absentHeaders: ['X-Header-Remove'],
    },
    responseHeaders: { 'X-Resp-Set': 'resp', 'X-Resp-Add': 'more' },
    absentResponseHeaders: ['content-type'],
  },
  {
    name: 'backendRef header modifier',
    request: { path: '/backend-headers' },
    backend: 'infra-backend-v2',
    expected: { headers: { 'X-Backend': 'v2' } },
  },
  { name: 'an invalid backend: 500', request: { path: '/invalid-backend' }, status: 500 },
  {
    name: 'CORS preflight from an allowed origin is answered by Umbra',
    request: {
      path: '/cors',
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    },
    responseHeaders: {
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'GET,POST',
      'access-control-max-age': '3600',
    },
  },
  {
    name: 'CORS: a request from an allowed origin gets Access-Control-Allow-Origin',
    request: { path: '/cors', headers: { origin: 'https://app.example.com' } },
    backend: 'infra-backend-v1',
    responseHeaders: { 'access-control-allow-origin': 'https://app.example.com' },
  },
  {
    name: 'CORS: another origin gets no CORS headers',
    request: { path: '/cors', headers: { origin: 'https://evil.example.org' } },
    backend: 'infra-backend-v1',
    absentResponseHeaders: ['access-control-allow-origin'],
  },
  {
    name: 'timeouts.backendRequest: 504',
    request: { path: '/backend-timeout' },
    status: 504,
    // Under load the timeout may fire before the request reaches the backend.
    backend: '*',
  },
  {
    name: 'timeouts.request: 504',
    request: { path: '/request-timeout' },
    status: 504,
    // Under load the timeout may fire before the request reaches the backend.
    backend: '*',
  },
  { name: 'within the timeouts', request: { path: '/in-time' }, backend: 'slow-backend' },
];

test('HTTPRoute matching on a Gateway listener', async (t) => {
  for (const c of matching) await t.test(c.name, () => runCase(env, base, c));
});

test('HTTPRoute filters, backends and timeouts on a Gateway listener', async (t) => {
  for (const c of filters)
    await t.test(c.name, () =>
      runCase(env, base, { ...c, location: c.location?.replace('PORT', String(port)) }),
    );
});

test('weight 0 gets no request', async () => {
  for (let i = 0; i < 20; i++)
    await runCase(env, base, { name: 'weight0', request: { path: '/weight0' }, backend: 'infra-backend-v2' });
});
