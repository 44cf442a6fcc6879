// Resident memory of a contender with the seed's mirror: at rest (1 s after it answered ready, before
// any request) and right after a fixed number of mirrored requests at a fixed concurrency — the
// issue's "one worker ≤ 72 MiB at rest, ≤ 100 MiB after 20,000 requests at 16 in flight". The load
// comes from undici in the runner's own process (pinned off the contender's core).

import { Pool } from 'undici';
import type { RunningContender } from './nginx.js';
import { cpuMs, peakRssMiB, rssMiB } from './proc-stats.js';

export interface Footprint {
  readonly restMiB: number;
  readonly afterMiB: number;
  readonly peakMiB: number;
  readonly rps: number;
  readonly cpuMsPer1k: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export async function measureFootprint(
  c: RunningContender,
  host: string,
  requests: number,
  inFlight: number,
): Promise<Footprint> {
  await new Promise((ok) => setTimeout(ok, 1_000));
  const rest = rssMiB(c.pids());
  const pool = new Pool(c.origin, { connections: inFlight, pipelining: 1 });
  let next = 0;
  let failed = 0;
  const cpu0 = cpuMs(c.pids());
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < requests) {
          next++;
          const r = await pool.request({ method: 'GET', path: '/get', headers: { host } });
          await r.body.dump();
          if (r.statusCode !== 200) failed++;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(c.pids()) - cpu0;
  if (failed > 0) throw new Error(`footprint: ${failed} of ${requests} requests were not answered 200`);
  return {
    restMiB: round1(rest),
    afterMiB: round1(rssMiB(c.pids())),
    peakMiB: round1(peakRssMiB(c.pids())),
    rps: Math.round(requests / seconds),
    cpuMsPer1k: round1((cpu / requests) * 1000),
  };
}
