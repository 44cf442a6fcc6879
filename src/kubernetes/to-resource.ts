// Turns an object read from the API server into a validated Resource (the same validation as files,
// with source "api-server" and no line numbers). The API server has already accepted the object, so
// fields Umbra's schemas do not know (newer Kubernetes versions) are warned about and dropped rather
// than making the whole object invalid; any other error leaves the object out, reported as ignored.

import type { ConfigIssue } from '../config/issues.js';
import { validateObject } from '../config/load.js';
import type { Resource, SourceRef } from '../config/resource.js';
import { isRecord } from '../config/schemas/common.js';
import { parsePath } from '../config/yaml-source.js';
import type { KubeObject } from './informer.js';

export const API_SERVER_SOURCE: SourceRef = Object.freeze({
  file: 'api-server',
  doc: 0,
  lineOf: () => undefined,
});

/** The field names an "unknown field" error is about, and the path of the object holding them. */
function unknownFields(i: ConfigIssue): { at: string; keys: string[] } | undefined {
  const one = /^unknown field "(.+)"$/.exec(i.message);
  if (one) {
    const segs = parsePath(i.path);
    if (segs.at(-1) !== one[1]) return undefined;
    return { at: i.path.slice(0, Math.max(0, i.path.length - String(one[1]).length - 1)), keys: [one[1]] };
  }
  const many = /^unknown field\(s\): (.+)$/.exec(i.message);
  return many ? { at: i.path, keys: many[1].split(', ') } : undefined;
}

export interface Converted {
  readonly resource?: Resource;
  readonly issues: ConfigIssue[];
}

export function toResource(obj: KubeObject): Converted {
  let current: unknown = obj;
  const dropped: ConfigIssue[] = [];
  for (let round = 0; round < 3; round++) {
    const r = validateObject(current, API_SERVER_SOURCE);
    if (r.resource) return { resource: r.resource, issues: [...dropped, ...r.issues] };
    const errors = r.issues.filter((i) => i.severity === 'error');
    const unknown = errors.map(unknownFields);
    if (errors.length === 0 || unknown.some((u) => u === undefined))
      return { issues: [...dropped, ...r.issues.map(ignored)] };
    const copy = structuredClone(current) as Record<string, unknown>;
    errors.forEach((e, n) => {
      const { at, keys } = unknown[n]!;
      const holder = locate(copy, at);
      for (const k of keys) if (holder) delete holder[k];
      dropped.push({
        ...e,
        severity: 'warning',
        message: `field(s) unknown to Umbra ignored: ${keys.join(', ')}`,
      });
    });
    current = copy;
  }
  return { issues: dropped.map(ignored) };
}

/** An error that keeps the object out of the configuration, reported without failing the rest. */
function ignored(i: ConfigIssue): ConfigIssue {
  if (i.severity !== 'error') return i;
  return { ...i, severity: 'warning', message: `object ignored: ${i.message}` };
}

function locate(root: Record<string, unknown>, path: string): Record<string, unknown> | undefined {
  let v: unknown = root;
  for (const seg of path ? parsePath(path) : []) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isRecord(v)) v = v[String(seg)];
    else return undefined;
  }
  return isRecord(v) ? v : undefined;
}
