// loadPaths over files and directories, and validateObject for objects from the API server:
// kinds, apiVersions, metadata, status stripping, wrong types.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPaths, loadText, validateObject } from '../../src/config/load.js';
import { formatIssue } from '../../src/config/issues.js';
import type { SourceRef } from '../../src/config/resource.js';
import { fixture } from './fixtures.js';

const SVC = (name: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: {ports: [{port: 80}]}\n`;

test('directories are read recursively, sorted, skipping dot-entries and other extensions', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-load-'));
  try {
    await mkdir(join(dir, 'b', 'nested'), { recursive: true });
    await mkdir(join(dir, '..2024_01_01'), { recursive: true });
    await writeFile(join(dir, 'b', 'nested', 'one.yml'), SVC('one'));
    await writeFile(join(dir, 'a.yaml'), SVC('a'));
    await writeFile(
      join(dir, 'c.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c' } }),
    );
    await writeFile(join(dir, 'notes.txt'), 'not config');
    await writeFile(join(dir, '.hidden.yaml'), SVC('hidden'));
    await writeFile(join(dir, '..2024_01_01', 'dup.yaml'), SVC('dup'));
    await symlink(dir, join(dir, 'b', 'loop'));
    const r = await loadPaths([dir]);
    assert.deepEqual(r.issues.map(formatIssue), []);
    // The symlink back to the top is a loop and is not followed twice.
    assert.deepEqual(r.files, [
      join(dir, 'a.yaml'),
      join(dir, 'b', 'nested', 'one.yml'),
      join(dir, 'c.json'),
    ]);
    assert.deepEqual(
      r.resources.map((x) => x.metadata.name),
      ['a', 'one', 'c'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('paths are read in the order given, like kubectl apply -f a -f b', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-order-'));
  try {
    await writeFile(join(dir, 'z-first.yaml'), SVC('first'));
    await writeFile(join(dir, 'a-second.yaml'), SVC('second'));
    const r = await loadPaths([join(dir, 'z-first.yaml'), join(dir, 'a-second.yaml')]);
    assert.deepEqual(r.files, [join(dir, 'z-first.yaml'), join(dir, 'a-second.yaml')]);
    assert.deepEqual(
      r.resources.map((x) => x.metadata.name),
      ['first', 'second'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing path is an error naming it; the other paths still load', async () => {
  const missing = fixture('does-not-exist.yaml');
  const r = await loadPaths([missing, fixture('../../examples/seed/service.yaml')]);
  assert.equal(r.resources.length, 1);
  assert.equal(r.issues.length, 1);
  assert.equal(r.issues[0].severity, 'error');
  assert.equal(r.issues[0].file, missing);
  assert.match(formatIssue(r.issues[0]), /does-not-exist\.yaml.*no such file or directory/);
});

test('a file over 8 MiB is refused without reading it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-big-'));
  try {
    const f = join(dir, 'big.yaml');
    await writeFile(f, Buffer.alloc(8 * 1024 * 1024 + 1, 0x20));
    const r = await loadPaths([f]);
    assert.equal(r.issues.length, 1);
    assert.match(r.issues[0].message, /limit is 8388608 bytes/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('unknown kinds and unknown apiVersions are errors', async () => {
  const r = await loadPaths([fixture('invalid/unknown-kind.yaml')]);
  assert.equal(r.resources.length, 0);
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.path]),
    [
      [2, 'kind'],
      [10, 'kind'],
      [16, 'apiVersion'],
    ],
  );
  assert.equal(r.issues[0].hint, 'did you mean "VirtualService"?');
  assert.match(r.issues[1].message, /unknown kind "ConfigMap"/);
  assert.match(
    r.issues[2].message,
    /networking\.istio\.io\/v1, networking\.istio\.io\/v1beta1, networking\.istio\.io\/v1alpha3/,
  );
});

test('wrong types are errors with the path, and a hint to quote numbers meant as strings', async () => {
  const r = await loadPaths([fixture('invalid/wrong-type.yaml')]);
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.path]),
    [
      [6, 'metadata.labels.version'],
      [10, 'spec.ports[0].port'],
    ],
  );
  assert.equal(r.issues[0].hint, 'quote the value to make it a string');
});

test('missing apiVersion, kind and name are reported', () => {
  const r = loadText('metadata: {labels: {a: b}}\nspec: {}\n', 'x.yaml');
  assert.deepEqual(
    r.issues.map((i) => i.path),
    ['apiVersion', 'kind'],
  );
  const noName = loadText('apiVersion: v1\nkind: Service\nmetadata: {namespace: shop}\nspec: {}\n', 'x.yaml');
  assert.deepEqual(
    noName.issues.map((i) => [i.path, i.message, i.line]),
    [['metadata.name', 'required field is missing', 3]],
  );
});

test('metadata: the usual ObjectMeta keys are accepted, status is dropped, unknown keys are errors', () => {
  const r = loadText(
    `apiVersion: v1
kind: Service
metadata:
  name: httpbin
  namespace: shop
  uid: 0b1d
  resourceVersion: "42"
  generation: 3
  creationTimestamp: null
  labels: {app.kubernetes.io/name: httpbin}
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}
  ownerReferences: [{apiVersion: v1, kind: Namespace, name: shop, uid: x}]
  managedFields: [{manager: kubectl, operation: Apply, fieldsV1: {"f:spec": {}}}]
  finalizers: [a/b]
