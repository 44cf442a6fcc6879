// `umbra run --workers N`: a primary process that owns the control plane — files, the applied
// store, the Kubernetes watch, config loading and admission, the admin port — and N node:cluster
// workers (worker.ts) that each serve the listener with their own proxy. The primary validates and
// compiles every configuration, then sends each worker the table's inputs; a reload or an apply is
// answered only once every worker serves the new table. Admin counters are summed over workers.

import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { formatIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import { Registry } from 'prom-client';
import { startAdmin, type AdminContext } from '../admin/admin-server.js';
import { registerDashboardRoutes } from '../dashboard/dashboard-routes.js';
import { registerCompareRoutes } from '../compare/admin-routes.js';
import { WorkerComparisons } from '../compare/worker-aggregate.js';
import type { RouteTable } from '../model/route-table.js';
import { Proxy } from '../proxy/proxy.js';
import type { MirrorCounters } from '../model/mirror-stats.js';
import { aggregateMetrics, PROMETHEUS_PATH, type ProcessMetrics } from '../telemetry/telemetry.js';
import { configMetricsText } from '../telemetry/config-metrics.js';
import { ConfigLoader, type LoaderOptions } from './config-loader.js';
import { ConfigState } from './config-state.js';
import { selfAddresses } from './self-addresses.js';
import type { UmbraOptions } from './umbra.js';
import { StartupError } from './startup-error.js';
import { openControlPlaneSources } from './control-plane-sources.js';
import {
  addCounters,
  isFromWorker,
  primaryRequests,
  plainResource,
  worstBreaker,
  WORKER_INDEX_ENV,
  WORKER_OPTIONS_ENV,
  type BreakerStateName,
  type EndpointSnapshotView,
  type FromWorker,
  type TableInputs,
  type ToWorker,
  type WorkerOptions,
  type WorkerStats,
} from './worker-protocol.js';

export interface ClusterOptions extends Omit<UmbraOptions, 'accessLog'> {
  readonly workers: number;
  /** "off", "stdout" or a file path (each worker writes its own lines). */
  readonly accessLogDest: string;
}

export interface UmbraCluster {
  readonly state: ConfigState;
  readonly loader: ConfigLoader;
  readonly admin: Server;
  /** Live worker processes. */
  workerPids(): number[];
  readonly proxyUrl: string;
  readonly adminUrl: string;
  close(drainMs?: number): Promise<void>;
}

const WORKER_JS = fileURLToPath(new URL('./worker.js', import.meta.url));
const ACK_TIMEOUT_MS = 15_000;
const STATS_TIMEOUT_MS = 2_000;

/** The loader of the primary: remembers what each table was built from, to hand it to workers. */
class PrimaryLoader extends ConfigLoader {
  private readonly inputs = new WeakMap<RouteTable, TableInputs>();

  constructor(
    private readonly current: ConfigState,
    opts: LoaderOptions,
    private readonly distribute: (table: RouteTable) => Promise<void>,
  ) {
    super(current, opts);
  }

  override compile(resources: readonly Resource[], loadIssues: Parameters<ConfigLoader['compile']>[1]) {
    const r = super.compile(resources, loadIssues);
    this.inputs.set(r.table, { resources: resources.map(plainResource), options: r.options });
    return r;
  }

  inputsOf(table: RouteTable): TableInputs | undefined {
    return this.inputs.get(table);
  }

  /** Published only when every worker serves it: an apply's answer means "in service". */
  override async reload(stored?: readonly Resource[], commit?: () => void) {
    const r = await super.reload(stored, commit);
    if (r.applied) await this.distribute(this.current.table);
    return r;
  }
}

interface WorkerSlot {
  worker: Worker;
  /** Highest table version this worker acknowledged. */
  applied: number;
  listening?: { host: string; port: number };
  waiters: Set<() => void>;
}

export async function startUmbraCluster(o: ClusterOptions): Promise<UmbraCluster> {
  if (!cluster.isPrimary) throw new Error('startUmbraCluster runs in the primary process');
  const n = Math.max(1, Math.floor(o.workers));
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { state, store, storeIssues, mirrorDefaults, self, kube } = await openControlPlaneSources(o, log);

  const slots = new Map<number, WorkerSlot>();
  let stopping = false;
  let latest: { version: number; inputs: TableInputs } | undefined;

  const sendTo = (slot: WorkerSlot, m: ToWorker) => {
    if (slot.worker.isConnected()) slot.worker.send(m);
  };
  const waitFor = (slot: WorkerSlot, done: () => boolean, ms: number) =>
    new Promise<boolean>((ok) => {
      if (done()) return ok(true);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        slot.waiters.delete(check);
        ok(true);
      };
      const timer = setTimeout(() => {
        slot.waiters.delete(check);
        ok(false);
      }, ms);
      slot.waiters.add(check);
    });

  const distribute = async (table: RouteTable) => {
    const inputs = loader.inputsOf(table);
    if (!inputs) return;
    if (latest && latest.version >= table.version) return;
    latest = { version: table.version, inputs };
    const msg: ToWorker = { type: 'umbra:config', version: table.version, inputs };
    const live = [...slots.values()];
    for (const s of live) sendTo(s, msg);
    const acked = await Promise.all(
      live.map((s) =>
        waitFor(s, () => s.applied >= table.version || !s.worker.isConnected(), ACK_TIMEOUT_MS),
      ),
    );
    if (acked.includes(false))
      log(`config v${table.version}: not every worker confirmed it within ${ACK_TIMEOUT_MS} ms`);
  };

  const loader = new PrimaryLoader(
    state,
    {
      paths: o.files,
      store,
      feed: kube,
      build: { namespace: o.namespace ?? 'default', mirrorDefaults, selfAddresses: self, labels: o.labels },
      log,
    },
    distribute,
  );
  kube?.onChange(() => loader.schedule('the API server'));
  const first = await loader.reload();
  if (!first.applied) {
    await kube?.close();
    throw new StartupError(
      `configuration has errors:\n${[...storeIssues, ...first.issues].map((i) => `  ${formatIssue(i)}`).join('\n')}`,
      first.issues,
    );
  }

  // Counters asked of every worker, summed for the admin API.
  let statsId = 0;
  const statsWaiters = new Map<number, (s: WorkerStats) => void>();

  const workerOptions: WorkerOptions = {
    listen: o.listen,
    mirrorBodyBudget: o.mirrorBodyBudget ?? 64 * 1024 * 1024,
    accessLog: o.accessLogDest,
    accessLogFormat: o.accessLogFormat ?? 'text',
    namespace: o.namespace ?? 'default',
    downstream: o.downstream,
    logFormat: o.logFormat,
    compare: o.compare,
    overload: o.overload,
  };
  // Each worker compares its own pairs; the primary adds them up and keeps them in the state dir.
  const comparisons = new WorkerComparisons(o.stateDir, log);
  cluster.setupPrimary({
    exec: WORKER_JS,
    args: [],
    // node --test's own flags must not reach the workers; --cpu-prof and the like should.
    execArgv: process.execArgv.filter((a) => !a.startsWith('--test')),
    serialization: 'advanced',
  });

  const fork = (index: number): WorkerSlot => {
    const worker = cluster.fork({
      [WORKER_OPTIONS_ENV]: JSON.stringify(workerOptions),
      [WORKER_INDEX_ENV]: String(index),
    });
    const slot: WorkerSlot = { worker, applied: 0, waiters: new Set() };
    slots.set(worker.id, slot);
    const wake = () => {
      for (const w of [...slot.waiters]) w();
    };
    worker.on('message', (m: unknown) => {
      if (!isFromWorker(m)) return;
      const msg = m as FromWorker;
      if (msg.type === 'umbra:hello') {
        // The newest table, whatever it is by now (a replacement worker starts on the current one).
        if (latest) sendTo(slot, { type: 'umbra:config', version: latest.version, inputs: latest.inputs });
      } else if (msg.type === 'umbra:listening') slot.listening = { host: msg.host, port: msg.port };
      else if (msg.type === 'umbra:applied') {
        if (msg.error) log(`worker ${worker.process.pid}: config v${msg.version} failed: ${msg.error}`);
        else slot.applied = Math.max(slot.applied, msg.version);
      } else if (msg.type === 'umbra:stats') statsWaiters.get(msg.id)?.(msg.stats);
      wake();
    });
    worker.on('exit', (code, signal) => {
      slots.delete(worker.id);
      if (worker.process.pid !== undefined) comparisons.retire(worker.process.pid);
      wake();
      if (stopping) return;
      // A worker that dies is replaced; the others keep serving meanwhile.
      log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      setTimeout(() => {
        if (!stopping) fork(index);
      }, 500).unref();
    });
    return slot;
  };

  const firstInputs = loader.inputsOf(state.table)!;
  latest = { version: state.table.version, inputs: firstInputs };
  const started = Array.from({ length: n }, (_, i) => fork(i));
  const ready = await Promise.all(
    started.map((s) => waitFor(s, () => s.listening !== undefined || !s.worker.isConnected(), 30_000)),
  );
  const listening = started.find((s) => s.listening)?.listening;
  if (ready.includes(false) || !listening || started.some((s) => !s.listening)) {
    stopping = true;
    for (const s of started) s.worker.kill();
    await kube?.close();
    throw new Error(
      `workers did not start listening on ${o.listen.host}:${o.listen.port} (is the port in use?)`,
    );
  }
  self.splice(0, self.length, ...selfAddresses(listening.host, listening.port));

  // The admin views read a Proxy; in the primary it serves nothing and shows the workers' sums.
  const view = new Proxy(state, { mirrorBodyBudget: 0 });
  let endpoints: EndpointSnapshotView[] = [];
  let breakers = new Map<string, BreakerStateName>();
  view.upstreams.snapshot = () => endpoints;
  view.mirrors.breakerState = (name: string) => breakers.get(name) ?? 'closed';
  let metrics: ProcessMetrics[] = [];
  let perWorker: { pid: number; configVersion: number; requests: number }[] = [];

  const gather = async () => {
    const id = ++statsId;
    const live = [...slots.values()].filter((s) => s.worker.isConnected());
    const got: WorkerStats[] = [];
    await new Promise<void>((ok) => {
      if (live.length === 0) return ok();
      const timer = setTimeout(ok, STATS_TIMEOUT_MS);
      statsWaiters.set(id, (s) => {
        got.push(s);
        if (got.length === live.length) {
          clearTimeout(timer);
          ok();
        }
      });
      for (const s of live) sendTo(s, { type: 'umbra:stats', id });
    });
    statsWaiters.delete(id);
    const counters = new Map<string, Record<string, unknown>>();
    const eps = new Map<string, EndpointSnapshotView>();
    const br = new Map<string, BreakerStateName>();
    for (const s of got) {
      for (const [name, c] of s.mirrors)
        addCounters(counters.get(name) ?? counters.set(name, {}).get(name)!, c);
      for (const [name, b] of s.breakers) br.set(name, worstBreaker(br.get(name), b));
      for (const e of s.endpoints) {
        const sum = eps.get(e.key);
        if (!sum) eps.set(e.key, { ...e });
        else {
          const into = sum as unknown as Record<string, unknown>;
          addCounters(into, e);
          into.ejected = sum.ejected || e.ejected;
        }
      }
    }
    view.mirrors.counters.clear();
    for (const [name, c] of counters) view.mirrors.counters.set(name, c as unknown as MirrorCounters);
    endpoints = [...eps.values()];
    breakers = br;
    metrics = got.flatMap((s) => (s.metrics ? [s.metrics] : []));
    for (const s of got) if (s.compare) comparisons.update(s.pid, s.compare);
    perWorker = got
      .map((s) => ({ pid: s.pid, configVersion: s.version, requests: primaryRequests(s.metrics) }))
      .sort((a, b) => a.pid - b.pid);
  };

  const extraRoutes: NonNullable<AdminContext['extraRoutes']> = new Map();
  extraRoutes.set(PROMETHEUS_PATH, async (_req, res) => {
    // Counters and histograms summed over workers (prom-client's AggregatorRegistry.aggregate).
    const body = (await aggregateMetrics(metrics)) + (await configMetricsText(state));
    res.writeHead(200, {
      'content-type': Registry.PROMETHEUS_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  // Each worker's pid, the table version it serves and the requests it answered: is load spread?
  extraRoutes.set('/workers', (_req, res) => {
    const body = JSON.stringify({ primary: process.pid, workers: perWorker }, null, 2) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  if (kube)
    for (const [path, h] of (await import('../kubernetes/start.js')).kubernetesAdminRoutes(kube))
      extraRoutes.set(path, h);
  registerDashboardRoutes(extraRoutes);
  registerCompareRoutes(extraRoutes, comparisons);
  // Comparison results are saved even when nobody reads the admin API.
  const saver = setInterval(
    () =>
      void gather().then(
        () => comparisons.flush(),
        () => undefined,
      ),
    5_000,
  );
  saver.unref();

  let admin: Server;
  try {
    admin = await startAdmin(
      {
        state,
        loader,
        store,
        proxy: view,
        token: o.adminToken,
        extraRoutes,
        beforeRead: gather,
        log,
        onQuit: o.onQuit,
      },
      o.admin.host,
      o.admin.port,
    );
  } catch (e) {
    stopping = true;
    for (const s of slots.values()) s.worker.kill();
    await kube?.close();
    throw e;
  }
  kube?.attach(state);
  if (o.watch !== false) loader.watch();
  const a = admin.address();
  const adminPort = typeof a === 'object' && a ? a.port : o.admin.port;

  return {
    state,
    loader,
    admin,
    workerPids: () => [...slots.values()].map((s) => s.worker.process.pid!).filter(Boolean),
    proxyUrl: `http://${listening.host}:${listening.port}`,
    adminUrl: `http://${o.admin.host}:${adminPort}`,
    async close(drainMs = 5_000) {
      stopping = true;
      clearInterval(saver);
      // The workers' latest results, folded in as they exit and saved below.
      await gather().catch(() => undefined);
      await kube?.close();
      loader.close();
      admin.closeAllConnections();
      const exits = [...slots.values()].map(
        (s) =>
          new Promise<void>((ok) => {
            if (!s.worker.isConnected() && s.worker.isDead()) return ok();
            const kill = setTimeout(() => s.worker.kill('SIGKILL'), drainMs + 2_000);
            s.worker.once('exit', () => {
              clearTimeout(kill);
              ok();
            });
            sendTo(s, { type: 'umbra:stop', drainMs });
          }),
      );
      await Promise.all([...exits, new Promise<void>((ok) => admin.close(() => ok()))]);
      comparisons.close();
      await view.close();
    },
  };
}
