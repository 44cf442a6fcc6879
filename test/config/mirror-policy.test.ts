// Umbra's MirrorPolicy: targets, authority modes, limits, sampling, compare.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPaths, loadText } from '../../src/config/load.js';
import { formatIssue } from '../../src/config/issues.js';
import { ofKind } from '../../src/config/validate.js';
import { fixture } from './fixtures.js';

function policy(spec: string): string {
  return `apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata: {name: p}
spec:
  ${spec.trim().replace(/\n/g, '\n  ')}
`;
}

test('a complete MirrorPolicy loads', async () => {
  const r = await loadPaths([fixture('valid/umbra-extras.yaml')]);
  assert.deepEqual(r.issues.map(formatIssue), []);
  const [p] = ofKind(r.resources, 'MirrorPolicy');
  assert.deepEqual(p.spec.targetRefs, [
    { group: 'networking.istio.io', kind: 'DestinationRule', name: 'httpbin', sectionName: 'v2' },
  ]);
  assert.deepEqual(p.spec.authority, { mode: 'Template', value: '${host}-canary${port}' });
  assert.deepEqual(p.spec.compare?.ignoreFields, ['$.origin', 'headers.X-Amzn-Trace-Id']);
});

test('group is inferred from kind; Suffix defaults to -shadow', () => {
  const r = loadText(
    policy(`targetRefs: [{kind: Service, name: httpbin}]\nauthority: {mode: Suffix}`),
    'p.yaml',
  );
  assert.deepEqual(r.issues.map(formatIssue), []);
  const [p] = ofKind(r.resources, 'MirrorPolicy');
  assert.equal(p.spec.targetRefs[0].group, '');
  assert.deepEqual(p.spec.authority, { mode: 'Suffix', suffix: '-shadow' });
});

test('inconsistent settings are reported together', async () => {
  const r = await loadPaths([fixture('invalid/mirror-policy.yaml')]);
  assert.equal(r.resources.length, 0);
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.path]),
    [
      [9, 'spec.targetRefs[0].sectionName'],
      [10, 'spec.authority.value'],
      [12, 'spec.timeout'],
      [13, 'spec.maxInFlight'],
      [15, 'spec.sampling.key'],
      [18, 'spec.methods[0]'],
    ],
  );
});

test('authority modes: Keep takes nothing, Template only knows ${host} and ${port}', () => {
  const r = loadText(
    policy(`targetRefs:
- {group: "", kind: DestinationRule, name: httpbin}
- {kind: Service, name: httpbin}
- {kind: Service, name: httpbin}
authority: {mode: Template, value: "\${hostname}.shadow", suffix: -x}
bodyBufferBytes: 10
totalBodyBufferBytes: 5
compare: {enabled: true, ignoreFields: ["not a path"]}`),
    'p.yaml',
  );
  assert.deepEqual(
    r.issues.map((i) => i.path),
    [
      'spec.targetRefs[0].group',
      'spec.targetRefs[2]',
      'spec.authority.value',
      'spec.authority.suffix',
      'spec.bodyBufferBytes',
      'spec.compare.ignoreFields[0]',
    ],
  );
  const keep = loadText(
    policy(`targetRefs: [{kind: ServiceEntry, name: api}]\nauthority: {mode: Keep, value: x}`),
    'p.yaml',
  );
  assert.deepEqual(
    keep.issues.map((i) => i.path),
    ['spec.authority.value'],
  );
  const none = loadText(policy(`targetRefs: []`), 'p.yaml');
  assert.match(none.issues[0].message, /at least one target/);
});

test('record: a valid sink loads and translates with its defaults; bad fields are named with their line', async () => {
  const ok = loadText(
    policy(`targetRefs: [{kind: Service, name: httpbin}]
record: {path: /var/lib/umbra/v2.jsonl, maxFiles: 3, sendCopies: false}`),
    'p.yaml',
  );
  assert.deepEqual(ok.issues.map(formatIssue), []);
  const [p] = ofKind(ok.resources, 'MirrorPolicy');
  const { mirrorPolicy, DEFAULT_MIRROR, DEFAULT_RECORD } =
    await import('../../src/translate/mirror-policies.js');
  const m = mirrorPolicy('c', 'httpbin.default', 1_000_000, p, DEFAULT_MIRROR);
  assert.deepEqual(m.record, {
    path: '/var/lib/umbra/v2.jsonl',
    maxBytes: DEFAULT_RECORD.maxBytes,
    maxFiles: 3,
    maxBodyBytes: DEFAULT_MIRROR.bodyBufferBytes,
    sendCopies: false,
  });

  const bad = loadText(
    policy(`targetRefs: [{kind: Service, name: httpbin}]
compare: {enabled: true}
record:
  path: /tmp/
  maxBytes: 10
  maxFiles: 0
  sendCopies: false
  rotate: daily`),
    'p.yaml',
  );
  assert.deepEqual(
    bad.issues.map((i) => [i.line, i.path]),
    [
      [8, 'spec.record.path'],
      [9, 'spec.record.maxBytes'],
      [10, 'spec.record.maxFiles'],
      [11, 'spec.record.sendCopies'],
      [12, 'spec.record.rotate'],
    ],
  );
  assert.ok(bad.issues.every((i) => i.file === 'p.yaml'));
});
