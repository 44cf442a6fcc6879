// Gateway API conformance HTTPRouteHostnameIntersection (tests/httproute-hostname-intersection):
// three listeners on one port (very.specific.com, *.wildcard.io, *.anotherwildcard.io) and five
// routes attached to the whole Gateway. Requests go where the intersections say, and each
// listener's attachedRoutes counts only the routes whose hostnames intersect its own: 2, 1, 1.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { freePort } from '../helpers/servers.js';
import { GATEWAY_CLASS, runCase, startEnv, type Case, type Env } from './harness.js';

const gateway = (port: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: httproute-hostname-intersection}
spec:
  gatewayClassName: umbra
  listeners:
  - {name: listener-1, port: ${port}, protocol: HTTP, hostname: very.specific.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-2, port: ${port}, protocol: HTTP, hostname: "*.wildcard.io", allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-3, port: ${port}, protocol: HTTP, hostname: "*.anotherwildcard.io", allowedRoutes: {namespaces: {from: Same}}}
---
`;

const route = (
  name: string,
  hostnames: string[],
  prefix: string,
  backend: string,
) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}}
spec:
  parentRefs: [{name: httproute-hostname-intersection}]
  hostnames: ${JSON.stringify(hostnames)}
  rules:
  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    backendRefs: [{name: ${backend}, port: 8080}]
---
`;

const ROUTES = [
  route(
    'specific-host-matches-listener-specific-host',
    ['non.matching.com', '*.nonmatchingwildcard.io', 'very.specific.com'],
    '/s1',
    'infra-backend-v1',
  ),
  route(
    'specific-host-matches-listener-wildcard-host',
    ['non.matching.com', 'wildcard.io', 'foo.wildcard.io', 'bar.wildcard.io', 'foo.bar.wildcard.io'],
    '/s2',
    'infra-backend-v2',
  ),
  route(
    'wildcard-host-matches-listener-specific-host',
    ['non.matching.com', '*.specific.com'],
    '/s3',
    'infra-backend-v3',
  ),
  route('wildcard-host-matches-listener-wildcard-host', ['*.anotherwildcard.io'], '/s4', 'infra-backend-v1'),
  route('no-intersecting-hosts', ['specific.but.wrong.com', 'wildcard.io'], '/s5', 'infra-backend-v2'),
].join('');

let env: Env;
let base: string;

before(async () => {
  const port = await freePort();
  env = await startEnv(
    ['infra-backend-v1', 'infra-backend-v2', 'infra-backend-v3'],
    () => GATEWAY_CLASS + gateway(port) + ROUTES,
  );
  base = `http://127.0.0.1:${port}`;
});

after(() => env?.close());

const cases: Case[] = [
  {
    name: 'very.specific.com /s1',
    request: { host: 'very.specific.com', path: '/s1' },
    backend: 'infra-backend-v1',
  },
  { name: 'non.matching.com /s1: 404', request: { host: 'non.matching.com', path: '/s1' }, status: 404 },
  {
    name: 'foo.nonmatchingwildcard.io /s1: 404',
    request: { host: 'foo.nonmatchingwildcard.io', path: '/s1' },
    status: 404,
  },
  {
    name: 'foo.wildcard.io /s2',
    request: { host: 'foo.wildcard.io', path: '/s2' },
    backend: 'infra-backend-v2',
  },
  {
    name: 'bar.wildcard.io /s2',
    request: { host: 'bar.wildcard.io', path: '/s2' },
    backend: 'infra-backend-v2',
  },
  {
    name: 'foo.bar.wildcard.io /s2',
    request: { host: 'foo.bar.wildcard.io', path: '/s2' },
    backend: 'infra-backend-v2',
  },
  { name: 'wildcard.io /s2: 404', request: { host: 'wildcard.io', path: '/s2' }, status: 404 },
  {
    name: 'very.specific.com /s3',
    request: { host: 'very.specific.com', path: '/s3' },
    backend: 'infra-backend-v3',
  },
  { name: 'foo.specific.com /s3: 404', request: { host: 'foo.specific.com', path: '/s3' }, status: 404 },
  {
    name: 'foo.anotherwildcard.io /s4',
    request: { host: 'foo.anotherwildcard.io', path: '/s4' },
    backend: 'infra-backend-v1',
  },
  {
    name: 'specific.but.wrong.com /s5: 404',
    request: { host: 'specific.but.wrong.com', path: '/s5' },
    status: 404,
  },
];

test('HTTPRouteHostnameIntersection: requests', async (t) => {
  for (const c of cases) await t.test(c.name, () => runCase(env, base, c));
});

test('HTTPRouteHostnameIntersection: attachedRoutes counts after the hostname intersection (2/1/1)', async () => {
  const res = await request(
    `${env.umbra.adminUrl}/apis/resources?kind=Gateway&name=httproute-hostname-intersection`,
  );
  const { items } = (await res.body.json()) as {
    items: { status: { listeners: { name: string; attachedRoutes: number }[] } }[];
  };
  assert.deepEqual(
    items[0].status.listeners.map((l) => `${l.name}=${l.attachedRoutes}`),
    ['listener-1=2', 'listener-2=1', 'listener-3=1'],
  );
  const routes = await request(
    `${env.umbra.adminUrl}/apis/resources?kind=HTTPRoute&name=no-intersecting-hosts`,
  );
  const r = (await routes.body.json()) as {
    items: { status: { parents: { conditions: { type: string; status: string; reason: string }[] }[] } }[];
  };
  const accepted = r.items[0].status.parents[0].conditions.find((c) => c.type === 'Accepted');
  assert.equal(`${accepted?.status}/${accepted?.reason}`, 'False/NoMatchingListenerHostname');
});
