// YAML parsing: syntax errors with lines, alias bombs, empty and non-object documents, JSON,
// `kind: List`, merge keys, size limit, and JSON-path ↔ line mapping.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPaths, loadText } from '../../src/config/load.js';
import { formatIssue } from '../../src/config/issues.js';
import { formatPath, MAX_FILE_BYTES, parseDocuments, parsePath } from '../../src/config/yaml-source.js';
import { fixture } from './fixtures.js';

test('a YAML syntax error is reported with its line; other documents still load', async () => {
  const file = fixture('invalid/syntax-error.yaml');
  const r = await loadPaths([file]);
  assert.deepEqual(
    r.resources.map((x) => x.metadata.name),
    ['good'],
  );
  assert.equal(r.issues.length, 1);
  const [i] = r.issues;
  assert.equal(i.severity, 'error');
  assert.equal(i.file, file);
  assert.equal(i.resource, file);
  assert.match(i.message, /^YAML syntax error: /);
  assert.ok(i.line !== undefined && i.line >= 13 && i.line <= 14, `line ${i.line}`);
});

test('an alias bomb is refused as an issue, quickly, without crashing', async () => {
  const started = Date.now();
  const r = await loadPaths([fixture('invalid/alias-bomb.yaml')]);
  assert.ok(Date.now() - started < 1000);
  assert.equal(r.resources.length, 0);
  assert.equal(r.issues.length, 1);
  assert.match(r.issues[0].message, /aliases expand too much/);
  assert.equal(r.issues[0].line, 1);
});

test('duplicate keys and unresolved aliases are errors', () => {
  const dup = loadText('apiVersion: v1\nkind: Service\nkind: Service\n', 'd.yaml');
  assert.match(dup.issues[0].message, /unique/);
  assert.equal(dup.issues[0].line, 3);
  const alias = loadText('apiVersion: v1\nkind: *nope\n', 'a.yaml');
  assert.equal(alias.issues.length, 1);
  assert.equal(alias.issues[0].severity, 'error');
});

test('empty documents are skipped; non-object documents are errors', () => {
  const r = loadText(
    `---
# only a comment
---
---
- a
- list
---
just text
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
`,
    'mixed.yaml',
  );
  assert.deepEqual(
    r.resources.map((x) => x.kind),
    ['Namespace'],
  );
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.message]),
    [
      [5, 'a document must be a mapping (a Kubernetes object), got a list'],
      [8, 'a document must be a mapping (a Kubernetes object), got a string'],
    ],
  );
  assert.equal(r.issues[0].resource, 'mixed.yaml (document 3)');
});

test('JSON files load, with line numbers', () => {
  const json = JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'httpbin' },
      spec: { ports: [{ port: 8000, targetPrt: 80 }] },
    },
    null,
    2,
  );
  const r = loadText(json, 'svc.json');
  assert.equal(r.issues.length, 1);
  assert.equal(r.issues[0].path, 'spec.ports[0].targetPrt');
  assert.equal(r.issues[0].line, 11);
  assert.equal(r.issues[0].hint, 'did you mean "targetPort"?');
});

test('kind: List is unwrapped and item lines are right', () => {
  const r = loadText(
    `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
  spec: {ports: [{port: 80}]}
- apiVersion: v1
  kind: Service
  metadata: {name: b}
  spec: {ports: [{port: 0}]}
`,
    'list.yaml',
  );
  assert.deepEqual(
    r.resources.map((x) => x.metadata.name),
    ['a'],
  );
  assert.equal(r.issues.length, 1);
  assert.equal(r.issues[0].path, 'spec.ports[0].port');
  assert.equal(r.issues[0].line, 11);
  assert.equal(r.resources[0].source.lineOf('metadata.name')?.line, 6);
});

test('merge keys work and map to lines', () => {
  const merged = parseDocuments(
    `defaults: &d {weight: 5, port: -1}
item:
  <<: *d
  name: x
`,
    'm.yaml',
  );
  const [doc] = merged.documents;
  assert.deepEqual(doc.value, {
    defaults: { weight: 5, port: -1 },
    item: { weight: 5, port: -1, name: 'x' },
  });
  assert.equal(doc.lineOf(['item', 'name'])?.line, 4);
  assert.equal(doc.lineOf(['item', 'port'])?.line, 3, 'a merged field points at the merge key');
});

test('lineOf falls back to the nearest existing parent', () => {
  const { documents } = parseDocuments('a:\n  b:\n    - x: 1\n', 'f.yaml');
  const [d] = documents;
  assert.deepEqual(d.lineOf(['a', 'b', 0, 'x']), { line: 3, column: 7 });
  assert.deepEqual(d.lineOf(['a', 'b', 0, 'missing', 'deeper']), { line: 3, column: 7 });
  assert.deepEqual(d.lineOf(['a', 'b', 5]), { line: 2, column: 3 });
  assert.deepEqual(d.lineOf([]), { line: 1, column: 1 });
});

test('paths format and parse round-trip, including keys with dots and slashes', () => {
  const segs = ['metadata', 'labels', 'app.kubernetes.io/name'];
  assert.equal(formatPath(segs), 'metadata.labels["app.kubernetes.io/name"]');
  assert.deepEqual(parsePath(formatPath(segs)), segs);
  assert.deepEqual(parsePath('spec.http[0].mirrorPercentage.value'), [
    'spec',
    'http',
    0,
    'mirrorPercentage',
    'value',
  ]);
  assert.deepEqual(parsePath('spec.http[0].match[0].headers["x-a"].regex'), [
    'spec',
    'http',
    0,
    'match',
    0,
    'headers',
    'x-a',
    'regex',
  ]);
  assert.equal(formatPath([]), '');
  assert.deepEqual(parsePath(''), []);
});

test('text over 8 MiB is refused before parsing', () => {
  const big = 'a: "' + 'x'.repeat(MAX_FILE_BYTES) + '"\n';
  const r = loadText(big, 'big.yaml');
  assert.equal(r.resources.length, 0);
  assert.match(formatIssue(r.issues[0]), /big\.yaml: error: .*limit is 8388608 bytes/);
});