spec:
  ports: [{name: http, port: 8000, targetPort: http-alt}]
  selector: {app: httpbin}
status:
  loadBalancer: {}
`,
    'm.yaml',
  );
  assert.deepEqual(r.issues.map(formatIssue), []);
  const [svc] = r.resources;
  assert.equal(svc.metadata.namespace, 'shop');
  assert.equal(svc.metadata.resourceVersion, '42');
  assert.equal(svc.status, undefined);
  assert.equal('status' in svc, false);

  const bad = loadText(
    'apiVersion: v1\nkind: Service\nmetadata: {name: httpbin, lables: {a: b}}\nsepc: {}\n',
    'm.yaml',
  );
  assert.deepEqual(
    bad.issues.map((i) => [i.path, i.hint]),
    [
      ['spec', undefined],
      ['metadata.lables', 'did you mean "labels"?'],
      ['sepc', 'did you mean "spec"?'],
    ],
  );
});

test('validateObject: objects from the API server use the source for lines', () => {
  const asked: string[] = [];
  const source: SourceRef = {
    file: 'api-server',
    doc: 0,
    lineOf: (p) => {
      asked.push(p);
      return undefined;
    },
  };
  const ok = validateObject(
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'httpbin', namespace: 'shop', resourceVersion: '7' },
      spec: { hosts: ['httpbin'], http: [{ route: [{ destination: { host: 'httpbin' } }] }] },
    },
    source,
  );
  assert.deepEqual(ok.issues, []);
  assert.equal(ok.resource?.source, source);
  assert.equal(ok.resource?.metadata.namespace, 'shop');

  const bad = validateObject(
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'x' },
      spec: {
        hosts: ['x'],
        http: [
          {
            route: [{ destination: { host: 'x' } }],
            mirror: { host: 'y' },
            mirrorPercentage: { value: 200 },
          },
        ],
      },
    },
    source,
  );
  assert.equal(bad.resource, undefined);
  assert.deepEqual(
    bad.issues.map((i) => [i.file, i.path, i.line]),
    [['api-server', 'spec.http[0].mirrorPercentage.value', undefined]],
  );
  assert.deepEqual(asked, ['spec.http[0].mirrorPercentage.value']);
  assert.equal(bad.issues[0].resource, 'VirtualService default/x');
  assert.equal(
    validateObject('text', source).issues[0].message,
    'a document must be a mapping (a Kubernetes object), got a string',
  );
});

test('the whole invalid fixture set loads without throwing, one good resource among them', async () => {
  const r = await loadPaths([fixture('invalid')]);
  assert.deepEqual(
    r.resources.map((x) => x.metadata.name),
    ['good'],
  );
  assert.ok(r.issues.length >= 20);
  assert.ok(r.issues.every((i) => i.file && (i.line !== undefined || /8 MiB/.test(i.message))));
});
