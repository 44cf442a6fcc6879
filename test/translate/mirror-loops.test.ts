// Loop protection at translation: a mirror whose endpoints include one of Umbra's own listener
// addresses (any spelling of it, or a wildcard listener's interfaces) is an error with file and line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { formatIssue } from '../../src/config/issues.js';
import { buildRouteTable, DEFAULT_BUILD } from '../../src/translate/build-table.js';
import { selfAddresses } from '../../src/runtime/self-addresses.js';
import { MIRROR_V2, routeToV1 } from '../helpers/mesh-yaml.js';

function mesh(v2Address: string, v2Port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  ports: [{name: http, port: 8000, targetPort: 80}]
  selector: {app: app}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: app-v1}
spec: {address: 127.0.0.1, ports: {http: 9001}, labels: {app: app, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: app-v2}
spec: {address: ${v2Address}, ports: {http: ${v2Port}}, labels: {app: app, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: app}
spec:
  host: app
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;
}

function loopIssues(v2Address: string, v2Port: number, self: string[]): string[] {
  const files = [loadText(mesh(v2Address, v2Port), 'mesh.yaml'), loadText(routeToV1(MIRROR_V2), 'vs.yaml')];
  for (const f of files) assert.deepEqual(f.issues.map(formatIssue), []);
  const built = buildRouteTable(
    files.flatMap((f) => f.resources),
    { ...DEFAULT_BUILD, selfAddresses: self },
  );
  return built.issues.filter((i) => i.message.includes("Umbra's own listener")).map(formatIssue);
}

test('a mirror into the listener address is an error at the mirror field', () => {
  const issues = loopIssues('127.0.0.1', 15001, ['127.0.0.1:15001']);
  assert.equal(issues.length, 1);
  assert.match(
    issues[0],
    /^vs\.yaml:13:\d+: error: VirtualService default\/app spec\.http\[0\]\.mirror: mirror app\.default\|v2 would send copies to 127\.0\.0\.1:15001 \(default\/app-v2\)/,
  );
});

test('other spellings of the same address are caught; other ports and addresses are not', () => {
  assert.equal(loopIssues('localhost', 15001, ['127.0.0.1:15001']).length, 1);
  assert.equal(loopIssues('127.0.0.1', 15001, ['localhost:15001']).length, 1);
  assert.equal(loopIssues('127.0.0.1', 15002, ['127.0.0.1:15001']).length, 0);
  assert.equal(loopIssues('127.0.0.2', 15001, ['127.0.0.1:15001']).length, 0);
  assert.equal(
    loopIssues('127.0.0.1', 15001, []).length,
    0,
    'no listener known (umbra validate): nothing to compare',
  );
});

test('a wildcard listener answers on every local address', () => {
  const self = selfAddresses('0.0.0.0', 15001);
  assert.ok(self.includes('127.0.0.1:15001'));
  assert.equal(loopIssues('127.0.0.1', 15001, self).length, 1);
  assert.equal(loopIssues('localhost', 15001, self).length, 1);
  assert.deepEqual(selfAddresses('127.0.0.1', 0), [], 'port 0: not bound yet');
});
