// In a cluster, objects are written by many people: one bad VirtualService must not freeze every
// other update (pods coming and going included). When a compile has errors that point at objects
// from the API server, those objects are left out and the rest is compiled again; their errors are
// kept as warnings saying the object is ignored. Errors in files still reject the whole set.

import { hasErrors, type ConfigIssue } from '../config/issues.js';
import { resourceId, type Resource } from '../config/resource.js';
import { API_SERVER_SOURCE } from './to-resource.js';

export interface Compiled<T> {
  readonly issues: ConfigIssue[];
  readonly rest: T;
}

export function isolateClusterErrors<T>(
  resources: readonly Resource[],
  first: Compiled<T>,
  compile: (rs: readonly Resource[]) => Compiled<T>,
  maxRounds = 3,
): { resources: Resource[]; compiled: Compiled<T> } {
  let kept = [...resources];
  let compiled = first;
  const ignored: ConfigIssue[] = [];
  for (let round = 0; round < maxRounds && hasErrors(compiled.issues); round++) {
    const bad = new Set(
      compiled.issues
        .filter((i) => i.severity === 'error' && i.file === API_SERVER_SOURCE.file)
        .map((i) => i.resource),
    );
    if (bad.size === 0) break;
    const before = kept.length;
    kept = kept.filter((r) => !(r.source.file === API_SERVER_SOURCE.file && bad.has(resourceId(r))));
    if (kept.length === before) break;
    ignored.push(
      ...compiled.issues
        .filter((i) => i.severity === 'error' && i.file === API_SERVER_SOURCE.file)
        .map((i) => ({ ...i, severity: 'warning' as const, message: `object ignored: ${i.message}` })),
    );
    compiled = compile(kept);
  }
  return { resources: kept, compiled: { ...compiled, issues: [...ignored, ...compiled.issues] } };
}
