// Starts the overload guard of one serving process (single-process Umbra or a worker): sampling,
// its metrics in the process's registry, and its two hooks — the mirror writer's refuseCopies and
// the listeners' refuseConnections (passed to startListener by the caller).

import type { Proxy } from '../proxy/proxy.js';
import { OverloadGuard, type OverloadOptions } from '../proxy/overload-guard.js';
import { registerOverloadMetrics } from '../telemetry/overload-metrics.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export function startOverloadGuard(
  o: Partial<OverloadOptions> | undefined,
  proxy: Proxy,
  telemetry: Telemetry,
): OverloadGuard {
  const guard = new OverloadGuard(o).start();
  registerOverloadMetrics(guard, telemetry.registry);
  proxy.mirrors.refuseCopies = guard.refuseCopy;
  return guard;
}
