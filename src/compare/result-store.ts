// Keeps comparison results across restarts in an embedded SQLite file in the state directory
// (better-sqlite3: synchronous, so saves run off the request path on a timer, in one transaction).

import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import type { GroupState } from './results.js';
import { ensurePrivateDir } from '../runtime/state-dir.js';

export const STORE_FILE = 'compare.sqlite';

/** Opened on first use: a state directory gets no database until there is a result to keep. */
export class ResultStore {
  private db?: Database.Database;
  private saveMany?: (groups: readonly GroupState[]) => void;

  constructor(readonly file: string) {}

  static open(stateDir: string): ResultStore {
    return new ResultStore(join(stateDir, STORE_FILE));
  }

  private ensure(): (groups: readonly GroupState[]) => void {
    if (this.saveMany) return this.saveMany;
    // Samples are redacted, but still the answers of real requests: private to this user, like the
    // rest of the state directory. SQLite creates its -wal and -shm files with the database's mode.
    ensurePrivateDir(dirname(this.file));
    closeSync(openSync(this.file, 'a', 0o600));
    chmodSync(this.file, 0o600);
    // Required here, not imported: the native addon (~7 MiB resident) loads only once a comparison has
    // a result to keep or an earlier run left a file, never in a process that compares nothing.
    const open = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    const db = (this.db = new open(this.file));
    // WAL: a crash mid-save leaves the previous results intact.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    for (const f of [`${this.file}-wal`, `${this.file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    db.exec(
      'CREATE TABLE IF NOT EXISTS compare_groups (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at INTEGER NOT NULL)',
    );
    const upsert = db.prepare<[string, string, number]>(
      'INSERT INTO compare_groups (key, data, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at',
    );
    this.saveMany = db.transaction((groups: readonly GroupState[]) => {
      const now = Date.now();
      for (const g of groups) upsert.run(g.key, JSON.stringify(g), now);
    });
    return this.saveMany;
  }

  /** Every stored group; rows that do not parse are skipped (a newer format, or damage). */
  loadAll(): GroupState[] {
    if (!this.db && !existsSync(this.file)) return [];
    this.ensure();
    const out: GroupState[] = [];
    for (const row of this.db!.prepare('SELECT data FROM compare_groups').all() as { data: string }[]) {
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
    if (groups.length > 0) this.ensure()(groups);
  }

  clear(): void {
    if (this.db || existsSync(this.file)) {
      this.ensure();
      this.db!.exec('DELETE FROM compare_groups');
    }
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
    this.saveMany = undefined;
  }
}
