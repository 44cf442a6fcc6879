// Umbra as a contender: `umbra run` (the real CLI, its own process) on the seed's resources — the
// httpbin Service, the v1/v2 DestinationRule and the VirtualService of route-v1.yaml or mirror.yaml —
// with one WorkloadEntry per benchmark backend. Access logs off on both sides. Case H instead mirrors
// to a v1 baseline and the v2 candidate under docs/comparison.md's MirrorPolicy.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild, type ProxyCase, type RunningContender } from './nginx.js';
import { processTree } from './proc-stats.js';
import type { NodeRuntime } from './image-runtime.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UMBRA_BIN = join(REPO_ROOT, 'bin', 'umbra.js');

function seed(name: string): string {
  return readFileSync(join(REPO_ROOT, 'examples', 'seed', name), 'utf8');
}

function workloadEntry(name: string, version: string, port: number, portName = 'http'): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}
spec:
  address: 127.0.0.1
  ports:
    ${portName}: ${port}
  labels:
    app: httpbin
    version: ${version}
`;
}

// Case H: docs/comparison.md's example, v1 mirrored again as the baseline so noise cancellation runs.
// Only `enabled` differs between the two contenders, so both send the same copies.
const COMPARE_MIRRORS = `    mirrors:
    - destination: { host: httpbin, subset: v1 }
    - destination: { host: httpbin, subset: v2 }
`;

function comparePolicy(enabled: boolean): string {
  return `apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata:
  name: httpbin-v2
spec:
  targetRefs:
  - { group: networking.istio.io, kind: DestinationRule, name: httpbin, sectionName: v2 }
  compare:
    enabled: ${enabled}
    baseline: { host: httpbin, subset: v1 }
