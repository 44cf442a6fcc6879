// Resources created with `umbra apply`, kept durably in the state directory of one configuration
// (see state-dir.ts) as one multi-document YAML file, written atomically (a temporary file renamed
// over the old one), with where each came from beside it. Files 0600 in a 0700 directory.

import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ConfigIssue } from '../config/issues.js';
import { loadText } from '../config/load.js';
import { resourceKey, type Resource } from '../config/resource.js';
import { ensurePrivateDir } from './state-dir.js';

/** Where an applied resource came from: the file given to `umbra apply` (or "stdin") and when. */
export interface AppliedOrigin {
  readonly source: string;
  readonly at: string;
}

export class AppliedStore {
  readonly file: string;
  readonly originsFile: string;
  private items = new Map<string, Resource>();
  private origins = new Map<string, AppliedOrigin>();

  constructor(readonly dir: string) {
    this.file = join(dir, 'applied.yaml');
    this.originsFile = join(dir, 'applied-origins.json');
  }

  load(): ConfigIssue[] {
    if (!existsSync(this.file)) return [];
    const { resources, issues } = loadText(readFileSync(this.file, 'utf8'), this.file);
    this.items = new Map(resources.map((r) => [resourceKey(r), r]));
    try {
      const o = JSON.parse(readFileSync(this.originsFile, 'utf8')) as Record<string, AppliedOrigin>;
      this.origins = new Map(Object.entries(o).filter(([k]) => this.items.has(k)));
    } catch {
      // No origins (an older state directory, or damage): the resources still load.
      this.origins = new Map();
    }
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

  origin(key: string): AppliedOrigin | undefined {
    return this.origins.get(key);
  }

  /**
   * Makes `all` the stored set, on disk first; `sources` gives the origin (file given to `apply`)
   * of the resources applied now, by resourceKey — the others keep theirs. Throws, changing nothing
   * in memory, when the files cannot be written.
   */
  replace(all: readonly Resource[], sources: ReadonlyMap<string, string> = new Map()): void {
    const origins = new Map<string, AppliedOrigin>();
    const at = new Date().toISOString();
    for (const r of all) {
      const k = resourceKey(r);
      const source = sources.get(k);
      const o = source !== undefined ? { source, at } : this.origins.get(k);
      if (o) origins.set(k, o);
    }
    ensurePrivateDir(this.dir);
    writeAtomically(this.originsFile, JSON.stringify(Object.fromEntries(origins), null, 2) + '\n');
    writeAtomically(this.file, all.map((r) => stringify(plain(r))).join('---\n'));
    this.items = new Map(all.map((r) => [resourceKey(r), r]));
    this.origins = origins;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600); // a leftover temporary file keeps its old mode through writeFileSync
  renameSync(tmp, file);
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
