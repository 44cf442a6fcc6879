// A MirrorPolicy that targets a DestinationRule attaches by that DestinationRule's own name, also
// when it differs from its host's name (Gateway API policy attachment names the referenced object).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { formatIssue } from '../../src/config/issues.js';
import { buildRouteTable, DEFAULT_BUILD } from '../../src/translate/build-table.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { mirrorPolicy } from '../helpers/mirror-safety.js';

function mirrorOf(drName: string, policyTarget: string) {
  const mesh = twoVersionService(9001, 9002).replace(
    'kind: DestinationRule\nmetadata:\n  name: app\n',
    `kind: DestinationRule\nmetadata:\n  name: ${drName}\n`,
  );
  const policy = mirrorPolicy('headers:\n  remove: [authorization]').replace(
    'name: app\n    sectionName',
    `name: ${policyTarget}\n    sectionName`,
  );
  const files = [
    loadText(mesh, 'mesh.yaml'),
    loadText(routeToV1(MIRROR_V2), 'vs.yaml'),
    loadText(policy, 'p.yaml'),
  ];
  for (const f of files) assert.deepEqual(f.issues.map(formatIssue), []);
  const built = buildRouteTable(
    files.flatMap((f) => f.resources),
    DEFAULT_BUILD,
  );
  const action = built.table.hostIndex.get('app:8000')!.routes[0].action;
  assert.equal(action.kind, 'forward');
  return { mirror: action.mirrors[0], issues: built.issues.map(formatIssue) };
}

test('a policy naming the DestinationRule attaches to its subset, whatever the rule is called', () => {
  const renamed = mirrorOf('app-rules', 'app-rules');
  assert.deepEqual(renamed.mirror.headers?.remove, ['authorization']);
  assert.deepEqual(renamed.issues, []);
  // Named after the host, when the rule is.
  assert.deepEqual(mirrorOf('app', 'app').mirror.headers?.remove, ['authorization']);
});

test('a policy whose target names nothing attaches nowhere, and analysis says so', () => {
  // The service's name is not the DestinationRule's: policy attachment names the object itself.
  for (const target of ['app', 'other']) {
    const { mirror, issues } = mirrorOf('app-rules', target);
    assert.equal(mirror.headers, undefined);
    assert.equal(issues.length, 1, issues.join('\n'));
    assert.match(
      issues[0],
      new RegExp(
        `p\\.yaml:\\d+:\\d+: warning: .*spec\\.targetRefs\\[0\\].*no DestinationRule default/${target}`,
      ),
    );
  }
});
