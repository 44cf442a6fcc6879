// A worker of `umbra run --workers N` (started by node:cluster from workers.ts): serves the shared
// listener and the Gateway listeners with its own proxy, connection pools, breakers and counters —
// nothing is shared with other workers on the request path. It compiles each table from the inputs
// the primary sends and answers the primary's questions; the admin port, files, the applied store
// and the Kubernetes watch stay with the primary.

import { createWriteStream } from 'node:fs';
import { startListener, type Listener } from '../proxy/listener.js';
import { Proxy } from '../proxy/proxy.js';
import { findVirtualHost } from '../proxy/router.js';
import { Telemetry } from '../telemetry/telemetry.js';
import type { ComparisonEngine } from '../compare/comparison-engine.js';
import { startComparison, stopComparison } from '../compare/start.js';
import { buildRouteTable } from '../translate/build-table.js';
import { ConfigState } from './config-state.js';
import { workerFile } from '../record/worker-file.js';
import { startRecording } from '../record/start.js';
import { opLogger } from './op-log.js';
import { settleHeap } from './settle-heap.js';
import type { OverloadGuard } from '../proxy/overload-guard.js';
import { startOverloadGuard } from './overload-wiring.js';
import { startGatewayListeners, type GatewayListeners } from './gateway-listeners.js';
import {
  fromPlain,
  WORKER_INDEX_ENV,
  WORKER_OPTIONS_ENV,
  type BreakerStateName,
  type FromWorker,
  type ToWorker,
  type WorkerOptions,
  type WorkerStats,
} from './worker-protocol.js';

const opts = JSON.parse(process.env[WORKER_OPTIONS_ENV] ?? '{}') as WorkerOptions;
const state = new ConfigState();
const log = opLogger(opts.logFormat ?? 'text', (l) => process.stderr.write(l), {
  prefix: `umbra worker ${process.pid}: `,
  worker: process.pid,
});
let proxy: Proxy | undefined;
let listener: Listener | undefined;
let gateways: GatewayListeners | undefined;
let telemetry: Telemetry | undefined;
let comparison: ComparisonEngine | undefined;
let overload: OverloadGuard | undefined;
let stopping = false;
// Tables are applied one at a time, in the order the primary sent them.
let queue: Promise<void> = Promise.resolve();

function send(m: FromWorker): void {
  if (process.connected) process.send!(m);
}

function accessLogSink(dest: string): ((s: string) => void) | undefined {
  if (dest === 'off') return undefined;
  if (dest === 'stdout' || dest === '-') return (s) => process.stdout.write(s);
  // O_APPEND: each batch of lines lands whole even with several workers writing the same file.
  const out = createWriteStream(dest, { flags: 'a' });
  return (s) => out.write(s);
}

async function apply(
  version: number,
  inputs: Extract<ToWorker, { type: 'umbra:config' }>['inputs'],
): Promise<void> {
  try {
    if (state.ready && version <= state.table.version) return send({ type: 'umbra:applied', version });
    const resources = inputs.resources.map(fromPlain);
    const built = buildRouteTable(resources, inputs.options);
    state.publish(built.table, resources, built.issues, built.statuses);
    if (!proxy) {
      proxy = new Proxy(state, {
        mirrorBodyBudget: opts.mirrorBodyBudget,
        accessLog: accessLogSink(opts.accessLog),
        accessLogFormat: opts.accessLogFormat,
        downstream: opts.downstream,
      });
      telemetry = new Telemetry(proxy, state, { namespace: opts.namespace });
      // Each worker writes recordings of its own (two processes must not rotate one file).
      startRecording(proxy, telemetry.registry, {
        filePath: (p) => workerFile(p, process.env[WORKER_INDEX_ENV] ?? String(process.pid)),
        log,
      });
      // Pairs are compared here; the primary adds up the results and keeps them (worker-aggregate.ts).
      comparison = startComparison(
        { proxy, routes: new Map(), registry: telemetry.registry, stateDir: '', log },
        { ...opts.compare, persist: false },
      );
      overload = startOverloadGuard(opts.overload, proxy, telemetry);
      listener = await startListener(proxy, findVirtualHost, {
        refuseConnections: overload.refuseConnection,
        host: opts.listen.host,
        port: opts.listen.port,
      });
      gateways = startGatewayListeners(proxy, state, { host: opts.listen.host, log, overload });
      await gateways.settled();
      // Before traffic is sent here: give back what start-up made the heap grow to (settle-heap.ts).
      settleHeap();
      send({ type: 'umbra:listening', host: listener.address.host, port: listener.address.port });
    } else {
      await gateways?.settled();
    }
    send({ type: 'umbra:applied', version });
  } catch (e) {
    send({ type: 'umbra:applied', version, error: (e as Error).message });
  }
}

async function stats(): Promise<WorkerStats> {
  if (!proxy) return { pid: process.pid, version: 0, mirrors: [], breakers: [], endpoints: [] };
  const mirrors = proxy.mirrors;
  return {
    pid: process.pid,
    version: state.table.version,
    mirrors: [...mirrors.counters.entries()],
    breakers: [...mirrors.counters.keys()].map(
      (name) => [name, mirrors.breakerState(name) as BreakerStateName] as const,
    ),
    endpoints: proxy.upstreams.snapshot(),
    metrics: await telemetry?.metricsJson(),
    compare: comparison?.snapshot(),
  };
}

async function stop(drainMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await queue.catch(() => undefined);
  await Promise.all([listener?.close(drainMs), gateways?.close(drainMs)]);
  await proxy?.close();
  if (comparison) stopComparison(comparison);
  overload?.stop();
  process.exit(0);
}

process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'umbra:config':
      queue = queue.then(() => apply(m.version, m.inputs));
      return;
    case 'umbra:stats':
      return void stats().then((st) => send({ type: 'umbra:stats', id: m.id, stats: st }));
    case 'umbra:stop':
      return void stop(m.drainMs);
  }
});
send({ type: 'umbra:hello' });
// The primary decides when workers stop (it drains them on SIGINT/SIGTERM); a terminal's Ctrl-C
// reaches the whole process group, so the worker must not die on it by itself.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
// The primary went away (crash, SIGKILL): stop serving rather than linger without a control plane.
process.on('disconnect', () => void stop(1_000));
