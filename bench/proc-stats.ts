// What the benchmark reads about a contender from /proc (Linux): peak resident memory (VmHWM) and CPU
// time of a process and its descendants, so memory and CPU per request cover every process that serves.

import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times; 100 on every Linux this runs on. */
const CLK_TCK = 100;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The pid and every descendant (nginx's worker, Umbra's cluster workers). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const children = read(`/proc/${out[i]}/task/${out[i]}/children`);
    if (children) for (const c of children.trim().split(/\s+/)) if (c) out.push(Number(c));
  }
  return out;
}

function statusKb(pid: number, field: string): number {
  const s = read(`/proc/${pid}/status`);
  const m = s?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : 0;
}

/** Peak RSS (VmHWM) summed over the tree, in MiB. */
export function peakRssMiB(pids: readonly number[]): number {
  return pids.reduce((a, p) => a + statusKb(p, 'VmHWM'), 0) / 1024;
}

/** Current RSS summed over the tree, in MiB. */
export function rssMiB(pids: readonly number[]): number {
  return pids.reduce((a, p) => a + statusKb(p, 'VmRSS'), 0) / 1024;
}

/** User + system CPU time used so far, summed over the tree, in ms. */
export function cpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const p of pids) {
    const s = read(`/proc/${p}/stat`);
    if (!s) continue;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / CLK_TCK;
}
