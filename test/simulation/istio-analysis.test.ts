// Analysis in the spirit of `istioctl analyze`: each finding names the resource, the field (with
// its file and line) and a hint — undefined subsets, unresolved hosts and mirrors (all-zero weights
// are a validation error, test/conformance/istio-validation.test.ts), rules hidden behind earlier ones, conflicting VirtualServices, subsets that select nothing,
// DestinationRules for no host, resources defined twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { buildRouteTable } from '../../src/translate/build-table.js';
import { covers } from '../../src/translate/analysis.js';
import { DEFAULT_MIRROR } from '../../src/translate/mirror-policies.js';
import { compile, HTTPBIN, issuesAt, sim, vs } from './sim.js';

const one = (c: ReturnType<typeof compile>, path: string, resource?: string) => {
  const found = issuesAt(c, path).filter((i) => !resource || i.resource === resource);
  assert.equal(found.length, 1, `one issue at ${path}: ${JSON.stringify(c.issues, null, 1)}`);
  assert.ok(found[0].line, 'it has a line');
  assert.ok(found[0].hint, 'it has a hint');
  return found[0];
};

test('route to an undefined subset (error), unresolved route and mirror hosts (warnings)', () => {
  const c = compile(
    `${HTTPBIN}---\n${vs(
      'httpbin',
      ['httpbin'],
      `- match:
  - uri: {prefix: /a}
  route:
  - destination: {host: httpbin, subset: canary}
- match:
  - uri: {prefix: /b}
  route:
  - destination: {host: nowhere}
  mirror: {host: ghost}`,
    )}`,
  );
  const subset = one(c, 'spec.http[0].route[0].destination.subset');
  assert.equal(subset.severity, 'error');
  assert.equal(subset.resource, 'VirtualService default/httpbin');
  assert.match(one(c, 'spec.http[1].route[0].destination.host').message, /host "nowhere" does not resolve/);
  assert.match(one(c, 'spec.http[1].mirror.host').message, /mirror host "ghost" does not resolve/);
});

test('a rule after a catch-all, and match blocks an earlier block already covers, never match', () => {
  const c = compile(
    `${HTTPBIN}---\n${vs(
      'httpbin',
      ['httpbin'],
      `- match:
  - uri: {prefix: /api}
    headers:
      x-user: {exact: a}
  - uri: {prefix: /static}
  route:
  - destination: {host: httpbin, subset: v1}
- match:
  - uri: {prefix: /static/img}
  - uri: {exact: /api/x}
  route:
  - destination: {host: httpbin, subset: v2}
- match:
  - uri: {prefix: /api/v1}
    headers:
      x-user: {exact: a}
    method: {exact: GET}
  route:
  - destination: {host: httpbin, subset: v2}
- route:
  - destination: {host: httpbin, subset: v1}
- match:
  - uri: {prefix: /late}
  route:
  - destination: {host: httpbin, subset: v2}`,
    )}`,
  );
  const block = one(c, 'spec.http[1].match[0]');
  assert.match(block.message, /never matches: spec\.http\[0\]\.match\[1\]/);
  assert.equal(issuesAt(c, 'spec.http[1].match[1]').length, 0, '/api/x without the header is not covered');
  assert.match(one(c, 'spec.http[2]').message, /this rule never matches: spec\.http\[0\]\.match\[0\]/);
  const late = one(c, 'spec.http[4]');
  assert.match(late.message, /never matches: spec\.http\[3\] before it/);
  assert.match(late.hint!, /move it above spec\.http\[3\]/);
  // And the simulation agrees: /late goes to the catch-all.
  assert.equal(sim(c.table, 'http://httpbin:8000/late').route, 'default/httpbin#3');
});

