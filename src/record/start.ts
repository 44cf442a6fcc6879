// Wires recording into a running Umbra (or one worker of it): the copy recorder becomes the proxy's
// record sink and its counters join the Prometheus registry served at /stats/prometheus.

import type { Registry } from 'prom-client';
import type { Proxy } from '../proxy/proxy.js';
import { CopyRecorder, type CopyRecorderOptions } from './copy-recorder.js';
import { recordMetrics } from './record-metrics.js';

export function startRecording(
  proxy: Proxy,
  registry: Registry | undefined,
  opts: CopyRecorderOptions = {},
): CopyRecorder {
  const recorder = new CopyRecorder(opts);
  proxy.recorder = recorder;
  if (registry) for (const m of recordMetrics(recorder)) m.register(registry);
  return recorder;
}
