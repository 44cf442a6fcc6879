// The collection `umbra run` runs once serving (src/runtime/settle-heap.ts): it must leave V8's gc
// hidden, drop the validation schemas, and leave validation working (schemas rebuilt on the next
// load, errors still precise). Run in a fresh node process, as `umbra run` starts. What it saves
// is measured by `npm run bench` (footprint at rest), not asserted here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/cli.js';

const SEED = join(REPO_ROOT, 'examples', 'seed');
const SEED_FILES = ['service.yaml', 'workloads.yaml', 'route-v1.yaml', 'mirror.yaml'].map((f) =>
  join(SEED, f),
);

interface Report {
  readonly before: { errors: number; schemas: string[] };
  readonly settled: { rssBefore: number; rssAfter: number; ms: number } | null;
  readonly gcGlobal: string;
  readonly gcInNewContext: string;
  readonly schemasAfterSettle: string[];
  readonly bad: { errors: string[]; schemas: string[] };
  readonly again: { errors: number; hosts: number };
}

test('settling hides gc, drops the schemas, and the next load rebuilds them with precise errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-settle-'));
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {host: httpbin, subset: v1}
    mirrorPercentage: {value: lots}
`,
    );
    const mod = (p: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist', 'src', p)).href);
    const script = `
      import { runInNewContext } from 'node:vm';
      const { loadPaths } = await import(${mod('config/load.js')});
      const { formatIssue } = await import(${mod('config/issues.js')});
      const { buildRouteTable } = await import(${mod('translate/build-table.js')});
      const { builtSchemaGroups } = await import(${mod('config/validate.js')});
      const { settleHeap } = await import(${mod('runtime/settle-heap.js')});
      const errorsOf = (issues) => issues.filter((i) => i.severity === 'error');
      const first = await loadPaths(${JSON.stringify(SEED_FILES)});
      const before = { errors: errorsOf(first.issues).length, schemas: builtSchemaGroups() };
      const settled = settleHeap() ?? null;
      const gcGlobal = typeof globalThis.gc;
      const gcInNewContext = runInNewContext('typeof gc');
      const schemasAfterSettle = builtSchemaGroups();
      const b = await loadPaths([${JSON.stringify(bad)}]);
      const badReport = { errors: errorsOf(b.issues).map(formatIssue), schemas: builtSchemaGroups() };
      const again = await loadPaths(${JSON.stringify(SEED_FILES)});
      const built = buildRouteTable(again.resources);
      console.log(JSON.stringify({ before, settled, gcGlobal, gcInNewContext, schemasAfterSettle, bad: badReport,
        again: { errors: errorsOf([...again.issues, ...built.issues]).length, hosts: built.table.hostIndex.size } }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const r = JSON.parse(out) as Report;
    assert.deepEqual(r.before, { errors: 0, schemas: ['istio'] });
    // Every supported node (20, 22, 24) lets the gc function be taken this way.
    assert.ok(r.settled, 'settleHeap found no gc function');
    assert.ok(r.settled.rssBefore > 0 && r.settled.rssAfter > 0 && r.settled.ms >= 0);
    // The process's own code never sees gc, and --expose-gc is off again for later contexts.
    assert.equal(r.gcGlobal, 'undefined');
    assert.equal(r.gcInNewContext, 'undefined');
    assert.deepEqual(r.schemasAfterSettle, []);
    assert.deepEqual(r.bad.schemas, ['istio']);
    assert.equal(r.bad.errors.length, 1, r.bad.errors.join('\n'));
    assert.match(r.bad.errors[0]!, /bad\.yaml:9:\d+: error: .*mirrorPercentage\.value/);
    assert.equal(r.again.errors, 0);
    assert.ok(r.again.hosts > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
