// `umbra run`: serve until SIGINT/SIGTERM, then drain (in-flight requests finish; mirrors are
// never waited for).

import { createWriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseAddress } from './addresses.js';
import { startUmbra, StartupError, type UmbraOptions } from '../runtime/umbra.js';
import type { ConfigState } from '../runtime/config-state.js';
import { startUmbraCluster } from '../runtime/workers.js';
import { settleHeap } from '../runtime/settle-heap.js';
import { DEFAULT_DOWNSTREAM, type DownstreamOptions } from '../proxy/downstream-options.js';
import type { PathNormalization } from '../proxy/path-normalize.js';
import { DEFAULT_OVERLOAD, type OverloadOptions } from '../proxy/overload-guard.js';
import { opLogger, type LogFormat } from '../runtime/op-log.js';
import {
  clearConfigurationState,
  configurationState,
  legacyState,
  prepareConfigurationState,
} from '../runtime/state-dir.js';
import { readToken } from './admin-client.js';

export interface RunFlags {
  file?: string[];
  listen: string;
  admin: string;
  stateDir: string;
  namespace: string;
  /** "istio=ingressgateway,app=edge": Umbra's labels as a gateway workload. */
  labels?: string;
  shadowSuffix: string | false;
  mirrorTimeout: string;
  mirrorMaxInFlight: string;
  mirrorBodyBuffer: string;
  mirrorTotalBodyBuffer: string;
  mirrorBodyBudget: string;
  compareBudget?: string;
  accessLog: string;
  accessLogFormat: 'text' | 'json';
  adminToken?: string;
  adminTokenFile?: string;
  /** Start without the applied resources (and comparison results) stored for this configuration. */
  fresh?: boolean;
  watch: boolean;
  kubernetes?: boolean;
  kubeconfig?: string;
  watchNamespace?: string;
  allNamespaces?: boolean;
  writeStatus: boolean;
  /** Worker processes serving the listener; default: the number of cores. */
  workers?: string;
  drainTimeout: string;
  logFormat: LogFormat;
  maxConnections: string;
  maxRequestsPerConnection: string;
  maxHeadersCount: string;
  maxHeaderSize: string;
  requestHeadersTimeout: string;
  requestTimeout: string;
  idleTimeout: string;
  keepAliveTimeout: string;
  xffTrustedHops: string;
  pathNormalization: PathNormalization;
  overloadMaxHeap: string;
  overloadHeapShedCopies: string;
  overloadHeapRefuseConnections: string;
  overloadLoopDelayShedCopies: string;
  overloadLoopDelayRefuseConnections: string;
}

function fraction(name: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new Error(`${name}: "${v}" is not a fraction between 0 and 1`);
  return n;
}

/** The overload guard's thresholds from the command line (validated before anything starts). */
export function overloadFlags(f: RunFlags): OverloadOptions {
  return {
    ...DEFAULT_OVERLOAD,
    maxHeapBytes: positiveInt('--overload-max-heap', f.overloadMaxHeap ?? '0') * 1024 * 1024,
    heapShedCopies: fraction(
      '--overload-heap-shed-copies',
      f.overloadHeapShedCopies ?? String(DEFAULT_OVERLOAD.heapShedCopies),
    ),
    heapRefuseConnections: fraction(
      '--overload-heap-refuse-connections',
      f.overloadHeapRefuseConnections ?? String(DEFAULT_OVERLOAD.heapRefuseConnections),
    ),
    loopDelayShedCopiesMs: positiveInt(
      '--overload-loop-delay-shed-copies',
      f.overloadLoopDelayShedCopies ?? '0',
    ),
    loopDelayRefuseConnectionsMs: positiveInt(
      '--overload-loop-delay-refuse-connections',
      f.overloadLoopDelayRefuseConnections ?? '0',
    ),
  };
}

