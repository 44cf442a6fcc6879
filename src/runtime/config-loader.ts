// Loads resources from files and the applied store, compiles them, and publishes the table —
// or, when the new set has errors, keeps the last good table and reports why. Also watches files.

import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { formatIssue, hasErrors, type ConfigIssue } from '../config/issues.js';
import { loadPaths } from '../config/load.js';
import { resourceKey, type Resource } from '../config/resource.js';
import { buildRouteTable, type BuildOptions } from '../translate/build-table.js';
import type { AppliedStore } from './applied-store.js';
import type { ConfigState } from './config-state.js';

export interface LoaderOptions {
  readonly paths: readonly string[];
  readonly store?: AppliedStore;
  readonly build: Omit<BuildOptions, 'version'>;
  readonly log: (line: string) => void;
}

export interface Candidate {
  readonly resources: Resource[];
  readonly issues: ConfigIssue[];
  readonly fileResources: Resource[];
}

export class ConfigLoader {
  private version = 0;
  private watchers: FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  private files: string[] = [];
  private loading: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: ConfigState,
    private readonly opts: LoaderOptions,
  ) {}

  /** Reads the files; resources from the applied store replace file ones with the same identity. */
  async readFiles(): Promise<{ resources: Resource[]; issues: ConfigIssue[] }> {
    const { resources, issues, files } = await loadPaths([...this.opts.paths]);
    this.files = files;
    return { resources, issues };
  }

  merge(fileResources: readonly Resource[], stored: readonly Resource[]): Resource[] {
    const m = new Map<string, Resource>();
    for (const r of fileResources) m.set(resourceKey(r), r);
    for (const r of stored) m.set(resourceKey(r), r);
    return [...m.values()];
  }

  /** Compiles a resource set without publishing it (admission checks and validate use this). */
  compile(resources: readonly Resource[], loadIssues: readonly ConfigIssue[]) {
    const built = buildRouteTable(resources, { ...this.opts.build, version: this.version + 1 });
    return { table: built.table, issues: [...loadIssues, ...built.issues], statuses: built.statuses };
  }

  /** Loads everything and publishes when error-free. Serialised: one load at a time. */
  reload(stored?: readonly Resource[]): Promise<{ applied: boolean; issues: ConfigIssue[] }> {
    const run = async () => {
      const files = await this.readFiles();
      const resources = this.merge(files.resources, stored ?? this.opts.store?.all() ?? []);
      const { table, issues, statuses } = this.compile(resources, files.issues);
      this.version++;
      if (hasErrors(issues)) {
        this.state.reject(this.version, issues);
        this.opts.log(`config v${this.version} rejected; ${this.state.ready ? `still serving v${this.state.table.version}` : 'nothing is served yet'}:`);
        for (const i of issues) this.opts.log(`  ${formatIssue(i)}`);
        return { applied: false, issues };
      }
      this.state.publish(table, resources, issues, statuses);
      for (const i of issues) this.opts.log(`  ${formatIssue(i)}`);
      return { applied: true, issues };
    };
    const p = this.loading.then(run, run);
    this.loading = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Watches the given files and directories; a change reloads within ~150 ms. */
  watch(): void {
    const targets = new Set<string>([...this.opts.paths, ...this.files.map((f) => dirname(f))]);
    for (const t of targets) {
      try {
        const w = watch(t, { persistent: false }, () => this.schedule());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // A path that does not exist yet is reported by the load itself.
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.reload().then((r) => {
        if (r.applied) this.opts.log(`config v${this.state.table.version} applied from files`);
      });
    }, 150);
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
