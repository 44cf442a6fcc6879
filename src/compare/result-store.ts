// Keeps comparison results across restarts in an embedded SQLite file in the state directory
// (better-sqlite3: synchronous, so saves run off the request path on a timer, in one transaction).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { GroupState } from './results.js';

export const STORE_FILE = 'compare.sqlite';

export class ResultStore {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement<[string, string, number]>;
  private readonly saveMany: (groups: readonly GroupState[]) => void;

  constructor(readonly file: string) {
    this.db = new Database(file);
    // WAL: a crash mid-save leaves the previous results intact.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS compare_groups (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at INTEGER NOT NULL)',
    );
    this.upsert = this.db.prepare(
      'INSERT INTO compare_groups (key, data, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at',
    );
    this.saveMany = this.db.transaction((groups: readonly GroupState[]) => {
      const now = Date.now();
      for (const g of groups) this.upsert.run(g.key, JSON.stringify(g), now);
    });
  }

  static open(stateDir: string): ResultStore {
    mkdirSync(stateDir, { recursive: true });
    return new ResultStore(join(stateDir, STORE_FILE));
  }

  /** Every stored group; rows that do not parse are skipped (a newer format, or damage). */
  loadAll(): GroupState[] {
    const out: GroupState[] = [];
    for (const row of this.db.prepare('SELECT data FROM compare_groups').all() as { data: string }[]) {
      try {
        const g = JSON.parse(row.data) as GroupState;
        if (g && g.v === 1) out.push(g);
      } catch {
        // skipped
      }
    }
    return out;
  }

  save(groups: readonly GroupState[]): void {
    if (groups.length > 0) this.saveMany(groups);
  }

  clear(): void {
    this.db.exec('DELETE FROM compare_groups');
  }

  close(): void {
    this.db.close();
  }
}