`;
}

/** The seed's resources for one case: route-v1.yaml without a mirror, mirror.yaml with one. */
export function umbraResources(c: ProxyCase, compare?: UmbraCompare): Record<string, string> {
  const [routeV1, destinationRule] = seed('route-v1.yaml').split(/^---$/m);
  // HTTP/2 cases: the Service port named so that Umbra dials h2c (docs/http2-grpc.md): "http2" for
  // h2c, "grpc" for gRPC; the WorkloadEntries' port names follow.
  const portName = c.protocol === 'h2c' ? 'http2' : c.protocol === 'grpc' ? 'grpc' : 'http';
  const service = seed('service.yaml').replace(/^(\s*- name: )http$/m, `$1${portName}`);
  if (!service.includes(`name: ${portName}`))
    throw new Error('examples/seed/service.yaml: no port named http');
  const files: Record<string, string> = {
    'service.yaml': service,
    'destination-rule.yaml': destinationRule,
    'virtual-service.yaml': compare
      ? routeV1.trimEnd() + '\n' + COMPARE_MIRRORS
      : c.v2Port
        ? seed('mirror.yaml')
        : routeV1,
    // With no mirror, v2 still exists (as in the seed) but gets no traffic; port 9 is never dialled.
    'workloads.yaml': `${workloadEntry('httpbin-v1', 'v1', c.v1Port, portName)}---\n${workloadEntry('httpbin-v2', 'v2', c.v2Port ?? 9, portName)}`,
  };
  if (compare) files['mirror-policy.yaml'] = comparePolicy(compare.enabled);
  return files;
}

export interface UmbraRun extends RunningContender {
  readonly admin: string;
}

export interface UmbraCompare {
  readonly enabled: boolean;
  /** `--compare-budget`: retained response bytes per process (Umbra's default when undefined). */
  readonly budgetBytes?: number;
}

export interface UmbraStartOptions {
  readonly workers: number;
  /** node flags and malloc settings (bench/image-runtime.ts); none when undefined. */
  readonly runtime?: NodeRuntime;
  /** Extra node flags after the runtime's (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Case H: baseline + candidate mirrors under a MirrorPolicy with comparison on or off. */
  readonly compare?: UmbraCompare;
}

async function waitReady(admin: string, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const gone = exited();
    if (gone) throw new Error(gone);
    try {
      const r = await fetch(`${admin}/ready`);
      await r.text();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`umbra not ready after ${timeoutMs} ms`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

export async function startUmbraContender(
  port: number,
  adminPort: number,
  c: ProxyCase,
  o: UmbraStartOptions,
): Promise<UmbraRun> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-'));
  mkdirSync(join(dir, 'config'));
  for (const [name, text] of Object.entries(umbraResources(c, o.compare)))
    writeFileSync(join(dir, 'config', name), text);
  const args = [
    ...(o.runtime?.args ?? []),
    ...(o.nodeArgs ?? []),
    UMBRA_BIN,
    'run',
    '-f',
    join(dir, 'config'),
    '--listen',
    `127.0.0.1:${port}`,
    '--admin',
    `127.0.0.1:${adminPort}`,
    '--state-dir',
    join(dir, 'state'),
    '--access-log',
    'off',
    '--no-watch',
    '--mirror-timeout',
    String(c.mirrorTimeoutS * 1000),
    '--workers',
    String(o.workers),
    ...(o.compare?.budgetBytes ? ['--compare-budget', String(o.compare.budgetBytes)] : []),
  ];
  const proc = spawn(process.execPath, args, {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...o.runtime?.env },
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const admin = `http://127.0.0.1:${adminPort}`;
  try {
    await waitReady(admin, 20_000, () =>
      proc.exitCode !== null ? `umbra exited with ${proc.exitCode}:\n${stderr}` : undefined,
    );
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  const pid = proc.pid!;
  return {
    origin: `http://127.0.0.1:${port}`,
    admin,
    pid,
    pids: () => processTree(pid),
    stop: async () => {
      await stopChild(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface MirrorCountersJson {
  readonly name: string;
  readonly breaker: string;
  readonly sent: number;
  readonly skipped: number;
  readonly inFlight: number;
  readonly completed: Record<string, number>;
  readonly failed: Record<string, number>;
  readonly dropped: Record<string, number>;
}

/** The mirrors' counters from the admin API (summed over workers). */
export async function umbraMirrorCounters(admin: string): Promise<MirrorCountersJson[]> {
  const r = await fetch(`${admin}/clusters`);
  const j = (await r.json()) as { mirrors?: MirrorCountersJson[] };
  return j.mirrors ?? [];
}

/** after − before, per mirror and counter (the admin API's counters only ever grow). */
export function mirrorDelta(
  after: readonly MirrorCountersJson[],
  before: readonly MirrorCountersJson[],
): MirrorCountersJson[] {
  const sub = (a: Record<string, number>, b: Record<string, number> | undefined) =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, typeof v === 'number' ? v - (b?.[k] ?? 0) : v]));
  return after.map((m) => {
    const b = before.find((x) => x.name === m.name);
    return {
      ...m,
      sent: m.sent - (b?.sent ?? 0),
      skipped: m.skipped - (b?.skipped ?? 0),
      completed: sub(m.completed, b?.completed),
      failed: sub(m.failed, b?.failed),
      dropped: sub(m.dropped, b?.dropped),
    };
  });
}

/** The part of GET /compare/report that case H reads (src/compare/report.ts ComparisonReport). */
export interface CompareReportJson {
  readonly budget: { readonly limitBytes: number; readonly usedBytes: number; readonly peakBytes: number };
  readonly totals: {
    readonly begun: number;
    readonly compared: number;
    readonly hashOnly: number;
    readonly unpaired: Record<string, number>;
  };
  readonly groups: readonly { readonly differences: readonly { readonly field: string }[] }[];
}

export async function umbraCompareReport(admin: string): Promise<CompareReportJson> {
  const r = await fetch(`${admin}/compare/report`);
  if (r.status !== 200) throw new Error(`/compare/report answered ${r.status}: ${await r.text()}`);
  return (await r.json()) as CompareReportJson;
}
