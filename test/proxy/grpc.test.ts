// gRPC helpers: content-type recognition, Envoy's HTTP→gRPC status mapping for local replies,
// grpc-message encoding, grpc-timeout parsing, and Istio's fault.abort.grpcStatus translation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectiveGrpcTimeoutMs,
  encodeGrpcMessage,
  grpcLocalReplyHeaders,
  grpcStatusCode,
  grpcStatusForHttp,
  isGrpcContentType,
  parseGrpcTimeout,
} from '../../src/proxy/grpc.js';
import { build } from '../translate/gateway-api-sim.js';
import { loadText } from '../../src/config/load.js';
import { buildRouteTable } from '../../src/translate/build-table.js';
import { DEFAULT_MIRROR } from '../../src/translate/mirror-policies.js';

test('gRPC content types', () => {
  assert.ok(isGrpcContentType('application/grpc'));
  assert.ok(isGrpcContentType('application/grpc+proto'));
  assert.ok(isGrpcContentType('application/grpc;charset=utf-8'));
  assert.ok(!isGrpcContentType('application/grpc-web'));
  assert.ok(!isGrpcContentType('application/json'));
  assert.ok(!isGrpcContentType(undefined));
});

test('local replies map HTTP statuses to gRPC statuses as Envoy does', () => {
  assert.equal(grpcStatusForHttp(503), 14);
  assert.equal(grpcStatusForHttp(504), 14);
  assert.equal(grpcStatusForHttp(502), 14);
  assert.equal(grpcStatusForHttp(429), 14);
  assert.equal(grpcStatusForHttp(404), 12);
  assert.equal(grpcStatusForHttp(400), 13);
  assert.equal(grpcStatusForHttp(401), 16);
  assert.equal(grpcStatusForHttp(403), 7);
  assert.equal(grpcStatusForHttp(500), 2);
  assert.deepEqual(grpcLocalReplyHeaders(503, 'no healthy upstream'), {
    ':status': '200',
    'content-type': 'application/grpc',
    'grpc-status': '14',
    'grpc-message': 'no healthy upstream',
  });
  assert.equal(grpcLocalReplyHeaders(503, 'x', 5)['grpc-status'], '5');
  assert.equal(encodeGrpcMessage('100% sûr\n'), '100%25 s%C3%BBr%0A');
});

test('grpc-timeout: 8 digits and a unit, rounded up to ms; malformed values are ignored', () => {
  assert.equal(parseGrpcTimeout('1S'), 1000);
  assert.equal(parseGrpcTimeout('2M'), 120_000);
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('1500u'), 2);
  assert.equal(parseGrpcTimeout('1n'), 1);
  assert.equal(parseGrpcTimeout('123456789S'), undefined);
  assert.equal(parseGrpcTimeout('1s'), undefined);
  assert.equal(parseGrpcTimeout('S'), undefined);
  assert.equal(parseGrpcTimeout(undefined), undefined);
  assert.equal(effectiveGrpcTimeoutMs(0, '300m'), 300);
  assert.equal(effectiveGrpcTimeoutMs(200, '300m'), 200);
  assert.equal(effectiveGrpcTimeoutMs(500, '300m'), 300);
  assert.equal(effectiveGrpcTimeoutMs(500, 'bad'), 500);
});

test('status names and numbers', () => {
  assert.equal(grpcStatusCode('UNAVAILABLE'), 14);
  assert.equal(grpcStatusCode('not_found'), 5);
  assert.equal(grpcStatusCode('14'), 14);
  assert.equal(grpcStatusCode('17'), undefined);
  assert.equal(grpcStatusCode('NOPE'), undefined);
});

const vs = (grpcStatus: string) => `apiVersion: v1
kind: Service
metadata: {name: echo}
spec: {ports: [{name: grpc, port: 9000}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
  - fault: {abort: {grpcStatus: ${grpcStatus}, percentage: {value: 100}}}
    route: [{destination: {host: echo}}]
`;

test('fault.abort.grpcStatus becomes an abort with the gRPC status and its HTTP mapping', () => {
  const b = build(vs('UNAVAILABLE'));
  const route = b.table.hostIndex.get('echo:9000')?.routes[0];
  assert.deepEqual(route?.fault?.abort, { status: 503, ppm: 1_000_000, grpcStatus: 14 });
  assert.ok(!b.issues.some((i) => /grpcStatus/.test(i.path)), JSON.stringify(b.issues));
});

test('an unknown grpcStatus is an error naming the field', () => {
  const loaded = loadText(vs('NOT_A_STATUS'), 'f.yaml');
  const b = buildRouteTable(loaded.resources, {
    namespace: 'default',
    mirrorDefaults: DEFAULT_MIRROR,
    version: 1,
  });
  const issue = b.issues.find((i) => i.path === 'spec.http[0].fault.abort.grpcStatus');
  assert.equal(issue?.severity, 'error');
  assert.equal(issue?.file, 'f.yaml');
  assert.match(issue?.message ?? '', /not a gRPC status/);
});
