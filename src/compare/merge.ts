// Adds comparison results together: the groups of several workers (`umbra run --workers N`), or
// the results kept from before a restart plus those of a running worker. Counts add up, latency
// histograms add bucket by bucket, samples keep the newest of each pool.

import { LIMITS, type GroupState, type LatencyHisto, type Sample } from './results.js';

function addRecord(into: Record<string, number>, from: Readonly<Record<string, number | undefined>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + (v ?? 0);
}

function addHisto(a: LatencyHisto, b: LatencyHisto): LatencyHisto {
  return {
    count: a.count + b.count,
    sumMs: a.sumMs + b.sumMs,
    maxMs: Math.max(a.maxMs, b.maxMs),
    buckets: a.buckets.map((n, i) => n + (b.buckets[i] ?? 0)),
  };
}

function newest(samples: readonly Sample[]): Sample[] {
  const by = (a: Sample, b: Sample) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0);
  const diff = samples
    .filter((s) => s.outcome === 'different')
    .sort(by)
    .slice(-LIMITS.differentSamples);
  const rest = samples
    .filter((s) => s.outcome !== 'different')
    .sort(by)
    .slice(-LIMITS.otherSamples);
  return [...diff, ...rest];
}

/** a + b as a new group (neither is changed). The later one's configuration (thresholds) wins. */
export function mergeGroups(a: GroupState, b: GroupState): GroupState {
  const later = a.lastAt >= b.lastAt ? a : b;
  const modes: Record<string, number> = {};
  addRecord(modes, a.modes);
  addRecord(modes, b.modes);
  const statusPairs: Record<string, number> = { ...a.statusPairs };
  addRecord(statusPairs, b.statusPairs);
  const fields: GroupState['fields'] = {};
  let untracked = a.untrackedFieldDiffs + b.untrackedFieldDiffs;
  for (const src of [a.fields, b.fields])
    for (const [k, f] of Object.entries(src)) {
      const cur = fields[k];
      if (cur)
        fields[k] = {
          differences: cur.differences + f.differences,
          noise: cur.noise + f.noise,
          example: f.example ?? cur.example,
        };
      else if (Object.keys(fields).length < LIMITS.fieldsPerGroup) fields[k] = { ...f };
      else untracked += f.differences;
    }
  return {
    v: 1,
    key: a.key,
    route: a.route,
    endpoint: a.endpoint,
    mirror: a.mirror,
    baseline: later.baseline ?? a.baseline ?? b.baseline,
    policy: later.policy ?? a.policy ?? b.policy,
    thresholds: later.thresholds,
    compared: a.compared + b.compared,
    equal: a.equal + b.equal,
    different: a.different + b.different,
    noiseOnly: a.noiseOnly + b.noiseOnly,
    withBaseline: a.withBaseline + b.withBaseline,
    modes,
    missingCandidate: a.missingCandidate + b.missingCandidate,
    missingBaseline: a.missingBaseline + b.missingBaseline,
    statusPairs,
    latency: {
      primary: addHisto(a.latency.primary, b.latency.primary),
      candidate: addHisto(a.latency.candidate, b.latency.candidate),
      baseline: addHisto(a.latency.baseline, b.latency.baseline),
    },
    fields,
    untrackedFieldDiffs: untracked,
    cappedDiffs: a.cappedDiffs + b.cappedDiffs,
    samples: newest([...a.samples, ...b.samples]),
    lastSampleAt: Math.max(a.lastSampleAt, b.lastSampleAt),
    firstAt: a.firstAt <= b.firstAt ? a.firstAt : b.firstAt,
    lastAt: later.lastAt,
  };
}

/** Merges several sets of groups by key. */
export function mergeAll(sets: Iterable<Iterable<GroupState>>): Map<string, GroupState> {
  const out = new Map<string, GroupState>();
  for (const set of sets)
    for (const g of set) {
      const cur = out.get(g.key);
      out.set(g.key, cur ? mergeGroups(cur, g) : g);
    }
  return out;
}
