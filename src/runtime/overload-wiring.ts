// Starts the overload guard of one serving process (single-process Umbra or a worker): sampling,
// its metrics in the process's registry, and the refusal of new connections on the main listener.

import type { Listener } from '../proxy/listener.js';
import { guardServer, OverloadGuard, type OverloadOptions } from '../proxy/overload-guard.js';
import { registerOverloadMetrics } from '../telemetry/overload-metrics.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export function startOverloadGuard(
  o: Partial<OverloadOptions> | undefined,
  telemetry: Telemetry,
  listener: Listener,
): OverloadGuard {
  const guard = new OverloadGuard(o).start();
  registerOverloadMetrics(guard, telemetry.registry);
  guardServer(listener.server, guard);
  return guard;
}
