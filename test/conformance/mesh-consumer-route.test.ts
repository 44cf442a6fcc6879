// Gateway API mesh conformance MeshConsumerRoute (tests/mesh/mesh-consumer-route): an HTTPRoute in
// the client's namespace attaches to a Service of the producer's namespace and sends the traffic on
// to that Service — with no ReferenceGrant, as GEP-1426 has it. A backendRef to any other Service
// across namespaces still needs one (Gateway API conformance HTTPRouteReferenceGrant).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startEchoServer, type TestServer } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { runCase, type Env } from './harness.js';

const PRODUCER = 'gateway-conformance-mesh';

function service(name: string, s: TestServer): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${PRODUCER}}
spec:
  ports: [{name: http, port: 80}]
  selector: {app: ${name}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${PRODUCER}}
spec:
  address: 127.0.0.1
  ports: {http: ${s.port}}
  labels: {app: ${name}}
---
`;
}

// In "default", the namespace Umbra's clients live in: the consumer's namespace.
const ROUTES = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mesh-consumer-route}
spec:
  parentRefs: [{group: "", kind: Service, name: echo-v1, namespace: ${PRODUCER}}]
  rules:
  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: X-Mesh-Consumer, value: consumer}]}
    backendRefs: [{name: echo-v1, namespace: ${PRODUCER}, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-another-service}
spec:
  parentRefs: [{group: "", kind: Service, name: echo-v2, namespace: ${PRODUCER}}]
  rules:
  - backendRefs: [{name: echo-v1, namespace: ${PRODUCER}, port: 80}]
---
`;

let env: Env;

before(async () => {
  const backends = new Map<string, TestServer>([
    ['echo-v1', await startEchoServer()],
    ['echo-v2', await startEchoServer()],
  ]);
  const yaml = [...backends].map(([n, s]) => service(n, s)).join('') + ROUTES;
  const umbra = await startTestUmbra({ 'mesh.yaml': yaml });
  env = {
    umbra,
    backends,
    async close() {
      await umbra.close();
      await Promise.all([...backends.values()].map((s) => s.close()));
    },
  };
});

after(() => env?.close());

test('MeshConsumerRoute: the consumer route applies to calls to the producer Service, without a ReferenceGrant', async () => {
  await runCase(env, env.umbra.proxyUrl, {
    name: 'request from the consumer namespace modified by the HTTPRoute',
    request: { host: `echo-v1.${PRODUCER}`, path: '/' },
    backend: 'echo-v1',
    responseHeaders: { 'X-Mesh-Consumer': 'consumer' },
  });
  const res = await request(`${env.umbra.adminUrl}/apis/resources?kind=HTTPRoute&name=mesh-consumer-route`);
  const { items } = (await res.body.json()) as {
    items: { status: { parents: { conditions: { type: string; status: string; reason: string }[] }[] } }[];
  };
  assert.deepEqual(
    items[0].status.parents[0].conditions.map((c) => `${c.type}=${c.status}/${c.reason}`),
    ['Accepted=True/Accepted', 'ResolvedRefs=True/ResolvedRefs'],
  );
});

test('a backendRef to another Service across namespaces still needs a ReferenceGrant (500, RefNotPermitted)', async () => {
  await runCase(env, env.umbra.proxyUrl, {
    name: 'consumer route on echo-v2 sending to echo-v1',
    request: { host: `echo-v2.${PRODUCER}`, path: '/' },
    status: 500,
  });
  const res = await request(`${env.umbra.adminUrl}/apis/resources?kind=HTTPRoute&name=to-another-service`);
  const { items } = (await res.body.json()) as {
    items: { status: { parents: { conditions: { type: string; status: string; reason: string }[] }[] } }[];
  };
  const resolved = items[0].status.parents[0].conditions.find((c) => c.type === 'ResolvedRefs');
  assert.equal(`${resolved?.status}/${resolved?.reason}`, 'False/RefNotPermitted');
});
