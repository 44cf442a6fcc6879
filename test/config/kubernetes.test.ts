// Kubernetes core objects: Service port rules and names, Namespace, EndpointSlice (stored as spec).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPaths, loadText } from '../../src/config/load.js';
import { formatIssue } from '../../src/config/issues.js';
import { ofKind } from '../../src/config/validate.js';
import { fixture } from './fixtures.js';

test('Service: all the real fields are accepted', () => {
  const r = loadText(
    `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  clusterIP: 10.0.0.10
  clusterIPs: [10.0.0.10]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  internalTrafficPolicy: Cluster
  externalTrafficPolicy: Local
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  allocateLoadBalancerNodePorts: true
  publishNotReadyAddresses: false
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP, appProtocol: http, nodePort: 30080}
  - {name: grpc, port: 9090, targetPort: grpc, appProtocol: kubernetes.io/h2c}
`,
    's.yaml',
  );
  assert.deepEqual(r.issues.map(formatIssue), []);
  const [svc] = ofKind(r.resources, 'Service');
  assert.equal(svc.spec.ports?.[1].targetPort, 'grpc');
});

test('Service: port names required with several ports, unique ports, DNS-1035 names', () => {
  const r = loadText(
    `apiVersion: v1
kind: Service
metadata: {name: 1web}
spec:
  type: ExternalName
  ports:
  - {port: 80}
  - {name: http, port: 80, targetPort: 0}
  - {name: Http_Port, port: 81, protocol: HTTP}
`,
    's.yaml',
  );
  assert.deepEqual(
    r.issues.map((i) => i.path),
    [
      'metadata.name',
      'spec.externalName',
      'spec.ports[0].name',
      'spec.ports[1].port',
      'spec.ports[1].targetPort',
      'spec.ports[2].name',
      'spec.ports[2].protocol',
    ],
  );
});

test('Namespace and EndpointSlice load; EndpointSlice fields become the spec', async () => {
  const r = await loadPaths([fixture('valid/umbra-extras.yaml')]);
  assert.deepEqual(r.issues.map(formatIssue), []);
  const [slice] = ofKind(r.resources, 'EndpointSlice');
  assert.equal(slice.spec.addressType, 'IPv4');
  assert.deepEqual(slice.spec.endpoints?.[0].addresses, ['10.0.0.7']);
  assert.equal(slice.spec.ports?.[0].port, 80);
  assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'httpbin');
  const [ns] = ofKind(r.resources, 'Namespace');
  assert.equal(ns.metadata.name, 'bookinfo');
});

test('EndpointSlice: unknown top-level fields and bad address types are errors', () => {
  const r = loadText(
    `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s}
addressType: IPv5
endpoints: [{adresses: [10.0.0.1]}]
`,
    'e.yaml',
  );
  assert.deepEqual(
    r.issues.map((i) => [i.path, i.hint]),
    [
      ['addressType', 'did you mean "IPv4"?'],
      ['endpoints[0].addresses', undefined],
      ['endpoints[0].adresses', 'did you mean "addresses"?'],
    ],
  );
});
