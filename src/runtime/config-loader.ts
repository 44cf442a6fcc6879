// Loads resources from files and the applied store, compiles them, and publishes the table —
// or, when the new set has errors, keeps the last good table and reports why. Also watches files.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { formatIssue, hasErrors, type ConfigIssue } from '../config/issues.js';
import { CONFIG_EXTENSIONS, loadPaths } from '../config/load.js';
import { resourceKey, type Resource } from '../config/resource.js';
import { buildRouteTable, type BuildOptions } from '../translate/build-table.js';
import type { Workload } from '../translate/service-registry.js';
import { isolateClusterErrors } from '../kubernetes/isolate-errors.js';
import type { AppliedStore } from './applied-store.js';
import type { ConfigState } from './config-state.js';

/** Changes this close together become one reload. */
const RELOAD_DELAY_MS = 100;

/** How often, and how long at most, a file that suddenly reads empty is read again (see readFiles). */
const TORN_READ_RETRY_MS = 100;
const TORN_READ_PATIENCE_MS = 500;

/** Resources kept elsewhere (the Kubernetes API server), merged after files and before the store. */
export interface ResourceFeed {
  snapshot(): {
    readonly resources: readonly Resource[];
    readonly issues: readonly ConfigIssue[];
    readonly workloads: readonly Workload[];
  };
}

