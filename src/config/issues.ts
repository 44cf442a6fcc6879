// Configuration problems as data: every stage collects them instead of throwing, so one run of
// `umbra validate` reports all of them, each with file, line and JSON path.

export type Severity = 'error' | 'warning' | 'info';

export interface ConfigIssue {
  readonly severity: Severity;
  /** "VirtualService default/httpbin", or the file name when the resource could not be identified. */
  readonly resource: string;
  /** JSON path inside the resource, e.g. "spec.http[0].mirrorPercentage.value". */
  readonly path: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** A short suggestion ("did you mean mirrorPercentage?"). */
  readonly hint?: string;
}

export function hasErrors(issues: readonly ConfigIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}

/** One line per issue: "file:line:col: error: VirtualService default/httpbin spec.x: message (hint)". */
export function formatIssue(i: ConfigIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}${i.column ? `:${i.column}` : ''}` : ''}: ` : '';
  const path = i.path ? ` ${i.path}` : '';
  const hint = i.hint ? ` (${i.hint})` : '';
  return `${where}${i.severity}: ${i.resource}${path}: ${i.message}${hint}`;
}
