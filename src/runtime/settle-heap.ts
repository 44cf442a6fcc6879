// One memory-reducing collection once a process is serving: start-up garbage (YAML trees, the
// validation schemas, the first translation) is freed and V8 gives the emptied pages back.
// Why: V8 keeps the pages its heap grew to during start-up; an ordinary collection frees objects
// but not pages, and V8's own memory reducer waits for a low allocation rate it does not see at
// rest (its rate is sampled at collections, and none happen at rest). README "Memory" has figures.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { releaseBuiltSchemas } from '../config/validate.js';

/** What the settling did: resident set before and after (bytes) and how long the pause was. */
export interface Settled {
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly ms: number;
}

type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/**
 * V8's `gc` function without exposing it to the process: `--expose-gc` is set only while a fresh
 * context is created (V8 installs its gc extension into contexts made while the flag is on), then
 * cleared. The main context's `globalThis.gc` stays undefined. Undefined if this runtime refuses.
 */
function memoryReducingGc(): GcFunction | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? (gc as GcFunction) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * Drops the validation schemas (the next load builds them again) and runs V8's "last resort" full
 * collection, which compacts, shrinks the young generation and releases empty pages. One pause
 * (about 25 ms with the seed's configuration on Node 24), taken before the first request is expected.
 */
export function settleHeap(): Settled | undefined {
  releaseBuiltSchemas();
  const gc = memoryReducingGc();
  if (!gc) return undefined;
  const rssBefore = process.memoryUsage.rss();
  const t0 = performance.now();
  // `flavor: 'last-resort'` (V8 11+) is V8's CollectAllAvailableGarbage: several full collections
  // in memory-reducing mode. An older V8 ignores the option and does one ordinary full collection.
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return { rssBefore, rssAfter: process.memoryUsage.rss(), ms: performance.now() - t0 };
}
