// `umbra validate` runs the istioctl-analyze-style checks on real files: each finding is printed with
// file:line, resource, field and hint; warnings alone leave the exit code 0.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { serviceWith } from '../helpers/istio-yaml.js';
import { scratchDir } from '../helpers/scratch.js';

test('validate reports hidden rules, empty subsets and duplicates across files, with file and line', async () => {
  const dir = scratchDir('umbra-analyze-');
  try {
    const vs = (subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts: [app]
  http:
  - route:
    - destination: {host: app, subset: ${subset}}
  - match:
    - uri: {prefix: /admin}
    route:
    - destination: {host: app, subset: v2}
`;
    writeFileSync(
      join(dir, 'a-mesh.yaml'),
      `${serviceWith('app', [{ name: 'v1', port: 9001, labels: { version: 'v1' } }])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: app
spec:
  host: app
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`,
    );
    writeFileSync(join(dir, 'b-vs.yaml'), vs('v1'));
    writeFileSync(join(dir, 'c-vs.yaml'), vs('v2'));
    const r = await runCli(['validate', '-f', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    const find = (re: RegExp) => lines.find((l) => re.test(l));
    assert.match(
      find(/is defined again/) ?? '',
      /b-vs\.yaml:4:\d+: warning: VirtualService default\/app metadata\.name: VirtualService default\/app is defined again in .*c-vs\.yaml/,
    );
    assert.match(
      find(/never matches/) ?? '',
      /c-vs\.yaml:10:\d+: warning: VirtualService default\/app spec\.http\[1\]: this rule never matches: spec\.http\[0\] before it .*\(move it above spec\.http\[0\]/,
    );
    assert.match(
      find(/selects no endpoint/) ?? '',
      /a-mesh\.yaml:\d+:\d+: warning: DestinationRule default\/app spec\.subsets\[1\]\.labels: subset "v2" selects no endpoint/,
    );
    assert.match(r.stdout, /0 errors, 3 warnings/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
