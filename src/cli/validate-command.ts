// `umbra validate`: load and compile resources exactly as `run` would, print every issue with
// file:line, and exit 1 when any is an error.

import { formatIssue, hasErrors } from '../config/issues.js';
import { loadPaths } from '../config/load.js';
import { buildRouteTable } from '../translate/build-table.js';
import { DEFAULT_MIRROR } from '../translate/mirror-policies.js';
import { parseLabels } from './run-command.js';

export async function validateCommand(f: {
  file: string[];
  namespace: string;
  labels?: string;
  output: string;
}): Promise<void> {
  const loaded = await loadPaths(f.file);
  const built = buildRouteTable(loaded.resources, {
    namespace: f.namespace,
    mirrorDefaults: DEFAULT_MIRROR,
    version: 1,
    labels: f.labels !== undefined ? parseLabels(f.labels) : undefined,
  });
  // Cross-resource checks only make sense on resources that loaded; their issues follow load issues.
  const issues = [...loaded.issues, ...built.issues];
  if (f.output === 'json')
    process.stdout.write(JSON.stringify({ resources: loaded.resources.length, issues }, null, 2) + '\n');
  else {
    for (const i of issues) process.stdout.write(`${formatIssue(i)}\n`);
    const errors = issues.filter((i) => i.severity === 'error').length;
    const warnings = issues.filter((i) => i.severity === 'warning').length;
    process.stdout.write(
      `${loaded.resources.length} resources in ${loaded.files.length} files: ${errors} errors, ${warnings} warnings\n`,
    );
  }
  process.exitCode = hasErrors(issues) ? 1 : 0;
}
