// Turns the samples of a run into medians per case and contender, the ratios the issue asks for
// (Umbra/nginx, proxy/direct; H: comparison on/off), the verdict on each target, and the markdown summary.

import {
  CASES,
  type CaseId,
  type ContenderId,
  type FootprintSample,
  type MirrorCheck,
  type Results,
  type Sample,
  type Summary,
  type Target,
} from './cases.js';
import { EXPLANATIONS, type ExplainContext } from './explanations.js';
import { FLOOR_PROFILE, type ProfileSummary } from './profile.js';

export const SHADOW_HOST = 'httpbin-shadow:8000';

function median(xs: readonly (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function errorCount(s: Sample): number {
  const e = s.load.errors;
  return e.connect + e.read + e.write + e.status + e.timeout + ('overload' in s.load ? s.load.overload : 0);
}

function addInto(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
}

function mirrorCheck(samples: readonly Sample[], v2Mode: string | undefined): MirrorCheck | undefined {
  if (!v2Mode || samples[0].contender === 'direct') return undefined;
  const hosts: Record<string, number> = {};
  let v2Requests = 0;
  let v2WarmupRequests = 0;
  let primaries = 0;
  for (const s of samples) {
    addInto(hosts, s.v2?.hosts);
    addInto(hosts, s.v2Warmup?.hosts);
    v2Requests += s.v2?.requests ?? 0;
    v2WarmupRequests += s.v2Warmup?.requests ?? 0;
    primaries += s.load.requests;
  }
  let umbra: MirrorCheck['umbra'];
  if (samples[0].mirrors) {
    const dropped: Record<string, number> = {};
    const failed: Record<string, number> = {};
    let sent = 0;
    for (const s of samples)
      for (const m of s.mirrors ?? []) {
        sent += m.sent;
        addInto(dropped, m.dropped);
        addInto(failed, m.failed);
      }
    for (const r of [dropped, failed]) for (const k of Object.keys(r)) if (r[k] === 0) delete r[k];
    umbra = { sent, dropped, failed };
  }
  const onlyShadow = Object.keys(hosts).every((h) => h === SHADOW_HOST);
  let ok: boolean;
  let note: string;
  if (v2Mode === 'down') {
    const attempted = umbra
      ? Object.values(umbra.failed).reduce((a, b) => a + b, 0) + (umbra.dropped.breaker ?? 0)
      : undefined;
    ok = umbra ? (attempted ?? 0) > 0 : true;
    note = umbra
      ? `v2 is down: ${attempted} copies failed to connect or were held back by the breaker`
      : 'v2 is down: nothing to count on its side';
  } else if (v2Mode === 'fast') {
    ok = onlyShadow && v2Requests >= 0.95 * primaries && primaries > 0;
    note = `v2 received ${v2Requests} copies for ${primaries} primaries (${primaries ? Math.round((100 * v2Requests) / primaries) : 0} %)`;
  } else {
    ok = onlyShadow && v2Requests + v2WarmupRequests > 0;
    note = `v2 received ${v2Requests} copies for ${primaries} primaries (and ${v2WarmupRequests} during the warm-up)`;
    if (umbra && umbra.sent < primaries) note += '; the rest were dropped by the in-flight cap, as designed';
  }
  if (v2Mode !== 'down')
    note += onlyShadow ? `, all with Host ${SHADOW_HOST}` : `, Hosts seen: ${JSON.stringify(hosts)}`;
  return { v2Requests, v2WarmupRequests, primaries, hosts, umbra, ok, note };
}

function compareSummary(ss: readonly Sample[]): Summary['compare'] {
  const cs = ss.map((s) => s.compare).filter((c) => c !== undefined);
  if (cs.length === 0) return undefined;
  const rss = cs.map((c) => c.peakRssMiB).filter((x): x is number => x !== null);
  return {
    rps: median(cs.map((c) => c.load.rps)) ?? 0,
    p99: median(cs.map((c) => c.load.p99)),
    cpuMsPer1k: median(cs.map((c) => c.cpuMsPer1k)),
    peakRssMiB: rss.length ? Math.max(...rss) : null,
    budgetBytes: Math.max(...cs.map((c) => c.budgetBytes)),
    peakRetainedBytes: Math.max(...cs.map((c) => c.peakRetainedBytes)),
    compared: cs.reduce((a, c) => a + c.compared, 0),
    hashOnly: cs.reduce((a, c) => a + c.hashOnly, 0),
    fixedRate: {
      compared: cs.reduce((a, c) => a + c.fixedRate.compared, 0),
      hashOnly: cs.reduce((a, c) => a + c.fixedRate.hashOnly, 0),
    },
    reported: [...new Set(cs.flatMap((c) => c.reported))],
  };
}

export function summarise(samples: readonly Sample[]): Summary[] {
  const out: Summary[] = [];
  for (const def of CASES) {
    for (const contender of [
      'direct',
      'nginx',
      'nginx-docs',
      'node-floor',
      'umbra',
      'umbra-2w',
      'umbra-compare-off',
      'umbra-compare-on',
    ] as ContenderId[]) {
      const ss = samples.filter((s) => s.case === def.id && s.contender === contender);
      if (ss.length === 0) continue;
      const rss = ss.map((s) => s.peakRssMiB).filter((x): x is number => x !== null);
      out.push({
        case: def.id,
        contender,
        rounds: ss.length,
        rps: median(ss.map((s) => s.load.rps)) ?? 0,
        p50: median(ss.map((s) => s.load.p50)),
        p99: median(ss.map((s) => s.load.p99)),
        cpuMsPer1k: median(ss.map((s) => s.cpuMsPer1k)),
        errors: ss.reduce((a, s) => a + errorCount(s), 0),
        requests: ss.reduce((a, s) => a + s.load.requests, 0),
        peakRssMiB: rss.length ? Math.max(...rss) : null,
        mirrorCheck: mirrorCheck(ss, def.v2),
        compare: compareSummary(ss),
      });
    }
  }
  return out;
}

function find(sums: readonly Summary[], c: CaseId, who: ContenderId): Summary | undefined {
  return sums.find((s) => s.case === c && s.contender === who);
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return Math.round((a / b) * 1000) / 1000;
}

/** closed-*: H's closed-loop window. */
type Metric = 'rps' | 'p50' | 'p99' | 'cpu' | 'closed-rps' | 'closed-cpu';

function metricOf(s: Sample, m: Metric): number | null {
  switch (m) {
    case 'rps':
      return s.load.rps;
    case 'p50':
      return s.load.p50;
    case 'p99':
      return s.load.p99;
    case 'cpu':
      return s.cpuMsPer1k;
    case 'closed-rps':
      return s.compare?.load.rps ?? null;
    case 'closed-cpu':
      return s.compare?.cpuMsPer1k ?? null;
  }
}

/**
 * a/b for two (case, contender) pairs, taken within each round (the two ran minutes apart at most,
 * under the same load on the machine) and then the median over rounds. Rounds where one of them
 * did not run are left out.
 */
export function paired(
  samples: readonly Sample[],
  a: [CaseId, ContenderId],
  b: [CaseId, ContenderId],
  m: Metric,
): number | null {
  const rs: number[] = [];
  for (const sa of samples) {
    if (sa.case !== a[0] || sa.contender !== a[1]) continue;
    const sb = samples.find((x) => x.case === b[0] && x.contender === b[1] && x.round === sa.round);
    const r = sb ? ratio(metricOf(sa, m), metricOf(sb, m)) : null;
    if (r !== null) rs.push(r);
  }
  const med = median(rs);
  return med === null ? null : Math.round(med * 1000) / 1000;
}

export function ratios(samples: readonly Sample[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const def of CASES) {
    if (def.id === 'A' || def.compare) continue;
    const c = def.id;
    out[`${c} umbra/nginx req/s`] = paired(samples, [c, 'umbra'], [c, 'nginx'], 'rps');
    if (!def.fixedRate && !def.backend) {
      out[`${c} umbra/direct req/s`] = paired(samples, [c, 'umbra'], ['A', 'direct'], 'rps');
      out[`${c} nginx/direct req/s`] = paired(samples, [c, 'nginx'], ['A', 'direct'], 'rps');
    }
    out[`${c} umbra/nginx p99`] = paired(samples, [c, 'umbra'], [c, 'nginx'], 'p99');
    out[`${c} umbra/nginx CPU per request`] = paired(samples, [c, 'umbra'], [c, 'nginx'], 'cpu');
  }
  for (const c of ['D', 'E', 'F'] as CaseId[]) {
    out[`${c}/C umbra req/s`] = paired(samples, [c, 'umbra'], ['C', 'umbra'], 'rps');
    out[`${c}/C umbra p99`] = paired(samples, [c, 'umbra'], ['C', 'umbra'], 'p99');
  }
  for (const b of REALISTIC)
    for (const c of ['D', 'F'] as const) {
      out[`${c}-${b}/C-${b} umbra req/s`] = paired(
        samples,
        [`${c}-${b}`, 'umbra'],
        [`C-${b}`, 'umbra'],
        'rps',
      );
      out[`${c}-${b}/C-${b} umbra p99`] = paired(samples, [`${c}-${b}`, 'umbra'], [`C-${b}`, 'umbra'], 'p99');
    }
  out['B-node umbra/node-floor CPU per request'] = paired(
    samples,
    ['B-node', 'umbra'],
    ['B-node', 'node-floor'],
    'cpu',
  );
  out['B umbra/node-floor req/s'] = paired(samples, ['B', 'umbra'], ['B', 'node-floor'], 'rps');
  out['B node-floor/nginx req/s'] = paired(samples, ['B', 'node-floor'], ['B', 'nginx'], 'rps');
  out['B umbra/node-floor CPU per request'] = paired(samples, ['B', 'umbra'], ['B', 'node-floor'], 'cpu');
  out['B node-floor/nginx CPU per request'] = paired(samples, ['B', 'node-floor'], ['B', 'nginx'], 'cpu');
  out['C umbra/nginx-docs req/s'] = paired(samples, ['C', 'umbra'], ['C', 'nginx-docs'], 'rps');
  out['C nginx/nginx-docs req/s'] = paired(samples, ['C', 'nginx'], ['C', 'nginx-docs'], 'rps');
  out['B umbra-2w/umbra req/s'] = paired(samples, ['B', 'umbra-2w'], ['B', 'umbra'], 'rps');
  out['C umbra-2w/umbra req/s'] = paired(samples, ['C', 'umbra-2w'], ['C', 'umbra'], 'rps');
  const on: [CaseId, ContenderId] = ['H', 'umbra-compare-on'];
  const off: [CaseId, ContenderId] = ['H', 'umbra-compare-off'];
  for (const m of ['p50', 'p99', 'cpu', 'closed-rps', 'closed-cpu'] as Metric[])
    out[`H on/off ${m}`] = paired(samples, on, off, m);
  return out;
}

const k = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : String(Math.round(x)));

const f1 = (x: number | null | undefined) =>
  x === null || x === undefined ? 'n/a' : x.toFixed(x >= 100 ? 0 : 2);

const REALISTIC = ['node', 'httpbin', 'h2c', 'grpc'] as const;

/** Per contender: the highest figures over rounds (memory verdicts take the worst round). */
export function footprintSummary(
  f: readonly FootprintSample[],
): Partial<Record<ContenderId, FootprintSample>> {
  const out: Partial<Record<ContenderId, FootprintSample>> = {};
  for (const x of f) {
    const o = out[x.contender];
    out[x.contender] = o
      ? {
          ...o,
          restMiB: Math.max(o.restMiB, x.restMiB),
          afterMiB: Math.max(o.afterMiB, x.afterMiB),
          peakMiB: Math.max(o.peakMiB, x.peakMiB),
          rps: Math.min(o.rps, x.rps),
          cpuMsPer1k: Math.max(o.cpuMsPer1k, x.cpuMsPer1k),
        }
      : x;
  }
  return out;
}

export function targets(
  sums: readonly Summary[],
  samples: readonly Sample[],
  footprint: readonly FootprintSample[] = [],
): Target[] {
  const t: Target[] = [];
  const u = (c: CaseId) => find(sums, c, 'umbra');
  const n = (c: CaseId) => find(sums, c, 'nginx');
  const ctx: ExplainContext = {
    find: (c, who) => find(sums, c, who),
    samples: (c, who) => samples.filter((s) => s.case === c && s.contender === who),
  };
  const push = (id: string, text: string, met: boolean | null, measured: string) =>
    t.push({ id, text, met, measured, explanation: met === false ? EXPLANATIONS[id]?.(ctx) : undefined });
  const cmp = (id: string, c: CaseId, k: number) => {
    const r = paired(samples, [c, 'umbra'], [c, 'nginx'], 'rps');
    push(
      id,
      `${c}: Umbra ≥ ${k} × nginx req/s`,
      r === null ? null : r >= k,
      r === null
        ? 'no nginx result'
        : `${r.toFixed(2)} × (median of the rounds' ratios; medians ${Math.round(u(c)!.rps)} vs ${Math.round(n(c)!.rps)} req/s)`,
    );
  };
  cmp('B', 'B', 0.6);
  cmp('C', 'C', 1.5);
  for (const id of ['D', 'E', 'F'] as CaseId[]) {
    const rr = paired(samples, [id, 'umbra'], ['C', 'umbra'], 'rps');
    const pr = paired(samples, [id, 'umbra'], ['C', 'umbra'], 'p99');
    const text = `${id}: Umbra req/s ≥ 0.8 × its C, p99 ≤ 1.25 × its C`;
    if (rr === null) {
      push(id, text, null, 'not run');
      continue;
    }
    push(
      id,
      text,
      rr >= 0.8 && pr !== null && pr <= 1.25,
      `req/s ${rr.toFixed(2)} × C, p99 ${pr === null ? 'n/a' : pr.toFixed(2)} × C (medians of the rounds' ratios; p99 ${f1(u(id)?.p99)} vs ${f1(u('C')?.p99)} ms)`,
    );
  }
  const g = paired(samples, ['G', 'umbra'], ['G', 'nginx'], 'p99');
  push(
    'G',
    'Fixed rate: Umbra p99 ≤ nginx p99',
    g === null ? null : g <= 1,
    g === null
      ? 'no nginx result'
      : `${g.toFixed(2)} × (median of the rounds' ratios; medians ${f1(u('G')!.p99)} vs ${f1(n('G')!.p99)} ms)`,
  );
  compareTargets(push, sums, samples);
  // Per core (issue 18): Umbra's CPU per request against node's http server + undici alone.
  for (const c of ['B', 'B-node'] as CaseId[]) {
    const r = paired(samples, [c, 'umbra'], [c, 'node-floor'], 'cpu');
    push(
      `floor-${c}`,
      `${c}: Umbra's CPU per request ≤ 1.1 × node http + undici alone`,
      r === null ? null : r <= 1.1,
      r === null
        ? 'not run'
        : `${r.toFixed(2)} × (median of the rounds' ratios; ${f1(u(c)?.cpuMsPer1k)} vs ${f1(find(sums, c, 'node-floor')?.cpuMsPer1k)} ms per 1k requests)`,
    );
  }
  // Realistic backends: the slow and hung mirrors against Umbra's own fast-mirror case.
  for (const b of REALISTIC)
    for (const c of ['D', 'F'] as const) {
      const id: CaseId = `${c}-${b}`;
      const base: CaseId = `C-${b}`;
      const rr = paired(samples, [id, 'umbra'], [base, 'umbra'], 'rps');
      const pr = paired(samples, [id, 'umbra'], [base, 'umbra'], 'p99');
      push(
        id,
        `${id}: Umbra req/s ≥ 0.8 × its ${base}, p99 ≤ 1.25 × its ${base}`,
        rr === null ? null : rr >= 0.8 && pr !== null && pr <= 1.25,
        rr === null
          ? 'not run'
          : `req/s ${rr.toFixed(2)} ×, p99 ${pr === null ? 'n/a' : pr.toFixed(2)} × (medians of the rounds' ratios; p99 ${f1(u(id)?.p99)} vs ${f1(u(base)?.p99)} ms)`,
      );
    }
  const fp = footprintSummary(footprint);
  if (fp.umbra) {
    push(
      'footprint-rest',
      "Footprint: one Umbra worker with the seed's mirror ≤ 72 MiB RSS at rest",
      fp.umbra.restMiB <= 72,
      `${f1(fp.umbra.restMiB)} MiB (highest of the rounds; nginx ${f1(fp.nginx?.restMiB)} MiB; node http + undici alone ${f1(fp['node-floor']?.restMiB)} MiB)`,
    );
    push(
      'footprint-load',
      `Footprint: ≤ 100 MiB RSS after ${fp.umbra.requests.toLocaleString('en-US')} mirrored requests at ${fp.umbra.inFlight} in flight`,
      fp.umbra.afterMiB <= 100,
      `${f1(fp.umbra.afterMiB)} MiB (highest of the rounds; nginx ${f1(fp.nginx?.afterMiB)} MiB; node http + undici alone, no mirror, ${f1(fp['node-floor']?.afterMiB)} MiB)`,
    );
  }
  const fr = u('F')?.peakRssMiB;
  const br = u('B')?.peakRssMiB;
  const mr = fr && br ? fr / br : null;
  push(
    'memory',
    'Memory: peak RSS with a hung mirror (F) < 2 × RSS of B',
    mr === null ? null : mr < 2,
    mr === null ? 'not run' : `${f1(fr)} vs ${f1(br)} MiB (highest of the rounds) = ${mr.toFixed(2)} ×`,
  );
  return t;
}

const bytes = (b: number) =>
  b >= 1024 * 1024
    ? `${(b / 1024 / 1024).toFixed(1)} MiB`
    : b >= 1024
      ? `${(b / 1024).toFixed(1)} KiB`
      : `${b} B`;

/** H's verdicts: latency at a fixed rate, the retained-body budget under load, and that it compared. */
function compareTargets(
  push: (id: string, text: string, met: boolean | null, measured: string) => void,
  sums: readonly Summary[],
  samples: readonly Sample[],
): void {
  const on = find(sums, 'H', 'umbra-compare-on');
  const off = find(sums, 'H', 'umbra-compare-off');
  const rate = samples.find((s) => s.case === 'H' && 'targetRate' in s.load)?.load as
    { targetRate: number } | undefined;
  const r99 = paired(samples, ['H', 'umbra-compare-on'], ['H', 'umbra-compare-off'], 'p99');
  const r50 = paired(samples, ['H', 'umbra-compare-on'], ['H', 'umbra-compare-off'], 'p50');
  const c = on?.compare;
  push(
    'H latency',
    `H: comparison on adds no latency to the primary at ${rate?.targetRate ?? '?'} req/s — p99 on ≤ 1.25 × p99 off`,
    r99 === null ? null : r99 <= 1.25,
    r99 === null
      ? 'not run'
      : `p99 ${r99.toFixed(2)} ×, p50 ${r50?.toFixed(2) ?? 'n/a'} × (medians of the rounds' ratios; p99 ${f1(on?.p99)} vs ${f1(off?.p99)} ms, p50 ${f1(on?.p50)} vs ${f1(off?.p50)} ms; ` +
          `the window compared ${c?.fixedRate.compared ?? 0} pairs, ${c?.fixedRate.hashOnly ?? 0} responses by hash only)`,
  );
  const co = off?.compare;
  const rss =
    c?.peakRssMiB != null && co?.peakRssMiB != null
      ? `peak RSS on ${f1(c.peakRssMiB)} vs off ${f1(co.peakRssMiB)} MiB, on − off = ${(c.peakRssMiB - co.peakRssMiB).toFixed(1)} MiB`
      : 'peak RSS n/a';
  push(
    'H budget',
    `H: under closed-loop load the retained response bodies stay ≤ --compare-budget (${c ? bytes(c.budgetBytes) : '?'})`,
    c ? c.peakRetainedBytes <= c.budgetBytes : null,
    c
      ? `peak retained ${bytes(c.peakRetainedBytes)} (the engine's high-water mark, highest of the rounds; ${c.hashOnly} responses compared by size and hash only because the budget was full); ${rss} (highest of the rounds each)`
      : 'not run',
  );
  push(
    'H compared',
    'H: comparison happened with it on (pairs compared, the field v2 changes reported) and retained nothing with it off',
    c && co
      ? c.compared > 0 && c.reported.includes('$.service') && co.peakRetainedBytes === 0 && co.compared === 0
      : null,
    c && co
      ? `on: ${c.compared} pairs compared, reported ${c.reported.length ? c.reported.join(', ') : 'no field'}; off: ${co.compared} compared, peak retained ${co.peakRetainedBytes} B`
      : 'not run',
  );
}

const NAMES: Record<ContenderId, string> = {
  direct: 'direct',
  nginx: 'nginx',
  'nginx-docs': 'nginx, docs mirror config',
  'node-floor': 'node http + undici, nothing else',
  umbra: 'Umbra',
  'umbra-2w': 'Umbra ×2 workers',
  'umbra-compare-off': 'Umbra, comparison off',
  'umbra-compare-on': 'Umbra, comparison on',
};

export function markdown(r: Results): string {
  const L: string[] = [];
  const m = r.machine as {
    cpus: number;
    cpuModel: string;
    node: string;
    nginx?: string;
    wrk?: string;
    loadavgStart: number[];
    loadavgEnd: number[];
    commit?: string;
    dirty?: boolean;
  };
  const only = Array.isArray(r.settings.only) ? `: --only ${r.settings.only.join(',')}` : '';
  L.push(`# Umbra vs nginx — ${r.date} (${r.mode} run${only})`);
  L.push('');
  L.push(
    `Produced by \`npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}\` (bench/run.ts) at commit ${m.commit ?? '?'}${m.dirty ? ' with uncommitted changes' : ''}.`,
  );
  L.push(
    `Machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}, nginx ${m.nginx ?? (r.settings.nginx === false ? 'not run (--no-nginx)' : 'not installed')}, ${m.wrk ?? 'wrk'}. Load average before/after: ${m.loadavgStart.map((x) => x.toFixed(2)).join(' ')} / ${m.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}.`,
  );
  for (const n of r.notes) L.push(`- ${n}`);
  L.push('');
  L.push(
    '| case | contender | req/s | (rounds: min–max) | p50 ms | p99 ms | errors | peak RSS MiB | CPU ms / 1k req | vs nginx (G: p99) | vs direct |',
  );
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of r.summaries) {
    const def = CASES.find((c) => c.id === s.case)!;
    // At a fixed rate both answer every request: compare p99 there, throughput elsewhere.
    const vsN = s.contender.startsWith('umbra')
      ? paired(r.samples, [s.case, s.contender], [s.case, 'nginx'], def.fixedRate ? 'p99' : 'rps')
      : null;
    const vsD =
      s.contender !== 'direct' && !def.fixedRate && !def.backend
        ? paired(r.samples, [s.case, s.contender], ['A', 'direct'], 'rps')
        : null;
    const rps = r.samples
      .filter((x) => x.case === s.case && x.contender === s.contender)
      .map((x) => x.load.rps);
    const range = rps.length > 1 ? `${k(Math.min(...rps))}–${k(Math.max(...rps))}` : '';
    L.push(
      `| ${s.case}: ${def.title} | ${NAMES[s.contender]} | ${Math.round(s.rps).toLocaleString('en-US')} | ${range} | ${f1(s.p50)} | ${f1(s.p99)} | ${s.errors} | ${f1(s.peakRssMiB)} | ${f1(s.cpuMsPer1k)} | ${vsN === null ? '' : `${vsN.toFixed(2)} ×`} | ${vsD === null ? '' : `${vsD.toFixed(2)} ×`} |`,
    );
  }
  L.push('');
  L.push(
    'Medians over rounds; ratios are taken within each round (contenders run back to back) and their median shown. Throughput on this shared machine moves between rounds (min–max column); CPU per request is the steadier figure.',
  );
  L.push('');
  L.push('## Targets (one worker each side, same run)');
  L.push('');
  for (const t of r.targets)
    L.push(
      `- **${t.met === null ? 'NOT MEASURED' : t.met ? 'MET' : 'MISSED'}** — ${t.text}: ${t.measured}.${t.explanation ? ` ${t.explanation}` : ''}`,
    );
  const floor = r.ratios['B node-floor/nginx req/s'];
  if (floor != null)
    L.push(
      `- For information — the runtime's floor (node's http server + undici, nothing else) in B: ${floor.toFixed(2)} × nginx's req/s at ${r.ratios['B node-floor/nginx CPU per request']?.toFixed(2)} × its CPU per request; Umbra reaches ${r.ratios['B umbra/node-floor req/s']?.toFixed(2)} × the floor's req/s at ${r.ratios['B umbra/node-floor CPU per request']?.toFixed(2)} × its CPU per request.`,
    );
  const docs = r.ratios['C umbra/nginx-docs req/s'];
  if (docs != null)
    L.push(
      `- For information — C against nginx's mirror as its documentation configures it (a new connection per copy): Umbra ${docs.toFixed(2)} ×.`,
    );
  const w2 = r.ratios['B umbra-2w/umbra req/s'];
  if (w2 != null)
    L.push(
      `- For information — \`--workers 2\` against one worker on this ${(r.machine as { cpus: number }).cpus}-core machine (wrk and the backends share the cores): B ${w2.toFixed(2)} ×, C ${r.ratios['C umbra-2w/umbra req/s']?.toFixed(2) ?? 'n/a'} ×.`,
    );
  const fps = footprintSummary(r.footprint ?? []);
  if (r.footprint && r.footprint.length > 0) {
    L.push('');
    L.push("## Footprint (one worker, the seed's mirror to a fast v2)");
    L.push('');
    L.push(
      '| contender | RSS at rest MiB | RSS after load MiB | peak RSS MiB | requests (in flight) | req/s | CPU ms / 1k req |',
    );
    L.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const [who, f] of Object.entries(fps))
      L.push(
        `| ${NAMES[who as ContenderId]} | ${f1(f.restMiB)} | ${f1(f.afterMiB)} | ${f1(f.peakMiB)} | ${f.requests.toLocaleString('en-US')} (${f.inFlight}) | ${f.rps.toLocaleString('en-US')} | ${f1(f.cpuMsPer1k)} |`,
      );
    L.push('');
    L.push(
      "Highest over rounds (lowest req/s). At rest: 1 s after the contender answered ready; after load: right after the last response. RSS counts the node binary's pages the process touched (file-backed, shared with every other process running the same binary) as well as its own memory.",
    );
  }
  L.push('');
  L.push('## Did mirroring happen?');
  L.push('');
  for (const s of r.summaries) {
    if (!s.mirrorCheck) continue;
    const u = s.mirrorCheck.umbra;
    const extra = u
      ? ` Umbra's counters: sent ${u.sent}${Object.keys(u.dropped).length ? `, dropped ${JSON.stringify(u.dropped)}` : ''}${Object.keys(u.failed).length ? `, failed ${JSON.stringify(u.failed)}` : ''}.`
      : '';
    L.push(
      `- ${s.case} ${NAMES[s.contender]}: ${s.mirrorCheck.ok ? 'yes' : '**NO**'} — ${s.mirrorCheck.note}.${extra}`,
    );
  }
  const hs = r.summaries.filter((s) => s.compare);
  if (hs.length > 0) {
    L.push('');
    L.push("## H: comparison's closed-loop window (a fresh process each, small --compare-budget)");
    L.push('');
    L.push(
      '| contender | req/s | p99 ms | CPU ms / 1k req | peak RSS MiB | peak retained KiB | budget KiB | compared | hash only | reported fields |',
    );
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const s of hs) {
      const c = s.compare!;
      L.push(
        `| ${NAMES[s.contender]} | ${Math.round(c.rps).toLocaleString('en-US')} | ${f1(c.p99)} | ${f1(c.cpuMsPer1k)} | ${f1(c.peakRssMiB)} | ${(c.peakRetainedBytes / 1024).toFixed(1)} | ${(c.budgetBytes / 1024).toFixed(0)} | ${c.compared} | ${c.hashOnly} | ${c.reported.join(', ')} |`,
      );
    }
    L.push('');
    L.push(
      `Compared and hash-only count since the process started (its warm-up included), summed over rounds; "body" among the reported fields comes from the pairs compared by size and hash only; on/off within each round: req/s ${r.ratios['H on/off closed-rps']?.toFixed(2) ?? 'n/a'} ×, CPU per request ${r.ratios['H on/off closed-cpu']?.toFixed(2) ?? 'n/a'} ×.`,
    );
  }
  if (r.profiles && Object.keys(r.profiles).length > 0) {
    L.push('');
    L.push("## Where Umbra's CPU goes (`node --cpu-prof`, separate run, one worker)");
    L.push('');
    L.push(
      "V8's sampler counts wall time, so a write that wakes the peer process and is preempted is charged to `writev` (node's response write) or `writeLatin1String` (undici's request write). " +
        "`perf record` (CPU time only) on case B while developing put 41–51 % of Umbra's CPU in the kernel (loopback TCP, wake-ups, context switches) and the rest in node, V8 and JIT code, where no function of src/proxy took more than 1.5 %. The raw profiles stay on the machine that ran the benchmark, in bench/results/raw/ (git-ignored).",
    );
    for (const [name, floor] of Object.entries(r.profiles)) {
      if (!name.endsWith(` — ${FLOOR_PROFILE}`)) continue;
      const umbra = r.profiles[name.slice(0, -` — ${FLOOR_PROFILE}`.length)];
      if (!umbra?.requests || !floor.requests) continue;
      const us = (p: ProfileSummary, area: string) => p.areas.find((a) => a.area === area)?.usPerRequest ?? 0;
      const areas = [...new Set([...umbra.areas, ...floor.areas].map((a) => a.area))].sort(
        (a, b) => us(umbra, b) - us(floor, b) - (us(umbra, a) - us(floor, a)),
      );
      const busy = (p: ProfileSummary) => (p.busyMs * 1000) / p.requests!;
      L.push('');
      L.push(`### ${name.split(':')[0]}: Umbra against ${FLOOR_PROFILE}, µs of busy time per request`);
      L.push('');
      L.push(
        `The same load on each, profiled (${umbra.requests.toLocaleString('en-US')} and ${floor.requests.toLocaleString('en-US')} requests, warm-up included); ` +
          `${busy(umbra).toFixed(1)} against ${busy(floor).toFixed(1)} µs, ${(busy(umbra) / busy(floor)).toFixed(2)} ×. Areas by what Umbra adds.`,
      );
      L.push('');
      L.push(`| area | ${FLOOR_PROFILE} | Umbra | Umbra − floor |`);
      L.push('|---|---:|---:|---:|');
      for (const a of areas)
        L.push(
          `| ${a} | ${us(floor, a).toFixed(2)} | ${us(umbra, a).toFixed(2)} | ${(us(umbra, a) - us(floor, a)).toFixed(2)} |`,
        );
    }
    for (const [name, p] of Object.entries(r.profiles)) {
      L.push('');
      L.push(`### ${name}: ${p.busyMs} ms busy`);
      L.push('');
      L.push(`By area: ${p.areas.map((a) => `${a.area} ${a.share} %`).join(', ')}.`);
      L.push('');
      L.push('| self % | function | where |');
      L.push('|---:|---|---|');
      for (const f of p.top) L.push(`| ${f.share} | ${f.fn} | ${f.where} |`);
    }
  }
  L.push('');
  return L.join('\n');
}
