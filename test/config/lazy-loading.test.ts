// What a configuration loads or builds only when it needs it (README "Memory"): re2js on the first
// regex, each API's schemas (Istio, Gateway API, MirrorPolicy) on the first document of that API.
// Each case runs in a fresh node process — the seed's files loaded and translated as `umbra run`
// does — and reports what was loaded. re2js comes only through src/model/re2.ts's require (the
// lint rule in eslint.config.js refuses any other import of it), so the require cache tells.

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

interface Loaded {
  readonly issues: number;
  readonly hosts: number;
  readonly regexMatcher: boolean;
  readonly re2js: boolean;
  readonly schemas: readonly string[];
}

/** Loads and translates `files` in a fresh process; says whether re2js was loaded on the way. */
function loadInFreshProcess(files: readonly string[]): Loaded {
  const mod = (p: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist', 'src', p)).href);
  const script = `
    import { createRequire } from 'node:module';
    const { loadPaths } = await import(${mod('config/load.js')});
    const { buildRouteTable } = await import(${mod('translate/build-table.js')});
    const { builtSchemaGroups } = await import(${mod('config/validate.js')});
    const loaded = await loadPaths(${JSON.stringify(files)});
    const built = buildRouteTable(loaded.resources);
    const errors = [...loaded.issues, ...built.issues].filter((i) => i.severity === 'error');
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({
      issues: errors.length,
      hosts: built.table.hostIndex.size,
      regexMatcher: JSON.stringify([...built.table.hostIndex.values()], (_k, v) =>
        v instanceof Map || v instanceof Set ? [...v.values()] : v).includes('"kind":"regex"'),
      re2js: cache.some((k) => k.includes('/node_modules/re2js/')),
      schemas: builtSchemaGroups().sort(),
    }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as Loaded;
}

test("the seed's Istio task: no re2js (no regex anywhere), and only the Istio schemas built", () => {
  const r = loadInFreshProcess(SEED_FILES);
  assert.equal(r.issues, 0);
  assert.ok(r.hosts > 0);
  assert.equal(r.regexMatcher, false);
  assert.equal(r.re2js, false);
  assert.deepEqual(r.schemas, ['istio']);
});

test("the seed's Gateway API variant, workloads included, builds only the Gateway API schemas", () => {
  const files = ['service.yaml', 'workloads.yaml', 'gateway-api-route-v1.yaml', 'gateway-api-mirror.yaml'];
  const r = loadInFreshProcess(files.map((f) => join(SEED, f)));
  assert.equal(r.issues, 0);
  assert.ok(r.hosts > 0);
  assert.deepEqual(r.schemas, ['gateway-api']);
});

test('a VirtualService with a regex match loads re2js, and the regex is checked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-lazy-'));
  try {
    const vs = (regex: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin]
  http:
  - match:
    - uri: {regex: '${regex}'}
    route:
    - destination: {host: httpbin}
`;
    const good = join(dir, 'good.yaml');
    writeFileSync(good, vs('/status/[0-9]+'));
    const r = loadInFreshProcess([join(SEED, 'service.yaml'), join(SEED, 'workloads.yaml'), good]);
    assert.equal(r.issues, 0);
    assert.equal(r.regexMatcher, true);
    assert.equal(r.re2js, true);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, vs('/status/(['));
    assert.equal(loadInFreshProcess([join(SEED, 'service.yaml'), bad]).issues, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
