// The recording file writer on its own: a full queue drops (and says why) instead of waiting, lines
// are written whole and in order, rotation numbers files as logrotate does and removes the oldest.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RecordFile, type RecordDropReason } from '../../src/record/record-file.js';
import { scratchDir } from '../helpers/scratch.js';

function tmp(): string {
  return scratchDir('umbra-record-file-');
}

test('a full queue drops lines at once and counts them; queued lines are written in order', async () => {
  const dir = tmp();
  try {
    const budget = { used: 0, limit: 1000 };
    const f = new RecordFile(join(dir, 'r.jsonl'), { maxBytes: 1 << 20, maxFiles: 2 }, budget);
    const outcomes: (RecordDropReason | 'ok')[] = [];
    for (let i = 0; i < 5; i++)
      f.append(`${String(i).repeat(299)}\n`, (ok, reason) => outcomes.push(ok ? 'ok' : reason!));
    // Synchronously: the two lines past the budget are already dropped.
    assert.deepEqual(outcomes, ['queue_full', 'queue_full']);
    assert.equal(budget.used, 900);
    await f.close();
    assert.deepEqual(outcomes, ['queue_full', 'queue_full', 'ok', 'ok', 'ok']);
    assert.equal(budget.used, 0);
    const lines = readFileSync(join(dir, 'r.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.deepEqual(
      lines.map((l) => l[0]),
      ['0', '1', '2'],
    );
    const late: string[] = [];
    f.append('x\n', (ok, reason) => late.push(ok ? 'ok' : reason!));
    assert.deepEqual(late, ['closed']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotation: path, path.1, path.2; the oldest beyond maxFiles is removed', async () => {
  const dir = tmp();
  try {
    const budget = { used: 0, limit: 1 << 20 };
    const path = join(dir, 'r.jsonl');
    const f = new RecordFile(path, { maxBytes: 2048, maxFiles: 3 }, budget);
    // 10 lines of 1000 bytes: two per file, five files' worth; three are kept.
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((ok) => f.append(`${String(i).repeat(999)}\n`, () => ok()));
    }
    await f.close();
    assert.deepEqual(readdirSync(dir).sort(), ['r.jsonl', 'r.jsonl.1', 'r.jsonl.2']);
    const first = (p: string) =>
      readFileSync(p, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l[0]);
    assert.deepEqual(first(path), ['8', '9']);
    assert.deepEqual(first(`${path}.1`), ['6', '7']);
    assert.deepEqual(first(`${path}.2`), ['4', '5']);
    assert.equal(f.rotations, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
