// Bad configuration arriving at a running Umbra through its watched files: every kind of mistake is
// refused with a precise error (file, line, field), nothing of it is applied, and the last good
// configuration keeps serving. Also: a file caught half-written is never published.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { formatIssue } from '../../src/config/issues.js';
import { startEchoServer, waitFor, type TestServer } from '../helpers/servers.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';
import { settleHeap } from '../../src/runtime/settle-heap.js';

let u: TestUmbra;
let v1: TestServer;
let v2: TestServer;

before(async () => {
  v1 = await startEchoServer();
  v2 = await startEchoServer();
  u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  // As `umbra run` does once serving: every reload below builds its validation schemas afresh.
  settleHeap();
});

after(async () => {
  await u.close();
  await v1.close();
  await v2.close();
});

const GOOD_VS = routeToV1(MIRROR_V2);

/** A VirtualService for app with `rule` as its only http rule (YAML, indented for the list item). */
function vsWith(rule: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts:
  - app
  http:
  - ${rule.trim().replace(/\n/g, '\n    ')}
`;
}

/** The good configuration is in service: the mirror rule copies /probe-N to v2. */
async function servedByGoodConfig(tag: string): Promise<void> {
  const r = await request(`${u.proxyUrl}/probe-${tag}`, { headers: { host: 'app:8000' } });
  assert.equal(r.statusCode, 200);
  await r.body.dump();
  assert.equal(v1.requests.at(-1)?.url, `/probe-${tag}`);
  await waitFor(() => v2.requests.some((x) => x.url === `/probe-${tag}`), 2_000);
}

/** Waits for the loader to finish a load newer than `after`; returns its report. */
async function nextLoad(afterVersion: number) {
  return waitFor(
    () => (u.state.lastLoad && u.state.lastLoad.version > afterVersion ? u.state.lastLoad : undefined),
    5_000,
  );
}

async function restoreGood(): Promise<void> {
  const v = u.state.lastLoad!.version;
  u.write('vs.yaml', GOOD_VS);
  await waitFor(() => u.state.lastLoad!.version > v && u.state.lastLoad!.applied, 5_000);
}

interface BadCase {
  readonly name: string;
  /** Files to write (name → text) in the watched directory; removed again afterwards unless vs.yaml. */
  readonly files: Record<string, string>;
  /** Every error must match one of these; at least one error matches each. */
  readonly expect: readonly RegExp[];
}

const CASES: readonly BadCase[] = [
  {
    name: 'invalid YAML',
    files: {
      'vs.yaml':
        'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: app\nspec:\n  hosts: [app\n',
    },
    expect: [/vs\.yaml:\d+:\d+: error: .*YAML syntax error/],
  },
  {
    name: 'unknown field',
    files: {
      'vs.yaml': vsWith('route:\n- destination:\n    host: app\n    subset: v1\nmirorr:\n  host: app'),
    },
    expect: [/vs\.yaml:13:5: error: VirtualService default\/app spec\.http\[0\]\.mirorr: unknown field/],
  },
  {
    name: 'wrong type',
    files: { 'vs.yaml': vsWith('route:\n- destination:\n    host: app\n    subset: v1\n  weight: "heavy"') },
    expect: [/vs\.yaml:\d+:\d+: error: .*spec\.http\[0\]\.route\[0\]\.weight/],
  },
  {
    name: 'out-of-range value',
    files: {
      'vs.yaml': vsWith(
        'route:\n- destination:\n    host: app\n    subset: v1\nmirror:\n  host: app\n  subset: v2\nmirrorPercentage:\n  value: 150',
      ),
    },
    expect: [/vs\.yaml:\d+:\d+: error: .*mirrorPercentage\.value: .*between 0 and 100/],
  },
  {
    name: 'regex RE2 refuses (look-ahead)',
    files: {
      'vs.yaml': vsWith(
        'match:\n- uri:\n    regex: "/(?=admin).*"\nroute:\n- destination:\n    host: app\n    subset: v1',
      ),
    },
    expect: [/vs\.yaml:\d+:\d+: error: .*uri\.regex.*RE2/],
  },
  {
    name: 'regex with a back-reference',
    files: {
      'vs.yaml': vsWith(
        'match:\n- headers:\n    x-a:\n      regex: "(a)\\\\1"\nroute:\n- destination:\n    host: app\n    subset: v1',
      ),
    },
    expect: [/vs\.yaml:\d+:\d+: error: .*RE2/],
  },
  {
    name: 'regex too large to run cheaply',
    files: {
      'vs.yaml': vsWith(
        `match:\n- uri:\n    regex: "${'[a-z]{1000}'.repeat(40)}"\nroute:\n- destination:\n    host: app\n    subset: v1`,
      ),
    },
    expect: [
      /vs\.yaml:\d+:\d+: error: .*regular expression too large: its RE2 program has \d+ instructions; the limit is 32768/,
    ],
  },
  {
    name: 'file over 8 MiB',
    files: { 'huge.yaml': `# padding\n${'#'.repeat(9 * 1024 * 1024)}\n` },
    expect: [/huge\.yaml: error: .*the limit is 8388608 bytes \(8 MiB\)/],
  },
  {
    name: 'YAML alias bomb',
    files: {
      'bomb.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n  annotations:\n    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n${['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((k, i) => `    ${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`).join('\n')}\n`,
    },
    expect: [/bomb\.yaml:\d+:\d+: error: .*aliases expand too much/],
  },
];

test('every kind of bad configuration is refused precisely; the last good one keeps serving', async () => {
  await servedByGoodConfig('start');
  for (const c of CASES) {
    const good = u.state.table.version;
    const last = u.state.lastLoad!.version;
    for (const [name, text] of Object.entries(c.files)) u.write(name, text);
    const load = await nextLoad(last);
    assert.equal(load.applied, false, `${c.name}: applied`);
    assert.equal(u.state.table.version, good, `${c.name}: the table changed`);
    const errors = load.issues.filter((i) => i.severity === 'error').map(formatIssue);
    assert.ok(errors.length > 0, c.name);
    for (const re of c.expect)
      assert.ok(
        errors.some((e) => re.test(e)),
        `${c.name}: no error matches ${re}:\n${errors.join('\n')}`,
      );
    assert.ok(
      u.logs.some((l) => /rejected; still serving v\d+/.test(l)),
      c.name,
    );
    await servedByGoodConfig(c.name.replace(/\W+/g, '-'));
    // Back to the good configuration before the next mistake.
    for (const name of Object.keys(c.files)) if (name !== 'vs.yaml') unlinkSync(join(u.dir, 'config', name));
    await restoreGood();
  }
});

test('RE2 patterns that would backtrack catastrophically elsewhere are accepted and stay cheap', async () => {
  const last = u.state.lastLoad!.version;
  u.write(
    'vs.yaml',
    vsWith('match:\n- uri:\n    regex: "/(a+)+$"\nroute:\n- destination:\n    host: app\n    subset: v2'),
  );
  const load = await nextLoad(last);
  assert.equal(load.applied, true, load.issues.map(formatIssue).join('\n'));
  // A path made to blow up a backtracking engine: RE2 answers in linear time (no match → 404).
  const r = await request(`${u.proxyUrl}/${'a'.repeat(20_000)}!`, { headers: { host: 'app:8000' } });
  assert.equal(r.statusCode, 404);
  await r.body.dump();
  const m = await request(`${u.proxyUrl}/aaaa`, { headers: { host: 'app:8000' } });
  assert.equal(m.statusCode, 200);
  await m.body.dump();
  assert.equal(v2.requests.at(-1)?.url, '/aaaa');
  await restoreGood();
});

test('a file caught between truncate and write is not published; an emptied file is', async () => {
  const file = join(u.dir, 'config', 'vs.yaml');
  const published: boolean[] = [];
  const onSwap = () => published.push(u.state.resources.some((r) => r.kind === 'VirtualService'));
  u.state.on('swap', onSwap);
  try {
    // Truncate, then write the new content a moment later, as `>` and many editors do — late
    // enough that the reload (150 ms after the first change) reads the empty file.
    for (let i = 0; i < 5; i++) {
      const last = u.state.lastLoad!.version;
      truncateSync(file);
      await new Promise((ok) => setTimeout(ok, 200));
      writeFileSync(file, GOOD_VS.replace('name: app\n', `name: app\n  labels:\n    round: "${i}"\n`));
      await waitFor(
        () =>
          u.state.lastLoad!.version > last &&
          u.state.resources.some((r) => r.metadata.labels?.round === String(i)),
        5_000,
      );
    }
    assert.ok(published.length >= 5);
    assert.deepEqual(
      published.filter((hasVs) => !hasVs),
      [],
      'a table without the VirtualService was published',
    );
    // Emptied on purpose (and left empty): applied after the second look.
    truncateSync(file);
    await waitFor(() => !u.state.resources.some((r) => r.kind === 'VirtualService'), 5_000);
  } finally {
    u.state.off('swap', onSwap);
  }
  await restoreGood();
  await servedByGoodConfig('end');
});
