// Istio Gateway translation (istio-gateways.ts): which Gateways Umbra serves (selector against its
// --labels), which VirtualServices bind (gateways: names, server host namespaces), match blocks
// narrowed to a gateway, and the mesh left as it was.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { buildRouteTable } from '../../src/translate/build-table.js';
import { DEFAULT_MIRROR } from '../../src/translate/mirror-policies.js';
import { simulate } from './gateway-api-sim.js';

const BASE = `apiVersion: v1
kind: Service
metadata: {name: a, namespace: web}
spec: {ports: [{name: http, port: 80}], selector: {app: a}}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: web}
spec: {ports: [{name: http, port: 80}], selector: {app: b}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 18080, name: http, protocol: HTTP}
    hosts: ["web/*.example.test", "./admin.other.test"]
---
`;

function build(yaml: string, labels?: Record<string, string>) {
  const loaded = loadText(yaml, 'test.yaml');
  assert.deepEqual(
    loaded.issues.filter((i) => i.severity === 'error'),
    [],
  );
  return buildRouteTable(loaded.resources, {
    namespace: 'default',
    mirrorDefaults: DEFAULT_MIRROR,
    version: 1,
    labels,
  });
}

const vs = (
  name: string,
  ns: string,
  hosts: string[],
  gateways: string[],
  http: string,
) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  gateways: [${gateways.join(', ')}]
  http:
${http}
---
`;

const clusterOf = (t: ReturnType<typeof build>['table'], host: string, path = '/', gatewayPort = 18080) => {
  const r = simulate(t, { host, path, gatewayPort });
  return r.outcome.kind === 'forward' ? r.outcome.clusters[0] : r.outcome.kind;
};

test('an Istio Gateway is served only when its selector matches the labels Umbra runs with', () => {
  const yaml =
    BASE +
    vs('web', 'web', ['a.example.test'], ['istio-system/edge'], '  - route: [{destination: {host: a}}]');
  const without = build(yaml);
  assert.equal(without.table.gatewayListeners.length, 0);
  assert.ok(without.issues.some((i) => /not running as a gateway workload/.test(i.message)));
  const other = build(yaml, { istio: 'egressgateway' });
  assert.equal(other.table.gatewayListeners.length, 0);
  assert.ok(other.issues.some((i) => /selector does not match/.test(i.message)));
  const ours = build(yaml, { istio: 'ingressgateway', app: 'umbra' });
  assert.deepEqual(
    ours.table.gatewayListeners.map((l) => [l.name, l.port, Boolean(l.tls)]),
    [['istio:istio-system/edge', 18080, false]],
  );
  assert.equal(clusterOf(ours.table, 'a.example.test'), 'outbound|80||a.web.svc.cluster.local');
  // A gateway-only VirtualService is still not applied to the mesh.
  assert.equal(simulate(ours.table, { host: 'a.example.test', path: '/' }).outcome.kind, 'no-route');
});

test('server hosts admit VirtualServices by namespace; match blocks narrowed to a gateway apply there only', () => {
  const yaml =
    BASE +
    // Bound by a short name from its own namespace: not this gateway (it is in istio-system).
    vs('short', 'web', ['short.example.test'], ['edge'], '  - route: [{destination: {host: a}}]') +
    // From web: admitted for *.example.test; its admin.other.test host is for istio-system only.
    vs(
      'web',
      'web',
      ['b.example.test', 'admin.other.test'],
      ['istio-system/edge', 'mesh'],
      `  - match: [{uri: {prefix: /only-gw}, gateways: [istio-system/edge]}]
    route: [{destination: {host: a}}]
  - route: [{destination: {host: b}}]`,
    );
  const { table } = build(yaml, { istio: 'ingressgateway' });
  assert.equal(clusterOf(table, 'short.example.test'), 'no-route');
  assert.equal(clusterOf(table, 'admin.other.test'), 'no-route');
  assert.equal(clusterOf(table, 'b.example.test', '/only-gw'), 'outbound|80||a.web.svc.cluster.local');
  assert.equal(clusterOf(table, 'b.example.test', '/x'), 'outbound|80||b.web.svc.cluster.local');
  // In the mesh the block narrowed to the gateway never matches: /only-gw goes to b.
  const mesh = simulate(table, { host: 'b.example.test', path: '/only-gw' });
  assert.equal(
    mesh.outcome.kind === 'forward' && mesh.outcome.clusters[0],
    'outbound|80||b.web.svc.cluster.local',
  );
});

test('an HTTPS server needs SIMPLE with a credentialName Secret; without one it is reported and not served', () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 18443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: nowhere}
  - port: {number: 18444, name: https2, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}
`;
  const b = build(yaml, { istio: 'ingressgateway' });
  assert.equal(b.table.gatewayListeners.length, 0);
  assert.ok(
    b.issues.some(
      (i) =>
        i.path === 'spec.servers[0].tls.credentialName' &&
        /Secret istio-system\/nowhere does not exist/.test(i.message),
    ),
  );
  assert.ok(b.issues.some((i) => i.path === 'spec.servers[1].tls.mode' && /SIMPLE only/.test(i.message)));
});
