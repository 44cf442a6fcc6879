// The seed's own YAML (Istio's "Mirroring" task) must load unchanged, with zero errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPaths } from '../../src/config/load.js';
import { formatIssue, hasErrors } from '../../src/config/issues.js';
import { ofKind } from '../../src/config/validate.js';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

/** The seed's YAML lives once, in examples/seed, shared by the demo, the docs and the tests. */
const fixture = (name: string) => join(REPO_ROOT, 'examples', name);

const SEED_FILES = [
  'service.yaml',
  'route-v1.yaml',
  'mirror.yaml',
  'gateway-api-route-v1.yaml',
  'gateway-api-mirror.yaml',
  'workloads.yaml',
];

for (const name of SEED_FILES) {
  test(`seed ${name} loads with no issues`, async () => {
    const r = await loadPaths([fixture(`seed/${name}`)]);
    assert.deepEqual(r.issues.map(formatIssue), []);
    assert.ok(r.resources.length > 0);
    assert.deepEqual(r.files, [fixture(`seed/${name}`)]);
  });
}

test('seed: the mirror VirtualService keeps every field, in the default namespace', async () => {
  const { resources } = await loadPaths([fixture('seed/mirror.yaml')]);
  const [vs] = ofKind(resources, 'VirtualService');
  assert.equal(vs.metadata.namespace, 'default');
  assert.equal(vs.metadata.name, 'httpbin');
  assert.deepEqual(vs.spec.hosts, ['httpbin']);
  const rule = vs.spec.http?.[0];
  assert.deepEqual(rule?.route, [{ destination: { host: 'httpbin', subset: 'v1' }, weight: 100 }]);
  assert.deepEqual(rule?.mirror, { host: 'httpbin', subset: 'v2' });
  assert.deepEqual(rule?.mirrorPercentage, { value: 100 });
  assert.equal(vs.source.doc, 0);
  assert.deepEqual(vs.source.lineOf('spec.http[0].mirrorPercentage.value'), { line: 18, column: 7 });
});

test('seed: the combined heredoc gives a VirtualService and a DestinationRule with subsets', async () => {
  const { resources } = await loadPaths([fixture('seed/route-v1.yaml')]);
  assert.deepEqual(
    resources.map((r) => r.kind),
    ['VirtualService', 'DestinationRule'],
  );
  const [dr] = ofKind(resources, 'DestinationRule');
  assert.equal(dr.source.doc, 1);
  assert.deepEqual(
    dr.spec.subsets?.map((s) => [s.name, s.labels]),
    [
      ['v1', { version: 'v1' }],
      ['v2', { version: 'v2' }],
    ],
  );
});

test('seed: the HTTPRoute mirror gets the Gateway API defaults the API server would apply', async () => {
  const { resources } = await loadPaths([fixture('seed/gateway-api-mirror.yaml')]);
  const [route] = ofKind(resources, 'HTTPRoute');
  assert.deepEqual(route.spec.parentRefs, [{ group: '', kind: 'Service', name: 'httpbin', port: 8000 }]);
  const rule = route.spec.rules[0];
  assert.deepEqual(rule.matches, [{ path: { type: 'PathPrefix', value: '/' } }]);
  assert.deepEqual(rule.filters?.[0], {
    type: 'RequestMirror',
    requestMirror: { backendRef: { group: '', kind: 'Service', name: 'httpbin-v2', port: 80 } },
  });
  assert.deepEqual(rule.backendRefs, [
    { group: '', kind: 'Service', name: 'httpbin-v1', port: 80, weight: 1 },
  ]);
});

test('seed: Deployments are refused with a pointer to WorkloadEntry and the pod labels', async () => {
  const r = await loadPaths([fixture('seed/deployments.yaml')]);
  assert.equal(r.resources.length, 0);
  assert.equal(r.issues.length, 3);
  assert.ok(hasErrors(r.issues));
  const [v1, v2, curl] = r.issues;
  assert.equal(v1.resource, 'Deployment default/httpbin-v1');
  assert.equal(v1.line, 4);
  assert.match(v1.message, /does not run containers/);
  assert.match(v1.message, /WorkloadEntry/);
  assert.match(v1.hint ?? '', /app: httpbin, version: v1/);
  assert.match(v1.hint ?? '', /ports: \{http: 80\}/);
  assert.match(v2.hint ?? '', /version: v2/);
  assert.equal(curl.line, 52);
  assert.match(curl.hint ?? '', /labels: \{app: curl\}/);
});

test('seed: the whole directory loads in path order', async () => {
  const r = await loadPaths([fixture('seed')]);
  assert.deepEqual(
    r.files.map((f) => f.slice(fixture('seed/').length)),
    [...SEED_FILES, 'deployments.yaml'].sort(),
  );
  // Only the Deployments are errors; route-v1.yaml and mirror.yaml are two versions of one
  // VirtualService, which the task applies one after the other.
  assert.ok(r.issues.every((i) => i.file?.endsWith('deployments.yaml')));
  assert.equal(r.resources.length, 10);
});
