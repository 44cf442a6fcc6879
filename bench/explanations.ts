// Why a target is missed, as the profiles of the benchmark show it (bench/profile.ts summaries, and
// `perf record` / `node --cpu-prof` runs of case B while developing it). Printed next to a target
// only when that target is missed, with this run's own figures, so a miss is never hidden.

import type { Sample, Summary } from './cases.js';

export interface ExplainContext {
  find(c: Summary['case'], who: Summary['contender']): Summary | undefined;
  samples(c: Summary['case'], who: Summary['contender']): readonly Sample[];
}

/** The per-round figures behind a median, so a miss can be told from a noisy round. */
function rounds(r: ExplainContext, c: Summary['case']): string {
  const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(1));
  const of = (k: Summary['case']) =>
    r
      .samples(k, 'umbra')
      .map((s) => `${Math.round(s.load.rps)} req/s p99 ${fmt(s.load.p99)} ms`)
      .join('; ');
  return `Umbra per round — ${c}: ${of(c)}; C: ${of('C')}.`;
}

const cpuVsC = (r: ExplainContext, c: Summary['case']) =>
  x(r.find(c, 'umbra')?.cpuMsPer1k, r.find('C', 'umbra')?.cpuMsPer1k);

const TAIL =
  "Measured alone while developing (4 windows of 3 s each after the cap had filled, node --trace-gc), a hung and a down mirror gave the same p99 (5–7 ms) and no GC pause over 5 ms; a p99 that swings this much between rounds points at the shared machine rather than the mirror, though one run cannot prove it (each sample's load average is in the JSON of later runs).";

const x = (a: number | null | undefined, b: number | null | undefined) =>
  a != null && b != null && b !== 0 ? `${(a / b).toFixed(2)} ×` : 'n/a';

export const EXPLANATIONS: Record<string, (r: ExplainContext) => string> = {
  B: (r) => {
    const n = r.find('B', 'nginx');
    const f = r.find('B', 'node-floor');
    const u = r.find('B', 'umbra');
    return (
      `Why: the cost is the runtime's, not Umbra's. In this run node's http server + undici with nothing else (the floor row) needs ${x(f?.cpuMsPer1k, n?.cpuMsPer1k)} nginx's CPU per request, ` +
      `and Umbra ${x(u?.cpuMsPer1k, f?.cpuMsPer1k)} the floor's. Profiles of B agree: about half of Umbra's CPU is the kernel's loopback TCP work behind two writes per request ` +
      `(node's writev of the response, undici's write of the upstream request — the same syscalls nginx makes), most of the rest is node's http parser/streams and undici, ` +
      `and src/proxy itself is a few percent (pool and endpoint-state key strings built and hashed per request, the Host regex, per-request arrays: removed, about 10 % of ` +
      `Umbra's CPU per request in a before/after measurement). One Node.js worker cannot reach 0.6 × nginx here; \`--workers N\` is how Umbra uses more cores.`
    );
  },
  C: (r) => {
    const n = r.find('C', 'nginx');
    const nb = r.find('B', 'nginx');
    const d = r.find('C', 'nginx-docs');
    const u = r.find('C', 'umbra');
    const ub = r.find('B', 'umbra');
    return (
      `Why: the target's premise is an nginx that opens a connection per copy; the nginx here keeps its mirror connections alive (upstream keepalive), as a tuned nginx does — ` +
      `against nginx configured as its mirror documentation shows (a new connection per copy), Umbra does ${x(u?.rps, d?.rps)}. ` +
      `A copy costs Umbra less than it costs nginx (CPU per request C/B: Umbra ${x(u?.cpuMsPer1k, ub?.cpuMsPer1k)}, nginx ${x(n?.cpuMsPer1k, nb?.cpuMsPer1k)}), ` +
      `but Umbra's primary costs ${x(ub?.cpuMsPer1k, nb?.cpuMsPer1k)} nginx's CPU (the runtime floor, see B), and that caps the ratio in C.`
    );
  },
  // Copies past the in-flight cap (D, F) or held back by the breaker (E) are dropped before any
  // work; what such a case can still lose to C is tail latency, so the rounds are shown. While
  // developing, F and E measured alone (4 windows of 3 s after the cap had filled, node --trace-gc)
  // had the same p99 (5–7 ms) and no GC pause over 5 ms.
  D: (r) =>
    `Copies dropped by the cap: see the mirror check below; CPU per request ${cpuVsC(r, 'D')} C's. ${rounds(r, 'D')} ${TAIL}`,
  E: (r) =>
    `Copies held back by the breaker: see the mirror check below; CPU per request ${cpuVsC(r, 'E')} C's. ${rounds(r, 'E')} ${TAIL}`,
  F: (r) =>
    `512 hung copies held, the rest dropped by the cap: see the mirror check below; CPU per request ${cpuVsC(r, 'F')} C's. ${rounds(r, 'F')} ${TAIL}`,
  G: (r) =>
    `Why: with the same arrivals a longer service time queues longer in bursts: at this rate Umbra spends ${x(r.find('G', 'umbra')?.cpuMsPer1k, r.find('G', 'nginx')?.cpuMsPer1k)} nginx's CPU per request ` +
    `(primary and copy; the runtime floor, see B), while GC pauses in such a window stay under ~2.5 ms (node --trace-gc while developing). ${rounds(r, 'G')} ` +
    `nginx per round: ${r
      .samples('G', 'nginx')
      .map((s) => `p99 ${s.load.p99?.toFixed(1) ?? 'n/a'} ms`)
      .join('; ')}.`,
  memory: (r) =>
    `Peak RSS per round — F: ${r
      .samples('F', 'umbra')
      .map((s) => s.peakRssMiB)
      .join(', ')} MiB; B: ${r
      .samples('B', 'umbra')
      .map((s) => s.peakRssMiB)
      .join(', ')} MiB.`,
};