export interface LoaderOptions {
  readonly paths: readonly string[];
  readonly store?: AppliedStore;
  readonly feed?: ResourceFeed;
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
  /** Resources each file yielded at the last read (to spot a read that caught a file mid-write). */
  private resourcesPerFile = new Map<string, number>();
  private scheduledFrom = new Set<string>();
  private loading: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: ConfigState,
    private readonly opts: LoaderOptions,
  ) {}

  /** Reads the files; resources from the applied store replace file ones with the same identity. */
  async readFiles(): Promise<{ resources: Resource[]; issues: ConfigIssue[] }> {
    let r = await loadPaths([...this.opts.paths]);
    // A file that held resources reads empty: most likely caught between a writer's truncate and
    // its write (editors and `>` do both). Publishing that would drop its routes for a moment, so
    // read again a little later; a file still empty after TORN_READ_PATIENCE_MS was emptied on purpose.
    for (
      let waited = 0;
      waited < TORN_READ_PATIENCE_MS && this.tornFiles(r).length > 0;
      waited += TORN_READ_RETRY_MS
    ) {
      await new Promise((ok) => setTimeout(ok, TORN_READ_RETRY_MS));
      r = await loadPaths([...this.opts.paths]);
    }
    this.files = r.files;
    this.resourcesPerFile = new Map(r.files.map((f) => [f, 0]));
    for (const res of r.resources)
      this.resourcesPerFile.set(res.source.file, (this.resourcesPerFile.get(res.source.file) ?? 0) + 1);
    return { resources: r.resources, issues: r.issues };
  }

  /** Files that had resources at the last read and now have none, without any issue about them. */
  private tornFiles(r: {
    resources: readonly Resource[];
    issues: readonly ConfigIssue[];
    files: readonly string[];
  }): string[] {
    const torn: string[] = [];
    for (const f of r.files) {
      if (!this.resourcesPerFile.get(f)) continue;
      if (r.resources.some((res) => res.source.file === f) || r.issues.some((i) => i.file === f)) continue;
      torn.push(f);
    }
    return torn;
  }

  merge(
    fileResources: readonly Resource[],
    stored: readonly Resource[],
    fed: readonly Resource[] = this.opts.feed?.snapshot().resources ?? [],
  ): Resource[] {
    const m = new Map<string, Resource>();
    for (const r of fileResources) m.set(resourceKey(r), r);
    for (const r of fed) m.set(resourceKey(r), r);
    for (const r of stored) m.set(resourceKey(r), r);
    return [...m.values()];
  }

  /** Compiles a resource set without publishing it (admission checks and validate use this). */
  compile(resources: readonly Resource[], loadIssues: readonly ConfigIssue[]) {
    const workloads = this.opts.feed
      ? [...(this.opts.build.workloads ?? []), ...this.opts.feed.snapshot().workloads]
      : this.opts.build.workloads;
    const options: BuildOptions = { ...this.opts.build, workloads, version: this.version + 1 };
    const built = buildRouteTable(resources, options);
    // `options` goes back too: with --workers, each worker rebuilds this very table from them.
    return {
      table: built.table,
      issues: [...loadIssues, ...built.issues],
      statuses: built.statuses,
      options,
    };
  }

  /**
   * Loads everything and publishes when error-free. Serialised: one load at a time.
   * `commit` runs after the new set compiled without errors and before it is published — the
   * applied store persists there, so stored state changes only with an accepted configuration; a
   * commit that throws (disk full) rejects the load and nothing changes.
   */
  reload(
    stored?: readonly Resource[],
    commit?: () => void,
  ): Promise<{ applied: boolean; issues: ConfigIssue[] }> {
    const run = async () => {
      const files = await this.readFiles();
      const feed = this.opts.feed?.snapshot();
      const loadIssues = feed ? [...files.issues, ...feed.issues] : files.issues;
      let resources = this.merge(files.resources, stored ?? this.opts.store?.all() ?? [], feed?.resources);
      let { table, issues, statuses } = this.compile(resources, loadIssues);
      if (feed && hasErrors(issues)) {
        // Objects from the API server with errors are left out instead of freezing every update.
        const iso = isolateClusterErrors(resources, { issues, rest: { table, statuses } }, (rs) => {
          const c = this.compile(rs, loadIssues);
          return { issues: c.issues, rest: { table: c.table, statuses: c.statuses } };
        });
        resources = iso.resources;
        ({ issues } = iso.compiled);
        ({ table, statuses } = iso.compiled.rest);
      }
      this.version++;
      if (!hasErrors(issues) && commit) {
        try {
          commit();
        } catch (e) {
          issues = [
            ...issues,
            {
              severity: 'error',
              resource: 'state',
              path: '',
              message: `cannot save the applied resources: ${(e as Error).message}`,
            },
          ];
        }
      }
      if (hasErrors(issues)) {
        this.state.reject(this.version, issues);
        this.opts.log(
          `config v${this.version} rejected; ${this.state.ready ? `still serving v${this.state.table.version}` : 'nothing is served yet'}:`,
        );
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

  /** Watches the given files and directories; a change reloads within ~RELOAD_DELAY_MS. */
  watch(): void {
    const targets = new Set<string>([...this.opts.paths, ...this.files.map((f) => dirname(f))]);
    // Directories are watched (an editor's save may replace the file), so events for unrelated
    // files there (a log file written next to the configuration, an editor's swap file) must not
    // reload: Umbra's own log beside its YAML would otherwise reload it forever.
    const names = new Set([...this.opts.paths, ...this.files].map((f) => basename(f)));
    const relevant = (name: string | Buffer | null): boolean => {
      if (name === null) return true;
      const n = basename(String(name));
      const ext = extname(n).toLowerCase();
      return ext === '' || CONFIG_EXTENSIONS.includes(ext) || names.has(n);
    };
    for (const t of targets) {
      try {
        const w = watch(t, { persistent: false }, (_event, name) => {
          if (relevant(name)) this.schedule();
        });
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // A path that does not exist yet is reported by the load itself.
      }
    }
  }

  /**
   * Reloads soon; changes within RELOAD_DELAY_MS coalesce into one compile and swap (an editor's
   * save is several events). The delay runs from the first change, not the last, so a file
   * rewritten continuously still reloads every ~RELOAD_DELAY_MS
   * (a debounce would never fire); a change during a reload schedules one more.
   */
  schedule(from = 'files'): void {
    this.scheduledFrom.add(from);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const sources = [...this.scheduledFrom].join(' and ');
      this.scheduledFrom.clear();
      void this.reload().then((r) => {
        if (r.applied) this.opts.log(`config v${this.state.table.version} applied from ${sources}`);
      });
    }, RELOAD_DELAY_MS);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
