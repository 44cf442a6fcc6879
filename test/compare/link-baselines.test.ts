// Translation of MirrorPolicy.spec.compare: the baseline a policy names is linked to the matching
// mirror of the same rule (Istio `mirrors: [v1, v2]`, or two Gateway API RequestMirror filters),
// thresholds are turned into fractions, and a baseline the rule does not mirror is reported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MirrorPolicy, RouteTable } from '../../src/model/route-table.js';
import { build } from '../translate/gateway-api-sim.js';
import { workloadEntry } from '../helpers/umbra.js';

const SERVICES = `apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  ports:
  - name: http
    port: 8000
  selector:
    app: app
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: app
spec:
  host: app
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
---
${workloadEntry('app-v1', 18081, { app: 'app', version: 'v1' })}---
${workloadEntry('app-v2', 18082, { app: 'app', version: 'v2' })}---
`;

function vs(mirrors: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts: [app]
  http:
  - route:
    - destination: {host: app, subset: v1}
${mirrors}
---
`;
}

const POLICY = `apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata:
  name: app-v2
spec:
  targetRefs:
  - {group: networking.istio.io, kind: DestinationRule, name: app, sectionName: v2}
  compare:
    enabled: true
    maxBodyBytes: 65536
    ignoreFields: [$.servedBy]
    baseline: {host: app, subset: v1}
    thresholds: {absolute: 5, relative: 50}
`;

function mirrorsOf(table: RouteTable, host: string): readonly MirrorPolicy[] {
  const route = table.hostIndex.get(host)?.routes[0];
  assert.ok(route && route.action.kind === 'forward');
  return route.action.mirrors;
}

test('Istio mirrors [v1 baseline, v2 candidate]: linked both ways, thresholds in fractions', () => {
  const b = build(
    SERVICES +
      vs(
        '    mirrors:\n    - destination: {host: app, subset: v1}\n    - destination: {host: app, subset: v2}',
      ) +
      POLICY,
  );
  assert.deepEqual(b.issues, []);
  const [base, cand] = mirrorsOf(b.table, 'app:8000');
  assert.equal(base.name, 'app.default|v1');
  assert.equal(cand.name, 'app.default|v2');
  assert.equal(cand.compare?.baselineMirror, 'app.default|v1');
  assert.deepEqual(cand.compare?.thresholds, { absolute: 0.05, relative: 0.5 });
  assert.equal(cand.compare?.maxBodyBytes, 65536);
  // The baseline is compared the same way (its response kept, the same fields ignored).
  assert.equal(base.compare?.baseline, true);
  assert.deepEqual(base.compare?.ignoreFields, ['$.servedBy']);
  assert.equal(base.compare?.maxBodyBytes, 65536);
});

test('a baseline the rule does not mirror: a warning on the rule, comparison without noise', () => {
  const b = build(SERVICES + vs('    mirror: {host: app, subset: v2}') + POLICY);
  const [cand] = mirrorsOf(b.table, 'app:8000');
  assert.ok(cand.compare);
  assert.equal(cand.compare.baselineMirror, undefined);
  assert.equal(b.issues.length, 1);
  const issue = b.issues[0];
  assert.equal(issue.severity, 'warning');
  assert.equal(issue.path, 'spec.http[0]');
  assert.equal(issue.file, 'test.yaml');
  assert.ok(issue.line && issue.line > 1);
  assert.match(issue.message, /baseline app subset v1 is not mirrored by this rule/);
});

test('Gateway API: two RequestMirror filters, baseline Service and candidate Service', () => {
  const yaml = ['app', 'app-v1', 'app-v2']
    .map(
      (n) =>
        `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${n}\nspec:\n  ports:\n  - {name: http, port: 80}\n  selector: {app: ${n}}\n---\n`,
    )
    .join('')
    .concat(
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: app
spec:
  parentRefs:
  - {group: "", kind: Service, name: app, port: 80}
  rules:
  - filters:
    - type: RequestMirror
      requestMirror:
        backendRef: {name: app-v1, port: 80}
    - type: RequestMirror
      requestMirror:
        backendRef: {name: app-v2, port: 80}
    backendRefs:
    - {name: app-v1, port: 80}
---
apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata:
  name: app-v2
spec:
  targetRefs:
  - {kind: Service, name: app-v2}
  compare:
    enabled: true
    baseline: {host: app-v1}
`,
    );
  const b = build(yaml);
  assert.deepEqual(
    b.issues.filter((i) => i.severity !== 'info'),
    [],
  );
  const [base, cand] = mirrorsOf(b.table, 'app:80');
  assert.equal(cand.compare?.baselineMirror, base.name);
  assert.equal(base.compare?.baseline, true);
  assert.deepEqual(cand.compare?.thresholds, { absolute: 0.03, relative: 0.2 });
});
