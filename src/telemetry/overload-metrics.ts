// The overload guard's state as Prometheus metrics (Envoy's overload.<action>.active and
// overload.<resource>.pressure, with Umbra's names), read from the guard when scraped. Workers'
// gauges are merged with "max": one worker under pressure is what matters.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { OverloadAction, OverloadGuard } from '../proxy/overload-guard.js';

const ACTIONS: readonly OverloadAction[] = ['shed_copies', 'refuse_connections'];

export function registerOverloadMetrics(guard: OverloadGuard, registry: Registry): void {
  const registers = [registry];
  new Gauge({
    name: 'umbra_overload_action_active',
    registers,
    aggregator: 'max',
    help: 'Whether an overload action is in effect (1): shed_copies drops new mirror copies, refuse_connections closes new connections',
    labelNames: ['action'],
    collect() {
      this.set({ action: 'shed_copies' }, guard.shedCopies ? 1 : 0);
      this.set({ action: 'refuse_connections' }, guard.refuseConnections ? 1 : 0);
    },
  });
  new Counter({
    name: 'umbra_overload_activations_total',
    registers,
    help: 'Times an overload action turned on',
    labelNames: ['action'],
    collect() {
      this.reset();
      for (const a of ACTIONS) this.inc({ action: a }, guard.activations[a]);
    },
  });
  new Gauge({
    name: 'umbra_overload_heap_pressure',
    registers,
    aggregator: 'max',
    help: 'V8 heap in use divided by the heap size the overload thresholds refer to (--overload-max-heap, else V8’s limit)',
    collect() {
      this.set(guard.snapshot().heapPressure);
    },
  });
  new Gauge({
    name: 'umbra_overload_event_loop_delay_seconds',
    registers,
    aggregator: 'max',
    help: 'Longest event-loop delay in the last sampling interval (measured only when a loop-delay threshold is set)',
    collect() {
      this.set(guard.snapshot().loopDelayMs / 1000);
    },
  });
  new Counter({
    name: 'umbra_overload_refused_connections_total',
    registers,
    help: 'New downstream connections closed unanswered while refuse_connections was in effect',
    collect() {
      this.reset();
      this.inc(guard.connectionsRefused);
    },
  });
  new Counter({
    name: 'umbra_overload_shed_copies_total',
    registers,
    help: 'Mirror copies not sent while shed_copies was in effect (also counted in umbra_mirror_dropped_total{reason="in_flight_cap"})',
    collect() {
      this.reset();
      this.inc(guard.copiesShed);
    },
  });
}
