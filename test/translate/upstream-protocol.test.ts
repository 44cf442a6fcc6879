// Upstream HTTP version per cluster, as Istio selects it: appProtocol, port-name prefix, ServiceEntry
// protocol, then DestinationRule useClientProtocol / h2UpgradePolicy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from './gateway-api-sim.js';
import { clusterProtocol, servicePortProtocol } from '../../src/translate/upstream-protocol.js';

test('service port protocol: appProtocol first, then the name prefix', () => {
  assert.equal(servicePortProtocol({ name: 'grpc' }), 'grpc');
  assert.equal(servicePortProtocol({ name: 'grpc-api' }), 'grpc');
  assert.equal(servicePortProtocol({ name: 'grpc-web' }), 'grpc-web');
  assert.equal(servicePortProtocol({ name: 'http2-x' }), 'http2');
  assert.equal(servicePortProtocol({ name: 'http' }), 'http');
  assert.equal(servicePortProtocol({ name: 'grpcx' }), 'unknown');
  assert.equal(servicePortProtocol({ name: 'web' }), 'unknown');
  assert.equal(servicePortProtocol({}), 'unknown');
  assert.equal(servicePortProtocol({ name: 'http', appProtocol: 'kubernetes.io/h2c' }), 'http2');
  assert.equal(servicePortProtocol({ name: 'grpc', appProtocol: 'http' }), 'http');
  assert.equal(servicePortProtocol({ name: 'x', appProtocol: 'GRPC' }), 'grpc');
});

test('cluster protocol: HTTP/2 ports, useClientProtocol, h2UpgradePolicy', () => {
  assert.equal(clusterProtocol('grpc', undefined), 'http2');
  assert.equal(clusterProtocol('grpc', { useClientProtocol: true }), 'http2');
  assert.equal(clusterProtocol('http', undefined), 'http1');
  assert.equal(clusterProtocol('http', { h2UpgradePolicy: 'DEFAULT' }), 'http1');
  assert.equal(clusterProtocol('http', { h2UpgradePolicy: 'UPGRADE' }), 'http2');
  assert.equal(
    clusterProtocol('http', { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true }),
    'downstream',
  );
  assert.equal(clusterProtocol('unknown', undefined), 'downstream');
  assert.equal(clusterProtocol('unknown', { h2UpgradePolicy: 'DO_NOT_UPGRADE' }), 'downstream');
});

test('the protocol lands on the cluster, with maxConcurrentStreams, per subset', () => {
  const b = build(`apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: grpc, port: 9000}, {name: http, port: 8000}, {name: other, port: 7000, appProtocol: kubernetes.io/h2c}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1}
spec: {address: 127.0.0.1, labels: {app: echo, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  trafficPolicy:
    connectionPool: {http: {maxConcurrentStreams: 7}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
  - match: [{port: 8000}]
    route: [{destination: {host: echo, subset: v1}}]
  - route: [{destination: {host: echo}}]
`);
  const c = (name: string) => b.table.clusters.get(name);
  const fqdn = 'echo.default.svc.cluster.local';
  assert.equal(c(`outbound|9000||${fqdn}`)?.protocol, 'http2');
  assert.equal(c(`outbound|9000||${fqdn}`)?.pool.maxConcurrentStreams, 7);
  assert.equal(c(`outbound|7000||${fqdn}`)?.protocol, 'http2');
  assert.equal(c(`outbound|8000|v1|${fqdn}`)?.protocol, 'http2');
  assert.equal(c(`outbound|8000||${fqdn}`)?.protocol, 'http1');
  assert.ok(
    !b.issues.some((i) => /maxConcurrentStreams|h2UpgradePolicy/.test(i.path)),
    JSON.stringify(b.issues),
  );
});
