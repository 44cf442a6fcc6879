// Comparison results of `umbra run --workers N`, in the primary: each worker pairs and compares its
// own requests (a primary response and its copies are always handled by the same worker); the
// primary adds the workers' latest snapshots to what was kept before (SQLite in the state dir),
// serves the sum on the admin API, and saves it. A worker that exits is folded into the base.

import { mergeAll, mergeGroups } from './merge.js';
import {
  addTotals,
  buildReport,
  newTotals,
  type ComparisonReport,
  type ComparisonSource,
  type ReportFilter,
} from './report.js';
import { ResultStore } from './result-store.js';
import type { GroupState, Sample } from './results.js';
import type { ComparisonSnapshot } from './comparison-engine.js';

export class WorkerComparisons implements ComparisonSource {
  /** Results from before this run and from workers that have exited. */
  private base = new Map<string, GroupState>();
  private readonly baseTotals = newTotals();
  private readonly workers = new Map<number, ComparisonSnapshot>();
  private store?: ResultStore;
  private storeError?: string;

  constructor(stateDir: string | undefined, log: (line: string) => void = () => {}) {
    if (stateDir === undefined) return;
    try {
      this.store = ResultStore.open(stateDir);
      for (const g of this.store.loadAll()) this.base.set(g.key, g);
    } catch (e) {
      this.storeError = (e as Error).message;
      log(`umbra: comparison results are not persisted: ${this.storeError}`);
    }
  }

  update(pid: number, snap: ComparisonSnapshot): void {
    this.workers.set(pid, snap);
  }

  /** A worker is gone: its last results join the base, so they are neither lost nor counted twice. */
  retire(pid: number): void {
    const snap = this.workers.get(pid);
    if (!snap) return;
    this.workers.delete(pid);
    for (const g of snap.groups) {
      const cur = this.base.get(g.key);
      this.base.set(g.key, cur ? mergeGroups(cur, g) : g);
    }
    addTotals(this.baseTotals, snap.totals);
  }

  private merged(): Map<string, GroupState> {
    return mergeAll([this.base.values(), ...[...this.workers.values()].map((s) => s.groups)]);
  }

  report(filter: ReportFilter = {}): ComparisonReport {
    const totals = newTotals();
    addTotals(totals, this.baseTotals);
    let limitBytes = 0;
    let usedBytes = 0;
    let peakBytes = 0;
    let pending = 0;
    for (const s of this.workers.values()) {
      addTotals(totals, s.totals);
      // Each worker has its own budget: the process group's is their sum.
      limitBytes += s.budget.limitBytes;
      usedBytes += s.budget.usedBytes;
      peakBytes += s.budget.peakBytes;
      pending += s.pending;
    }
    return buildReport(
      this.merged().values(),
      { limitBytes, usedBytes, peakBytes },
      pending,
      totals,
      { file: this.store?.file, error: this.storeError },
      filter,
    );
  }

  samples(key: string): readonly Sample[] | undefined {
    return this.merged().get(key)?.samples;
  }

  /** Saves base + workers (the workers' part is saved again, grown, at the next flush). */
  flush(): void {
    if (!this.store) return;
    try {
      this.store.save([...this.merged().values()]);
    } catch (e) {
      this.storeError = (e as Error).message;
    }
  }

  close(): void {
    this.flush();
    this.store?.close();
    this.store = undefined;
  }
}
