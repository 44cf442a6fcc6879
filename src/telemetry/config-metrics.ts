// Configuration updates as Prometheus counters: accepted and rejected loads (file reloads, applies,
// deletes, API-server changes), like Envoy's update_success / update_rejected. Registered by the
// process that owns the configuration: a single Umbra, or the primary of --workers.

import { Counter, Registry } from 'prom-client';
import type { ConfigState } from '../runtime/config-state.js';

export function registerConfigMetrics(state: ConfigState, registry: Registry): void {
  const updates = new Counter({
    name: 'umbra_config_updates_total',
    help: 'Configurations accepted (result="success") and rejected (result="rejected"), as Envoy update_success/update_rejected',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      updates.reset();
      updates.inc({ result: 'success' }, state.updates.success);
      updates.inc({ result: 'rejected' }, state.updates.rejected);
    },
  });
}

/** The primary's own counters, to add to the workers' summed metrics. */
export function configMetricsText(state: ConfigState): Promise<string> {
  const registry = new Registry();
  registerConfigMetrics(state, registry);
  return registry.metrics();
}
