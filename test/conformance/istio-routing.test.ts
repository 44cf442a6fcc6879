// Istio routing cases from its integration suite (tests/integration/pilot: header operations,
// redirects, host matching) through a real Umbra and echo backends: `:authority` set by a rule,
// a `:method` header match, `redirect.prefixRewrite`, and VirtualServices whose hosts are IP
// literals or dotted literal names.

import { after, before, test } from 'node:test';
import { runCase, startEnv, type Case, type Env } from './harness.js';

const WEB = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 8080}]
  selector: {app: nothing-runs-web-itself}
---
`;

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{headers: {":method": {exact: POST}}}]
    route: [{destination: {host: infra-backend-v2}}]
  - match: [{uri: {prefix: /authority}}]
    headers: {request: {set: {":authority": rewritten.example}}}
    route: [{destination: {host: infra-backend-v1}}]
  - match: [{uri: {prefix: /old}}]
    redirect: {prefixRewrite: /new}
  - route: [{destination: {host: infra-backend-v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: by-address}
spec:
  hosts: ["10.0.0.1", "::1", mirror400.test]
  http:
  - route: [{destination: {host: infra-backend-v3}}]
---
`;

let env: Env;

before(async () => {
  env = await startEnv(['infra-backend-v1', 'infra-backend-v2', 'infra-backend-v3'], () => WEB + VS);
});

after(() => env?.close());

const cases: Case[] = [
  {
    name: 'header match on :method (POST goes to v2)',
    request: { host: 'web:8080', path: '/m', method: 'POST', body: 'x' },
    backend: 'infra-backend-v2',
  },
  {
    name: 'header match on :method (GET does not match)',
    request: { host: 'web:8080', path: '/m' },
    backend: 'infra-backend-v1',
  },
  {
    name: 'headers.request.set of :authority rewrites the authority',
    request: { host: 'web:8080', path: '/authority/x' },
    backend: 'infra-backend-v1',
    expected: { host: 'rewritten.example' },
  },
  {
    name: 'redirect.prefixRewrite replaces the matched prefix only',
    request: { host: 'web:8080', path: '/old/page?a=b' },
    status: 301,
    location: 'http://web:8080/new/page?a=b',
  },
  {
    name: 'a VirtualService host that is an IPv4 literal routes requests to that address',
    request: { host: '10.0.0.1:80', path: '/ip4' },
    backend: 'infra-backend-v3',
  },
  {
    name: 'a VirtualService host that is an IPv6 literal routes requests to [::1]',
    request: { host: '[::1]:80', path: '/ip6' },
    backend: 'infra-backend-v3',
  },
  {
    name: 'a dotted host (mirror400.test) is a literal name',
    request: { host: 'mirror400.test', path: '/literal' },
    backend: 'infra-backend-v3',
  },
];

test('Istio routing: pseudo-headers, prefixRewrite redirects, literal hosts', async (t) => {
  for (const c of cases) await t.test(c.name, () => runCase(env, env.umbra.proxyUrl, c));
});
