// Wires shadow comparison into a running Umbra: the engine becomes the proxy's capture factory and
// the shadow writer's sink, its results go to the admin API and to the Prometheus registry.

import type { Registry } from 'prom-client';
import type { Proxy } from '../proxy/proxy.js';
import { registerCompareRoutes, type AdminRoute } from './admin-routes.js';
import { COMPARE_DEFAULTS, ComparisonEngine } from './comparison-engine.js';
import { registerCompareMetrics } from './metrics.js';

export interface CompareOptions {
  /** Retained-body memory budget in bytes (default 64 MiB). */
  readonly budgetBytes?: number;
  readonly maxPending?: number;
  readonly windowMs?: number;
  /** False keeps results in memory only. */
  readonly persist?: boolean;
}

export interface ComparisonWiring {
  readonly proxy: Proxy;
  /** Admin GET routes to add the report endpoints to. */
  readonly routes: Map<string, AdminRoute>;
  /** The Prometheus registry served at /stats/prometheus. */
  readonly registry?: Registry;
  readonly stateDir: string;
  readonly log?: (line: string) => void;
}

export function startComparison(
  { proxy, routes, registry, stateDir, log }: ComparisonWiring,
  o: CompareOptions = {},
): ComparisonEngine {
  const engine = new ComparisonEngine({
    budgetBytes: o.budgetBytes ?? COMPARE_DEFAULTS.budgetBytes,
    maxPending: o.maxPending,
    windowMs: o.windowMs,
    stateDir: o.persist === false ? undefined : stateDir,
    log,
  });
  proxy.comparison = engine;
  proxy.mirrors.comparison = engine;
  if (registry) registerCompareMetrics(engine, registry);
  registerCompareRoutes(routes, engine);
  return engine;
}

export function stopComparison(engine: ComparisonEngine): void {
  engine.close();
}