test('coverage is conservative: regexes, case and unsupported conditions', () => {
  assert.ok(covers({ uri: { regex: '/a/.*' } }, { uri: { exact: '/a/b' } }));
  assert.ok(!covers({ uri: { regex: '/a/.*' } }, { uri: { prefix: '/a/' } }));
  assert.ok(covers({ uri: { prefix: '/A' }, ignoreUriCase: true }, { uri: { prefix: '/a/b' } }));
  assert.ok(!covers({ uri: { prefix: '/a' } }, { uri: { prefix: '/a/b' }, ignoreUriCase: true }));
  assert.ok(covers({ uri: { prefix: '/' } }, { uri: { exact: '/x' }, ignoreUriCase: true }));
  assert.ok(!covers({ sourceLabels: { app: 'x' } } as never, { uri: { prefix: '/' } }));
  assert.ok(covers({ headers: { 'x-a': {} } }, { headers: { 'x-a': { exact: '1' } } }));
  assert.ok(!covers({ headers: { 'x-a': { exact: '1' } } }, { headers: { 'x-a': {} } }));
  assert.ok(!covers({ port: 80 }, {}));
});

test('VirtualServices conflicting over one host: the oldest routes, the others are reported', () => {
  const c = compile(`${HTTPBIN}---
${vs('first', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v1}`).replace('name: first', 'name: first\n  creationTimestamp: "2024-01-01T00:00:00Z"')}---
${vs('second', ['httpbin.default.svc.cluster.local'], `- route:\n  - destination: {host: httpbin, subset: v2}`).replace('name: second', 'name: second\n  creationTimestamp: "2024-06-01T00:00:00Z"')}`);
  const w = one(c, 'spec.hosts[0]', 'VirtualService default/second');
  assert.match(w.message, /already routed by VirtualService default\/first/);
  assert.equal(
    sim(c.table, 'http://httpbin:8000/').cluster,
    'outbound|8000|v1|httpbin.default.svc.cluster.local',
  );
});

test('DestinationRule subsets selecting no endpoint, and a DestinationRule for no host', () => {
  const c =
    compile(`${HTTPBIN.replace('  - name: v2\n    labels: {version: v2}', '  - name: v2\n    labels: {version: v2}\n  - name: v3\n    labels: {version: v3}')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: orphan
spec:
  host: reviews
`);
  const v3 = one(c, 'spec.subsets[2].labels');
  assert.match(
    v3.message,
    /subset "v3" selects no endpoint of httpbin\.default\.svc\.cluster\.local \(version=v3\)/,
  );
  assert.match(v3.hint!, /labels on the WorkloadEntries/);
  assert.match(
    one(c, 'spec.host', 'DestinationRule default/orphan').message,
    /does not resolve to any Service or ServiceEntry/,
  );
});

test('the same resource in two files: the last definition wins and the other is reported, as `run` does', () => {
  const a = loadText(
    vs('httpbin', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v1}`),
    'a.yaml',
  );
  const b = loadText(
    vs('httpbin', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v2}`),
    'b.yaml',
  );
  const base = loadText(HTTPBIN, 'mesh.yaml');
  const built = buildRouteTable([...base.resources, ...a.resources, ...b.resources], {
    namespace: 'default',
    mirrorDefaults: DEFAULT_MIRROR,
    version: 1,
  });
  const dup = built.issues.filter((i) => i.message.includes('is defined again'));
  assert.equal(dup.length, 1);
  assert.equal(dup[0].file, 'a.yaml');
  assert.equal(dup[0].path, 'metadata.name');
  assert.match(dup[0].message, /VirtualService default\/httpbin is defined again in b\.yaml/);
  assert.equal(
    built.issues.filter((i) => /already routed/.test(i.message)).length,
    0,
    'not also reported as a conflict',
  );
  assert.equal(
    sim(built.table, 'http://httpbin:8000/').cluster,
    'outbound|8000|v2|httpbin.default.svc.cluster.local',
    'b.yaml routes',
  );
});

test('a delegate VirtualService no rule delegates to is reported; findings are not repeated per service port', () => {
  const c =
    compile(`${HTTPBIN.replace('    port: 8000\n    targetPort: 80', '    port: 8000\n    targetPort: 80\n  - name: http-9000\n    port: 9000\n    targetPort: 80')}---
${vs('httpbin', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v1, port: {number: 8000}}\n  mirror: {host: nowhere}`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: lonely
spec:
  http:
  - route:
    - destination: {host: httpbin}
`);
  assert.match(
    one(c, 'spec.hosts', 'VirtualService default/lonely').message,
    /no rule delegates to this one/,
  );
  assert.equal(
    issuesAt(c, 'spec.http[0].mirror.host').length,
    1,
    'one finding, though the VirtualService is translated for two ports',
  );
});
