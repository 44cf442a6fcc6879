// prom-client's classes, each taken from its own file. The package's index also loads the
// Pushgateway (http, https), Summary's t-digest and every default metric (~10 MiB resident in a
// proxy that uses none of the first two); prom-client is pinned to an exact version, so the paths
// are fixed with it. The multi-worker aggregator is loaded only by a process that aggregates.

import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const load = createRequire(import.meta.url);

export const Registry = load('prom-client/lib/registry.js') as typeof PromClient.Registry;
export type Registry = PromClient.Registry;
export const Counter = load('prom-client/lib/counter.js') as typeof PromClient.Counter;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export const Gauge = load('prom-client/lib/gauge.js') as typeof PromClient.Gauge;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const collectDefaultMetrics = load(
  'prom-client/lib/defaultMetrics.js',
) as typeof PromClient.collectDefaultMetrics;

/** prom-client's AggregatorRegistry (node:cluster and the aggregators), loaded on first use. */
export function aggregatorRegistry(): typeof PromClient.AggregatorRegistry {
  return load('prom-client/lib/cluster.js') as typeof PromClient.AggregatorRegistry;
}
