// Makes a ConfigIssue that points at a field of a resource, with the file and line it came from.

import type { ConfigIssue, Severity } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import { resourceId } from '../config/resource.js';

export function issueAt(
  r: Resource,
  path: string,
  severity: Severity,
  message: string,
  hint?: string,
): ConfigIssue {
  const pos = r.source.lineOf(path);
  return {
    severity,
    resource: resourceId(r),
    path,
    message,
    file: r.source.file,
    line: pos?.line,
    column: pos?.column,
    hint,
  };
}
