// Prometheus families of the recording sink (issue 16), read from the recorder's counters at scrape
// time: lines written and their bytes, bodies cut, records dropped by reason, memory held, per mirror.

import { CollectedMetric, type MetricValue } from '../telemetry/series.js';
import { RECORD_DROP_REASONS, type CopyRecorder, type RecordCounters } from './copy-recorder.js';

export function recordMetrics(recorder: CopyRecorder): CollectedMetric[] {
  const each =
    (fn: (mirror: string, c: RecordCounters, out: MetricValue[]) => void) => (out: MetricValue[]) => {
      for (const [mirror, c] of recorder.counters) fn(mirror, c, out);
    };
  const counter = (name: string, help: string, pick: (c: RecordCounters) => number) =>
    new CollectedMetric(
      name,
      help,
      'counter',
      each((mirror, c, out) => out.push({ value: pick(c), labels: { mirror } })),
    );
  return [
    counter('umbra_record_written_total', 'Copies written to the recording file', (c) => c.written),
    counter('umbra_record_written_bytes_total', 'Bytes of recording lines written', (c) => c.bytes),
    counter(
      'umbra_record_truncated_total',
      'Records whose body was cut at the policy’s record.maxBodyBytes',
      (c) => c.truncated,
    ),
    new CollectedMetric(
      'umbra_record_dropped_total',
      'Copies not recorded, by reason (queue_full, write_error, client_abort, body_budget, closed)',
      'counter',
      each((mirror, c, out) => {
        for (const reason of RECORD_DROP_REASONS)
          out.push({ value: c.dropped[reason], labels: { mirror, reason } });
      }),
    ),
    new CollectedMetric(
      'umbra_record_queued_bytes',
      'Bytes of records held in memory (bodies being read and lines waiting for the disk)',
      'gauge',
      (out) => out.push({ value: recorder.budget.used, labels: {} }),
    ),
  ];
}
