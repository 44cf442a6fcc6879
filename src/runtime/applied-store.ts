// Resources created with `umbra apply`, kept durably in the state directory as one multi-document
// YAML file (written atomically), so they survive a restart like objects in an API server.

import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ConfigIssue } from '../config/issues.js';
import { loadText } from '../config/load.js';
import { resourceKey, type Resource } from '../config/resource.js';

export class AppliedStore {
  readonly file: string;
  private items = new Map<string, Resource>();

  constructor(readonly dir: string) {
    this.file = join(dir, 'applied.yaml');
  }

  load(): ConfigIssue[] {
    if (!existsSync(this.file)) return [];
    const { resources, issues } = loadText(readFileSync(this.file, 'utf8'), this.file);
    this.items = new Map(resources.map((r) => [resourceKey(r), r]));
    return issues;
  }

  all(): Resource[] {
    return [...this.items.values()];
  }

  /** The store as it would be after applying `rs` (not saved). */
  with(rs: readonly Resource[]): Resource[] {
    const m = new Map(this.items);
    for (const r of rs) m.set(resourceKey(r), r);
    return [...m.values()];
  }

  without(key: string): Resource[] {
    const m = new Map(this.items);
    m.delete(key);
    return [...m.values()];
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  replace(all: readonly Resource[]): void {
    this.items = new Map(all.map((r) => [resourceKey(r), r]));
    mkdirSync(this.dir, { recursive: true });
    const text = all.map((r) => stringify(plain(r))).join('---\n');
    const tmp = `${this.file}.tmp`;
    // Applied Secrets (TLS keys) are stored here too: readable by Umbra's user only.
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/** Kinds whose fields sit at the top level of the object (Umbra keeps them as `spec`). */
const INLINE_KINDS = new Set(['Secret', 'EndpointSlice']);

/** The resource as a user wrote it: no source, no status. */
export function plain(r: Resource): Record<string, unknown> {
  const meta: Record<string, unknown> = { ...r.metadata };
  for (const k of Object.keys(meta)) if (meta[k] === undefined) delete meta[k];
  if (INLINE_KINDS.has(r.kind))
    return { apiVersion: r.apiVersion, kind: r.kind, metadata: meta, ...(r.spec as object) };
  return { apiVersion: r.apiVersion, kind: r.kind, metadata: meta, spec: r.spec };
}
