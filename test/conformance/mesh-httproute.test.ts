// GAMMA (Service parent) conformance through Umbra's mesh listener, table-driven like the Gateway
// suites: a client addresses the "web" Service on port 8080 (Host web:8080, as a sidecar sees it)
// and the HTTPRoute attached to that Service decides — matching, precedence, filters, redirects
// keeping the service port, invalid backends, and copies with the "-shadow" Host.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { runCase, startEnv, type Case, type Env } from './harness.js';

const WEB = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 8080}]
  selector: {app: nothing-runs-web-itself}
---
`;

const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 8080}]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /v2}, headers: [{name: x-canary, value: "yes"}]}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-seen-by, value: umbra}]}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: mirrored-backend, port: 8080}}}
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  - matches: [{path: {value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
  - matches: [{path: {value: /api}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
  - matches: [{path: {value: /broken}}]
    backendRefs: [{name: missing, port: 8080}]
---
`;

let env: Env;

before(async () => {
  env = await startEnv(
    ['infra-backend-v1', 'infra-backend-v2', 'infra-backend-v3', 'mirrored-backend'],
    () => WEB + ROUTE,
  );
});

after(() => env?.close());

const cases: Case[] = [
  {
    name: 'rule without matches: everything else',
    request: { host: 'web:8080', path: '/x' },
    backend: 'infra-backend-v1',
    expected: { host: 'web:8080' },
  },
  {
    name: 'short name, no port: the service port is implied',
    request: { host: 'web', path: '/x' },
    backend: 'infra-backend-v1',
  },
  {
    name: 'fully qualified name',
    request: { host: 'web.default.svc.cluster.local:8080', path: '/v2/y' },
    backend: 'infra-backend-v2',
  },
  {
    name: 'segments: /v2example is not under /v2',
    request: { host: 'web:8080', path: '/v2example' },
    backend: 'infra-backend-v1',
  },
  {
    name: 'more header matches win; the copy has the -shadow Host and the added header',
    request: { host: 'web:8080', path: '/v2/z?k=v', headers: { 'x-canary': 'yes' } },
    backend: 'infra-backend-v3',
    expected: { headers: { 'x-seen-by': 'umbra' } },
    mirroredTo: [{ backend: 'mirrored-backend', host: 'web-shadow:8080', headers: { 'x-seen-by': 'umbra' } }],
  },
  {
    name: 'redirect keeps the service port',
    request: { host: 'web:8080', path: '/old/page?a=b' },
    status: 302,
    location: 'http://web:8080/new/page?a=b',
  },
  {
    name: 'rewrite strips the prefix',
    request: { host: 'web:8080', path: '/api/users' },
    backend: 'infra-backend-v2',
    expected: { path: '/users' },
  },
  { name: 'an invalid backend: 500', request: { host: 'web:8080', path: '/broken' }, status: 500 },
];

test('HTTPRoute on a Service (GAMMA) through the mesh listener', async (t) => {
  for (const c of cases) await t.test(c.name, () => runCase(env, env.umbra.proxyUrl, c));
});

test("the route's status, as `umbra get httproute web -o yaml` shows it", async () => {
  const res = await request(`${env.umbra.adminUrl}/apis/resources?kind=HTTPRoute&name=web`);
  const { items } = (await res.body.json()) as {
    items: {
      status: {
        parents: { controllerName: string; conditions: { type: string; status: string; reason: string }[] }[];
      };
    }[];
  };
  const [p] = items[0].status.parents;
  assert.equal(p.controllerName, 'umbra.dev/gateway-controller');
  assert.deepEqual(
    p.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
    ['Accepted=True/Accepted', 'ResolvedRefs=False/BackendNotFound'],
  );
});
