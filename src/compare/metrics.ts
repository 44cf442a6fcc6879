// Comparison results as Prometheus metrics, registered in the telemetry registry that serves
// /stats/prometheus. Values are read from the results when scraped, so the request path does no
// metric work.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { ComparisonEngine } from './comparison-engine.js';
import { groupReport } from './report.js';

const GROUP_LABELS = ['route', 'endpoint', 'mirror'] as const;

/** Adds the comparison metrics of `e` to `registry`. */
export function registerCompareMetrics(e: ComparisonEngine, registry: Registry): void {
  const registers = [registry];
  const eachGroup = (fn: (g: ReturnType<typeof groupReport>) => void) => {
    for (const g of e.results.groups.values()) fn(groupReport(g, e.budget.limit));
  };
  new Counter({
    name: 'umbra_compare_requests_total',
    registers,
    help: 'Requests compared with a candidate mirror, by outcome (equal, different beyond noise, noise_only)',
    labelNames: [...GROUP_LABELS, 'outcome'],
    collect() {
      this.reset();
      eachGroup((g) => {
        const l = { route: g.route, endpoint: g.endpoint, mirror: g.mirror };
        this.inc({ ...l, outcome: 'equal' }, g.equal);
        this.inc({ ...l, outcome: 'different' }, g.different);
        this.inc({ ...l, outcome: 'noise_only' }, g.noiseOnly);
      });
    },
  });
  new Counter({
    name: 'umbra_compare_field_differences_total',
    registers,
    help: 'Requests in which a field differed from the primary: source=candidate (the mirror under test) or noise (the baseline)',
    labelNames: [...GROUP_LABELS, 'field', 'source'],
    collect() {
      this.reset();
      eachGroup((g) => {
        for (const f of [...g.differences, ...g.noise, ...g.minor]) {
          const l = { route: g.route, endpoint: g.endpoint, mirror: g.mirror, field: f.field };
          this.inc({ ...l, source: 'candidate' }, f.differences);
          if (f.noiseMeasured) this.inc({ ...l, source: 'noise' }, f.noise);
        }
      });
    },
  });
  new Gauge({
    name: 'umbra_compare_reported_fields',
    registers,
    aggregator: 'max',
    help: 'Fields whose candidate difference rate exceeds their noise rate beyond the thresholds',
    labelNames: [...GROUP_LABELS],
    collect() {
      this.reset();
      eachGroup((g) =>
        this.set({ route: g.route, endpoint: g.endpoint, mirror: g.mirror }, g.differences.length),
      );
    },
  });
  new Gauge({
    name: 'umbra_compare_field_reported',
    registers,
    // Several workers each judge their share of the traffic: one verdict of "reported" is enough.
    aggregator: 'max',
    help: '1 when the field is reported as a real difference (candidate rate beyond noise and thresholds), 0 when it is noise or minor',
    labelNames: [...GROUP_LABELS, 'field'],
    collect() {
      this.reset();
      eachGroup((g) => {
        for (const f of [...g.differences, ...g.noise, ...g.minor])
          this.set(
            { route: g.route, endpoint: g.endpoint, mirror: g.mirror, field: f.field },
            f.verdict === 'difference' ? 1 : 0,
          );
      });
    },
  });
  new Counter({
    name: 'umbra_compare_unpaired_total',
    registers,
    help: 'Comparisons that could not be made, by reason',
    labelNames: ['reason'],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(e.totals.unpaired)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'umbra_compare_hash_only_total',
    registers,
    help: 'Responses compared by size and hash only because the retained-body budget was full',
    collect() {
      this.reset();
      this.inc(e.totals.hashOnly);
    },
  });
  new Gauge({
    name: 'umbra_compare_retained_bytes',
    registers,
    help: 'Response body bytes held for pending comparisons',
    collect() {
      this.reset();
      this.set(e.budget.used);
    },
  });
  new Gauge({
    name: 'umbra_compare_retained_budget_bytes',
    registers,
    help: 'Budget for response body bytes held for comparison',
    collect() {
      this.reset();
      this.set(e.budget.limit);
    },
  });
  new Gauge({
    name: 'umbra_compare_pending',
    registers,
    help: 'Requests waiting for their primary or mirror responses to be compared',
    collect() {
      this.reset();
      this.set(e.pendingCount);
    },
  });
}
