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
  return action.mirrors[0];
}

test('a policy naming the DestinationRule attaches to its subset, whatever the rule is called', () => {
  assert.deepEqual(mirrorOf('app-rules', 'app-rules').headers?.remove, ['authorization']);
  // Named after the host, as before.
  assert.deepEqual(mirrorOf('app', 'app').headers?.remove, ['authorization']);
  // A DestinationRule of that name does not exist: nothing attaches.
  assert.equal(mirrorOf('app-rules', 'other').headers, undefined);
});
