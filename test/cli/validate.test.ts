// `umbra validate` as a user runs it: real files, the real binary, exit codes and messages that
// name the file, line and field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, REPO_ROOT } from '../helpers/cli.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { scratchDir } from '../helpers/scratch.js';

function file(name: string, text: string): string {
  const dir = scratchDir('umbra-validate-');
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('the seed files validate cleanly', async () => {
  const seed = join(REPO_ROOT, 'examples/seed');
  const r = await runCli([
    'validate',
    '-f',
    join(seed, 'service.yaml'),
    join(seed, 'workloads.yaml'),
    join(seed, 'route-v1.yaml'),
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /5 resources in 3 files: 0 errors, 0 warnings/);
});

test('a misspelt field is an error with file, line and a suggestion', async () => {
  const yaml = routeToV1(`${MIRROR_V2}\nmirrorPercentge:\n  value: 50`);
  const p = file('vs.yaml', yaml);
  const line = yaml.split('\n').findIndex((l) => l.includes('mirrorPercentge')) + 1;
  const r = await runCli(['validate', '-f', p]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+: error: .*mirrorPercentge`),
  );
  assert.match(r.stdout, /mirrorPercentage/); // the hint
});

test('mirrorPercentage 101 is an error naming the field and its line', async () => {
  const yaml = routeToV1(`${MIRROR_V2}\nmirrorPercentage:\n  value: 101`);
  const p = file('vs.yaml', yaml);
  const line = yaml.split('\n').findIndex((l) => l.includes('value: 101')) + 1;
  const r = await runCli(['validate', '-f', p]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    new RegExp(
      `vs\\.yaml:${line}:\\d+: error: VirtualService default/app spec\\.http\\[0\\]\\.mirrorPercentage\\.value`,
    ),
  );
});

test('a route to an undefined subset is reported across files', async () => {
  const p = file(
    'mesh.yaml',
    `${twoVersionService(1, 2)}---\n${routeToV1('mirror:\n  host: app\n  subset: v3')}`,
  );
  const r = await runCli(['validate', '-f', p]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /subset "v3" of app\.default\.svc\.cluster\.local is not defined/);
});

test('a Deployment is refused with a hint to use a WorkloadEntry', async () => {
  const r = await runCli(['validate', '-f', join(REPO_ROOT, 'examples/seed/deployments.yaml')]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /WorkloadEntry/);
});
