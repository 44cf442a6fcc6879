// Umbra's own mirror metrics, read from the shadow writer's counters at scrape time: per mirror,
// what was sampled, skipped, sent, completed (by status class), failed and dropped (by reason), the
// copies in flight, the mirror's latency, and its status class beside the primary's for the same
// requests — the "is v2 safe?" signal. Labels: mirror="<service>.<namespace>|<subset>".

import type { BufferBudget, MirrorStatsSource } from '../model/data-plane-events.js';
import { LATENCY_BUCKETS_MS, type MirrorCounters } from '../model/mirror-stats.js';
import { CollectedMetric, histogramValues, type MetricValue } from './series.js';

type Out = MetricValue[];

export function mirrorMetrics(writer: MirrorStatsSource, processBudget: BufferBudget): CollectedMetric[] {
  const each = (fn: (mirror: string, c: MirrorCounters, out: Out) => void) => (out: Out) => {
    for (const [mirror, c] of writer.counters) fn(mirror, c, out);
  };
  const counter = (name: string, help: string, pick: (c: MirrorCounters) => number) =>
    new CollectedMetric(
      name,
      help,
      'counter',
      each((mirror, c, out) => out.push({ value: pick(c), labels: { mirror } })),
    );
  const byKey = (
    name: string,
    help: string,
    label: string,
    pick: (c: MirrorCounters) => Record<string, number>,
  ) =>
    new CollectedMetric(
      name,
      help,
      'counter',
      each((mirror, c, out) => {
        for (const [k, v] of Object.entries(pick(c))) out.push({ value: v, labels: { mirror, [label]: k } });
      }),
    );
  return [
    counter(
      'umbra_mirror_requests_total',
      'Requests that reached a route with this mirror (sent + dropped + skipped, once settled)',
      (c) => c.considered,
    ),
    counter(
      'umbra_mirror_sampled_total',
      'Requests chosen by the mirror percentage (or sampling key)',
      (c) => c.sampled,
    ),
    counter(
      'umbra_mirror_skipped_total',
      'Requests not chosen by the mirror percentage (or sampling key)',
      (c) => c.skipped,
    ),
    counter('umbra_mirror_sent_total', 'Copies handed whole to the mirror', (c) => c.sent),
    byKey(
      'umbra_mirror_completed_total',
      'Copies answered by the mirror, by status class',
      'status_class',
      (c) => c.completed,
    ),
    byKey(
      'umbra_mirror_failed_total',
      'Copies sent that got no answer, by reason (connect, reset, timeout, client_abort, other)',
      'reason',
      (c) => c.failed,
    ),
    byKey(
      'umbra_mirror_dropped_total',
      'Copies not sent, by reason (in_flight_cap, body_limit, body_budget, breaker, method, loop, no_endpoint)',
      'reason',
      (c) => c.dropped,
    ),
    new CollectedMetric(
      'umbra_mirror_status_pairs_total',
      'The mirror\'s status class beside the primary\'s for the same request (mirror_class="failed": no answer)',
      'counter',
      each((mirror, c, out) => {
        for (const [primary, row] of Object.entries(c.pairs))
          for (const [m, v] of Object.entries(row))
            out.push({ value: v, labels: { mirror, primary_class: primary, mirror_class: m } });
      }),
    ),
    new CollectedMetric(
      'umbra_mirror_in_flight',
      'Copies in flight to this mirror',
      'gauge',
      each((mirror, c, out) => out.push({ value: c.inFlight, labels: { mirror } })),
    ),
    new CollectedMetric(
      'umbra_mirror_breaker_open',
      "1 while the mirror's breaker is open or half-open (copies are dropped), else 0",
      'gauge',
      each((mirror, _c, out) =>
        out.push({ value: writer.breakerState(mirror) === 'closed' ? 0 : 1, labels: { mirror } }),
      ),
      'max',
    ),
    new CollectedMetric(
      'umbra_mirror_duration_milliseconds',
      'Time from sending a copy to the end of its answer (answered copies only)',
      'histogram',
      each((mirror, c, out) =>
        histogramValues(
          'umbra_mirror_duration_milliseconds',
          { mirror },
          LATENCY_BUCKETS_MS,
          { counts: c.latencyBuckets, sum: c.latencyMsSum, count: c.latencyCount },
          out,
        ),
      ),
    ),
    new CollectedMetric(
      'umbra_mirror_body_buffered_bytes',
      'Request body bytes buffered for copies in this process',
      'gauge',
      (out) => out.push({ value: processBudget.used, labels: {} }),
    ),
  ];
}
