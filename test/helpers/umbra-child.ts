// A real Umbra (startUmbra) in a child process for measurements that must not include the test's
// own load: forked with --expose-gc, it answers IPC messages — its addresses, a memory baseline
// taken after garbage collection (which also resets the kernel's peak-RSS mark), and the peak since.
// Options arrive as JSON in argv[2]; the child exits when its parent disconnects.

import { readFileSync, writeFileSync } from 'node:fs';
import { startUmbra, type UmbraOptions } from '../../src/runtime/umbra.js';

export type ChildRequest = 'baseline' | 'peak';
export interface ChildReady {
  readonly proxyUrl: string;
  readonly adminUrl: string;
}
export interface ChildMemory {
  /** Bytes, from /proc/self/status. */
  readonly rss: number;
  readonly peak: number;
}

function memory(): ChildMemory {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const options = JSON.parse(process.argv[2] ?? '{}') as UmbraOptions;
const umbra = await startUmbra({ ...options, log: () => undefined });
const gc = (globalThis as { gc?: () => void }).gc;

process.on('disconnect', () => void umbra.close(0).finally(() => process.exit(0)));
process.on('message', (m: ChildRequest) => {
  if (m === 'baseline') {
    gc?.();
    gc?.();
    // "5" resets VmHWM to the current RSS (proc(5), /proc/pid/clear_refs), so `peak` is this burst's.
    writeFileSync('/proc/self/clear_refs', '5');
    process.send!(memory());
  } else if (m === 'peak') process.send!(memory());
});
process.send!({ proxyUrl: umbra.proxyUrl, adminUrl: umbra.adminUrl } satisfies ChildReady);