/** The client-side limits from the command line (all validated here, before anything starts). */
export function downstreamFlags(f: RunFlags): DownstreamOptions {
  const d: DownstreamOptions = {
    ...DEFAULT_DOWNSTREAM,
    maxConnections: positiveInt('--max-connections', f.maxConnections),
    maxRequestsPerConnection: positiveInt('--max-requests-per-connection', f.maxRequestsPerConnection),
    maxHeadersCount: positiveInt('--max-headers-count', f.maxHeadersCount),
    maxHeaderBytes: positiveInt('--max-header-size', f.maxHeaderSize),
    headersTimeoutMs: positiveInt('--request-headers-timeout', f.requestHeadersTimeout),
    requestTimeoutMs: positiveInt('--request-timeout', f.requestTimeout),
    idleTimeoutMs: positiveInt('--idle-timeout', f.idleTimeout),
    keepAliveTimeoutMs: positiveInt('--keep-alive-timeout', f.keepAliveTimeout),
    xffTrustedHops: positiveInt('--xff-trusted-hops', f.xffTrustedHops),
    pathNormalization: f.pathNormalization,
  };
  if (d.maxHeadersCount < 1) throw new Error('--max-headers-count must be at least 1');
  if (d.maxHeaderBytes < 1024) throw new Error('--max-header-size must be at least 1024 bytes');
  // node refuses a headers timeout longer than the whole-request timeout.
  if (d.requestTimeoutMs > 0 && d.headersTimeoutMs > d.requestTimeoutMs)
    throw new Error('--request-headers-timeout cannot be longer than --request-timeout');
  return d;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: "${v}" is not a non-negative integer`);
  return n;
}

export function accessLogSink(dest: string): ((s: string) => void) | undefined {
  if (dest === 'off') return undefined;
  if (dest === 'stdout' || dest === '-') return (s) => process.stdout.write(s);
  const out = createWriteStream(dest, { flags: 'a' });
  return (s) => out.write(s);
}

/** What `run` needs of a running Umbra, one process or many. */
interface Serving {
  readonly state: ConfigState;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  close(drainMs?: number): Promise<void>;
}

/** One process (--workers 1: exactly startUmbra), or a primary with N node:cluster workers. */
function starter(workers: number, accessLogDest: string): (o: UmbraOptions) => Promise<Serving> {
  return workers > 1 ? (o) => startUmbraCluster({ ...o, workers, accessLogDest }) : startUmbra;
}

/** `--labels k=v,k2=v2` as a label map (Kubernetes label syntax is checked by the selector match only). */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--labels: "${part}" is not key=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export async function runCommand(f: RunFlags): Promise<void> {
  if (!f.file?.length && !f.kubernetes)
    throw new Error('run: give resources with -f PATH, or read them from a cluster with --kubernetes');
  if (!f.kubernetes && (f.kubeconfig || f.watchNamespace || f.allNamespaces))
    throw new Error('run: --kubeconfig, --watch-namespace and --all-namespaces need --kubernetes');
  if (f.watchNamespace && f.allNamespaces)
    throw new Error('run: --watch-namespace and --all-namespaces exclude each other');
  const workers = f.workers === undefined ? availableParallelism() : positiveInt('--workers', f.workers) || 1;
  const log = opLogger(f.logFormat ?? 'text');
  const downstream = downstreamFlags(f);
  const overload = overloadFlags(f);
  const drainMs = positiveInt('--drain-timeout', f.drainTimeout ?? '10000');
  const adminToken = readToken(f.adminToken, f.adminTokenFile, '--admin-token');
  // Applied resources belong to this configuration (its -f paths): another one run from the same
  // folder never loads them, and they come back when this one runs again.
  const scoped = configurationState(f.stateDir, f.file ?? [], Boolean(f.kubernetes));
  if (f.fresh) {
    const removed = clearConfigurationState(scoped);
    log(
      `umbra: --fresh: ${removed.length > 0 ? `removed ${removed.join(', ')} from` : 'nothing stored in'} ${scoped.dir}`,
    );
  }
  prepareConfigurationState(scoped, f.stateDir);
  const legacy = legacyState(f.stateDir);
  if (legacy)
    log(
      `umbra: warning: ${legacy} was written by an older Umbra for whichever configuration ran then; it is not loaded (re-apply what you need, then delete it)`,
    );
  let stop: (sig: string) => void = () => undefined;
  let umbra;
  try {
    umbra = await starter(
      workers,
      f.accessLog,
    )({
      files: f.file ?? [],
      kubernetes: f.kubernetes
        ? {
            kubeconfig: f.kubeconfig,
            watchNamespace: f.watchNamespace,
            allNamespaces: f.allNamespaces,
            writeStatus: f.writeStatus,
          }
        : undefined,
      listen: parseAddress(f.listen),
      admin: parseAddress(f.admin),
      stateDir: scoped.dir,
      namespace: f.namespace,
      labels: f.labels !== undefined ? parseLabels(f.labels) : undefined,
      watch: f.watch,
      adminToken,
      onQuit: () => stop('umbra stop'),
      mirror: {
        shadowSuffix: f.shadowSuffix === false ? '' : f.shadowSuffix,
        timeoutMs: positiveInt('--mirror-timeout', f.mirrorTimeout),
        maxInFlight: positiveInt('--mirror-max-in-flight', f.mirrorMaxInFlight),
        bodyBufferBytes: positiveInt('--mirror-body-buffer', f.mirrorBodyBuffer),
        totalBodyBufferBytes: positiveInt('--mirror-total-body-buffer', f.mirrorTotalBodyBuffer),
      },
      mirrorBodyBudget: positiveInt('--mirror-body-budget', f.mirrorBodyBudget),
      compare:
        f.compareBudget !== undefined
          ? { budgetBytes: positiveInt('--compare-budget', f.compareBudget) }
          : undefined,
      accessLog: workers > 1 ? undefined : accessLogSink(f.accessLog),
      accessLogFormat: f.accessLogFormat,
      log,
      logFormat: f.logFormat,
      downstream,
      overload,
    });
  } catch (e) {
    if (e instanceof StartupError) {
      log(`umbra: ${e.message}`, { level: 'error', event: 'startup_failed' });
      process.exit(1);
    }
    throw e;
  }
  // Serving: give back what start-up's garbage made the heap grow to (README "Memory").
  settleHeap();
  const t = umbra.state.table;
  log(
    `umbra: serving config v${t.version} (${t.hostIndex.size} host names, ${t.clusters.size} clusters) on ${umbra.proxyUrl}${workers > 1 ? ` with ${workers} workers` : ''}; admin ${umbra.adminUrl}; pid ${process.pid} (umbra stop --admin ${umbra.adminUrl.replace(/^http:\/\//, '')} stops it)`,
    {
      level: 'info',
      event: 'serving',
      configVersion: t.version,
      proxyUrl: umbra.proxyUrl,
      adminUrl: umbra.adminUrl,
    },
  );
  let stopping = false;
  stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    // Stop accepting, let in-flight requests finish within the drain time; mirrors are not waited for.
    log(`umbra: ${sig}: draining (up to ${drainMs} ms)`, {
      level: 'info',
      event: 'draining',
      signal: sig,
      drainMs,
    });
    void umbra.close(drainMs).then(() => {
      log('umbra: stopped', { level: 'info', event: 'stopped' });
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
