// Telemetry for one Umbra process: a prom-client registry with Istio's standard request metrics,
// Umbra's mirror metrics and Node's process metrics, fed by the proxy's observer hooks, served on
// the admin port at /stats/prometheus. A multi-worker primary gathers each worker's
// `metricsJson()` and merges them with `aggregateMetrics()` (prom-client's AggregatorRegistry).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client';
import {
  MIRROR_OVERFLOW_FLAG,
  type MirrorLogEntry,
  type ObservedDataPlane,
} from '../model/data-plane-events.js';
import type { ConfigState } from '../runtime/config-state.js';
import { IstioRequestMetrics, type SourceIdentity } from './istio-metrics.js';
import { mirrorMetrics } from './mirror-metrics.js';
import { registerConfigMetrics } from './config-metrics.js';

/** One process's metrics as prom-client's getMetricsAsJSON() gives them (plain data: IPC-safe). */
export type ProcessMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export interface TelemetryOptions {
  /** How Umbra names itself as the source workload (default: workload "umbra" in `namespace`). */
  readonly source?: Partial<SourceIdentity>;
  readonly namespace?: string;
  /** Node's process_* and nodejs_* metrics (default on). */
  readonly processMetrics?: boolean;
  /** Count configuration updates (umbra_config_updates_total): only where the configuration is loaded. */
  readonly configUpdates?: boolean;
}

export const PROMETHEUS_PATH = '/stats/prometheus';

export class Telemetry {
  readonly registry = new Registry();
  readonly requests: IstioRequestMetrics;

  constructor(proxy: ObservedDataPlane, state: ConfigState, opts: TelemetryOptions = {}) {
    const namespace = opts.source?.namespace ?? opts.namespace ?? 'default';
    this.requests = new IstioRequestMetrics(() => state.table, {
      workload: 'umbra',
      ...opts.source,
      namespace,
    });
    state.on('swap', () => this.requests.tableChanged());
    for (const m of [...this.requests.metrics(), ...mirrorMetrics(proxy.mirrors, proxy.budget)])
      m.register(this.registry);
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    if (opts.configUpdates) registerConfigMetrics(state, this.registry);

    // Chained, so the access log, comparison and others keep their hooks.
    const requests = this.requests;
    const primary = proxy.observer;
    proxy.observer = (e, route, cluster) => {
      primary?.(e, route, cluster);
      requests.record(
        cluster,
        e.upstream,
        false,
        e.status,
        e.flags,
        e.bytesIn,
        e.bytesOut,
        e.durationMs,
        e.grpc ? (e.grpcStatus ?? '') : undefined,
      );
    };
    const copy = proxy.mirrors.observer;
    proxy.mirrors.observer = (m: MirrorLogEntry) => {
      copy?.(m);
      // A copy abandoned mid-body is a drop (umbra_mirror_dropped_total), not a request.
      if (m.flag !== MIRROR_OVERFLOW_FLAG)
        requests.record(
          m.policy.cluster,
          m.upstream,
          true,
          m.status,
          m.flag,
          m.bodyBytesSent,
          m.bytesIn,
          m.durationMs,
        );
    };
  }

  /** Prometheus text exposition of this process. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** This process's metrics as JSON, for a multi-worker primary to merge with aggregateMetrics(). */
  metricsJson(): Promise<ProcessMetrics> {
    return this.registry.getMetricsAsJSON();
  }

  /** Admin GET routes (AdminContext.extraRoutes). */
  routes(): Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> {
    return new Map([
      [
        PROMETHEUS_PATH,
        async (_req: IncomingMessage, res: ServerResponse) => {
          const body = await this.text();
          res.writeHead(200, {
            'content-type': this.registry.contentType,
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        },
      ],
    ]);
  }
}

/** Merges several processes' metricsJson() into one Prometheus text (counters and histograms summed). */
export function aggregateMetrics(perProcess: readonly ProcessMetrics[]): Promise<string> {
  return AggregatorRegistry.aggregate([...perProcess]).metrics();
}
