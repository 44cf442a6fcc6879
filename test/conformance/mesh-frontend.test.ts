// Gateway API mesh conformance MeshFrontend (tests/mesh/mesh-frontend): a route attached to a
// Service applies to requests addressed to the Service (its frontend), not to those addressed to a
// pod's own IP and port, which go straight to that endpoint. Addresses no endpoint has stay
// unrouted: Umbra is no open proxy.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startEchoServer, type TestServer } from '../helpers/servers.js';
import { runCase, startEnv, type Env } from './harness.js';

// echo-v2 is the harness's Service "echo-v2" (port 8080) backed by its echo server on 127.0.0.1.
const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mesh-frontend}
spec:
  parentRefs: [{group: "", kind: Service, name: echo-v2}]
  rules:
  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: X-Header-Set, value: set}]}
    backendRefs: [{name: echo-v2, port: 8080}]
---
`;

let env: Env;
let stranger: TestServer;

before(async () => {
  stranger = await startEchoServer(); // listening, but declared nowhere
  env = await startEnv(['echo-v1', 'echo-v2'], () => ROUTE);
});

after(async () => {
  await env?.close();
  await stranger?.close();
});

test('MeshFrontend: send to service — the route applies', () =>
  runCase(env, env.umbra.proxyUrl, {
    name: 'Send to service',
    request: { host: 'echo-v2:8080', path: '/' },
    backend: 'echo-v2',
    responseHeaders: { 'X-Header-Set': 'set' },
  }));

test("MeshFrontend: send to pod IP — straight to that endpoint, the Service's route bypassed", () =>
  runCase(env, env.umbra.proxyUrl, {
    name: 'Send to pod IP',
    request: { host: `127.0.0.1:${env.backends.get('echo-v2')!.port}`, path: '/direct' },
    backend: 'echo-v2',
    absentResponseHeaders: ['X-Header-Set'],
  }));

test('an address:port that is no known endpoint is not proxied (404, nothing reaches it)', async () => {
  const res = await request(`${env.umbra.proxyUrl}/open-proxy`, {
    headers: { host: `127.0.0.1:${stranger.port}` },
  });
  await res.body.text();
  assert.equal(res.statusCode, 404);
  assert.equal(stranger.requests.length, 0);
});
