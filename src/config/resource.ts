// The validated resource envelope passed from loading to translation: a Kubernetes-style object
// plus where it came from, so later stages can point issues at the right file and line.

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  uid?: string;
}

export interface SourceRef {
  /** File path as given by the user, or "api-server", or "admin-api". */
  readonly file: string;
  /** Index of the YAML document in the file (0-based). */
  readonly doc: number;
  /** Line (1-based) of a JSON path inside this resource, when known. */
  lineOf(path: string): { line: number; column: number } | undefined;
}

/** A resource that passed schema validation. `spec` is typed by the kind's schema. */
export interface Resource<Spec = unknown> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly spec: Spec;
  /** Kept for resources that carry one (Gateway API). Written by Umbra, never read from input. */
  readonly status?: unknown;
  readonly source: SourceRef;
}

/** "VirtualService default/httpbin" — how resources are named in messages. */
export function resourceId(r: { kind: string; metadata: { namespace?: string; name?: string } }): string {
  return `${r.kind} ${r.metadata.namespace ?? 'default'}/${r.metadata.name ?? '?'}`;
}

/** Identity used to replace a resource on apply: group/kind/namespace/name. */
export function resourceKey(r: {
  apiVersion: string;
  kind: string;
  metadata: { namespace?: string; name?: string };
}): string {
  const group = r.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : '';
  return `${group}/${r.kind}/${r.metadata.namespace ?? 'default'}/${r.metadata.name ?? ''}`;
}
