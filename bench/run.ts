// `npm run bench`: Umbra against nginx's mirror module on the cases A–F plus a fixed-rate run
// G, and Umbra against itself with shadow comparison off and on (H, issue 9). Backends, load
// generators and each contender run as separate processes; every (case, contender) gets a fresh
// process so peak RSS and leftovers of one case never leak into the next, and contenders alternate
// order within each round. Writes bench/results/<date>-node<major>.json + latest.md (the image's Node
// major; latest-node<major>.md for another).

import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startBackend, freePort, type Backend } from './backends.js';
import { measureFootprint } from './footprint.js';
import { httpbinAvailable, startHttpbinBackend } from './httpbin-backend.js';
import {
  CASES,
  H2_KINDS,
  isH2Kind,
  type BackendKind,
  type CaseDef,
  type FootprintSample,
  type CaseId,
  type CompareSample,
  type ContenderId,
  type Results,
  type Sample,
  type V2Mode,
} from './cases.js';
import { h2loadVersion, runH2load } from './h2load.js';
import { IMAGE_ENV, IMAGE_NODE_FLAGS, IMAGE_NODE_MAJOR, type NodeRuntime } from './image-runtime.js';
import { nginxVersion, startNginx, startNodeFloor, type ProxyCase, type RunningContender } from './nginx.js';
import { runOpenLoop } from './open-loop.js';
import { cpuMs, peakRssMiB } from './proc-stats.js';
import { FLOOR_PROFILE, summariseProfile, type ProfileSummary } from './profile.js';
import { markdown, ratios, summarise, targets } from './report.js';
import {
  mirrorDelta,
  REPO_ROOT,
  startUmbraContender,
  umbraCompareReport,
  umbraMirrorCounters,
  type CompareReportJson,
  type UmbraRun,
} from './umbra.js';
import { runWrk, writeWrkScript, type LoadResult } from './wrk.js';

interface Settings {
  quick: boolean;
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  rate: number;
  mirrorTimeoutS: number;
  /** H's `--compare-budget`: small, so that the closed-loop window can reach it. */
  compareBudget: number;
  only?: Set<CaseId>;
  nginx: boolean;
  twoWorkers: boolean;
  /** Cases to profile Umbra on after the measured rounds. */
  profile: CaseId[];
  /** Contender on CPU 0, load generators and backends on CPU 1 (taskset); off with --no-pin. */
  pin: boolean;
  /** Realistic backends run besides the minimal one (cases B, C, D, F again). */
  backends: Set<BackendKind>;
  /** RSS at rest and after a fixed mirrored load, Umbra and nginx (--no-footprint skips it). */
  footprint: boolean;
  footprintRequests: number;
  /** h2load's connections and streams per connection in the h2c/grpc cases (8 × 4 = wrk's 32). */
  h2Connections: number;
  h2Streams: number;
  /** Umbra's --max-semi-space-size in MiB, as the container image runs it (0: V8's default). */
  semiSpaceMiB: number;
  /** Keep V8's Maglev compiler (the image turns it off with --no-maglev; a no-op on Node 20). */
  maglev: boolean;
  /** Umbra's --heap-growing-percent, as the image runs it (0: V8's dynamic factor). */
  heapGrowingPercent: number;
  /** Keep V8's allocation-site pretenuring (the image turns it off with --no-allocation-site-pretenuring). */
  pretenuring: boolean;
  /** The image's glibc malloc settings (IMAGE_ENV) for Umbra and the floor; off with --malloc-default. */
  mallocTuning: boolean;
}

function parseArgs(argv: readonly string[]): Settings {
  const quick = argv.includes('--quick');
  const s: Settings = {
    quick,
    rounds: quick ? 1 : 3,
    durationS: quick ? 3 : 5,
    warmupS: quick ? 1 : 2,
    connections: 32,
    rate: 2000,
    mirrorTimeoutS: 10,
    // 4 KiB: a 49-byte body makes a pair ~150 retained bytes, and 32 connections keep a few dozen
    // pairs pending, so this is what the closed loop can fill (4 MiB would never be reached: even
    // the 10,000-pair pending cap holds under 1.5 MiB).
    compareBudget: 4 * 1024,
    nginx: !argv.includes('--no-nginx'),
    twoWorkers: !quick && !argv.includes('--no-workers'),
    profile: quick || argv.includes('--no-profile') ? [] : ['B', 'C'],
    pin: !argv.includes('--no-pin'),
    backends: new Set<BackendKind>(['minimal', 'node', 'httpbin', ...H2_KINDS]),
    footprint: !argv.includes('--no-footprint'),
    footprintRequests: 20_000,
    h2Connections: 8,
    h2Streams: 4,
    semiSpaceMiB: 2,
    maglev: argv.includes('--maglev'),
    heapGrowingPercent: 50,
    pretenuring: argv.includes('--pretenuring'),
    mallocTuning: !argv.includes('--malloc-default'),
  };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--rounds':
        s.rounds = Number(v);
        break;
      case '--duration':
        s.durationS = Number(v);
        break;
      case '--warmup':
        s.warmupS = Number(v);
        break;
      case '--rate':
        s.rate = Number(v);
        break;
      case '--compare-budget':
        s.compareBudget = Number(v);
        break;
      case '--connections':
        s.connections = Number(v);
        break;
      case '--only':
        // Realistic cases keep their lower-case suffix: B-node, C-httpbin.
        s.only = new Set(v.split(',').map((x) => x.replace(/^[a-h]/, (c) => c.toUpperCase())) as CaseId[]);
        break;
      case '--profile':
        s.profile = v.toUpperCase().split(',') as CaseId[];
        break;
      case '--backends':
        s.backends = new Set(['minimal', ...v.split(',')] as BackendKind[]);
        break;
      case '--h2-connections':
        s.h2Connections = Number(v);
        break;
      case '--h2-streams':
        s.h2Streams = Number(v);
        break;
      case '--footprint-requests':
        s.footprintRequests = Number(v);
        break;
      case '--semi-space':
        s.semiSpaceMiB = Number(v);
        break;
      case '--heap-growing':
        s.heapGrowingPercent = Number(v);
        break;
      case '--help':
        process.stdout.write(
          'npm run bench -- [--quick] [--rounds N] [--duration S] [--warmup S] [--rate R] [--connections N]\n' +
            '                 [--only A,B,C-node,F-httpbin,...] [--no-nginx] [--no-workers] [--profile B,C,... | --no-profile]\n' +
            '                 [--backends node,httpbin,h2c,grpc | --backends none] [--no-pin] [--no-footprint]\n' +
            '                 [--h2-connections N] [--h2-streams N]   (h2load -c and -m of the h2c/grpc cases; 8 × 4)\n' +
            "                 [--footprint-requests N] [--semi-space MIB]   (Umbra's --max-semi-space-size; 0 = V8 default)\n" +
            "                 [--maglev]   (keep V8's Maglev compiler, which the image turns off)\n" +
            "                 [--heap-growing PERCENT]   (Umbra's --heap-growing-percent; 0 = V8's dynamic factor)\n" +
            "                 [--pretenuring]   (keep V8's allocation-site pretenuring, which the image turns off)\n" +
            "                 [--malloc-default]   (without the image's MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_)\n" +
            "                 [--compare-budget BYTES]   (H's closed-loop window; default 4096)\n" +
            '       npm run bench -- --report bench/results/DATE.json   (rewrite the summary from saved samples)\n',
        );
        process.exit(0);
    }
  }
  return s;
}

function has(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return undefined;
  return `${r.stdout}${r.stderr}`.trim();
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const HOST = 'httpbin:8000';

interface BackendSet {
  readonly v1: Backend;
  readonly v2: Record<V2Mode, Backend>;
}

interface Env {
  readonly s: Settings;
  readonly sets: Partial<Record<BackendKind, BackendSet>>;
  readonly script: string;
  readonly contenders: Contenders;
}

/** Contenders running now, so an interrupted run (Ctrl-C, SIGINT) stops them as well as the backends. */
class Contenders {
  private readonly live = new Set<RunningContender>();
  private stopping = false;

  /** Tracks a contender until its stop(); one that came up after the run was interrupted is stopped. */
  async track<C extends RunningContender>(c: C): Promise<C> {
    if (this.stopping) {
      await c.stop();
      throw new Error('bench interrupted');
    }
    this.live.add(c);
    return {
      ...c,
      stop: async () => {
        this.live.delete(c);
        await c.stop();
      },
    };
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.live].map((c) => c.stop()));
    this.live.clear();
  }
}

function setOf(env: Env, def: CaseDef): BackendSet {
  const set = env.sets[def.backend ?? 'minimal'];
  if (!set) throw new Error(`no ${def.backend} backends`);
  return set;
}

/** CPUs given to the contender and to everything else (load generators, backends, this runner). */
const CONTENDER_CPUS = '0';
const LOAD_CPUS = '1';

/** Sets the CPU affinity of every thread of these processes (taskset -a -p). */
function pin(pids: readonly number[], cpus: string): void {
  for (const pid of pids) {
    const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`taskset -p -c ${cpus} ${pid}: ${r.stderr || r.error?.message}`);
  }
}

async function startContender(
  env: Env,
  who: ContenderId,
  def: CaseDef,
  nodeArgs?: string[],
  compareBudget?: number,
): Promise<RunningContender | undefined> {
  const started = await startUnpinned(env, who, def, nodeArgs, compareBudget);
  const c = started && (await env.contenders.track(started));
  // Pinned after start (every process and thread, nginx's workers and Umbra's included); it was
  // spawned on the runner's CPU. `--workers 2` gets both cores: it cannot have one of its own.
  if (c && env.s.pin) pin(c.pids(), who === 'umbra-2w' ? `${CONTENDER_CPUS},${LOAD_CPUS}` : CONTENDER_CPUS);
  return c;
}

async function startUnpinned(
  env: Env,
  who: ContenderId,
  def: CaseDef,
  nodeArgs?: string[],
  compareBudget?: number,
): Promise<RunningContender | undefined> {
  if (who === 'direct') return undefined;
  const set = setOf(env, def);
  const v2 = def.v2 ? set.v2[def.v2] : undefined;
  // h2c: nginx's proxy_pass speaks HTTP/1.1 only, so it gets the backends' HTTP/1.1 port.
  const h1 = def.backend === 'h2c' && who.startsWith('nginx');
  const pc: ProxyCase = {
    v1Port: h1 ? set.v1.h1Port! : set.v1.port,
    v2Port: v2 ? (h1 ? v2.h1Port! : v2.port) : undefined,
    mirrorTimeoutS: env.s.mirrorTimeoutS,
    protocol: isH2Kind(def.backend) ? def.backend : undefined,
  };
  const port = await freePort();
  if (who === 'nginx') return startNginx(port, pc);
  if (who === 'nginx-docs') return startNginx(port, { ...pc, mirrorKeepalive: false });
  // The floor runs under the same node flags and malloc settings as Umbra, so the ratio is Umbra's own cost.
  if (who === 'node-floor') {
    const r = umbraRuntime(env.s);
    return startNodeFloor(port, set.v1.port, { ...r, args: [...r.args, ...(nodeArgs ?? [])] });
  }
  const compare =
    who === 'umbra-compare-off' || who === 'umbra-compare-on'
      ? { enabled: who === 'umbra-compare-on', budgetBytes: compareBudget }
      : undefined;
  return startUmbraContender(port, await freePort(), pc, {
    workers: who === 'umbra-2w' ? 2 : 1,
    runtime: umbraRuntime(env.s),
    nodeArgs,
    compare,
  });
}

/**
 * The node flags and malloc settings Umbra runs with here: the container image's (IMAGE_NODE_FLAGS,
 * so a flag added to the image is benchmarked without a change here), with the ones the options
 * name changed or left out.
 */
function umbraRuntime(s: Settings): NodeRuntime {
  const args = IMAGE_NODE_FLAGS.flatMap((flag): string[] => {
    if (flag.startsWith('--max-semi-space-size='))
      return s.semiSpaceMiB > 0 ? [`--max-semi-space-size=${s.semiSpaceMiB}`] : [];
    if (flag.startsWith('--heap-growing-percent='))
      return s.heapGrowingPercent > 0 ? [`--heap-growing-percent=${s.heapGrowingPercent}`] : [];
    if (flag === '--no-maglev') return s.maglev ? [] : [flag];
    if (flag === '--no-allocation-site-pretenuring') return s.pretenuring ? [] : [flag];
    return [flag];
  });
  return { args, env: s.mallocTuning ? IMAGE_ENV : {} };
}

function asImage(s: Settings): boolean {
  const r = umbraRuntime(s);
  return (
    r.args.join(' ') === IMAGE_NODE_FLAGS.join(' ') && JSON.stringify(r.env) === JSON.stringify(IMAGE_ENV)
  );
}

function describeRuntime(r: NodeRuntime): string {
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`);
  return [...env, 'node', ...r.args].join(' ');
}

async function load(env: Env, def: CaseDef, origin: string, durationS: number): Promise<LoadResult> {
  if (isH2Kind(def.backend))
    return runH2load({
      url: `${origin}/get`,
      authority: HOST,
      connections: env.s.h2Connections,
      streams: env.s.h2Streams,
      durationS,
      grpc: def.backend === 'grpc',
    });
  if (def.fixedRate) {
    return runOpenLoop({
      origin,
      path: '/get',
      host: HOST,
      rate: env.s.rate,
      warmupS: 0,
      durationS,
      connections: env.s.connections,
      maxOutstanding: 2000,
    });
  }
  return runWrk({
    url: `${origin}/get`,
    host: HOST,
    connections: env.s.connections,
    threads: 1,
    durationS,
    timeoutS: env.s.mirrorTimeoutS + 5,
    script: env.script,
  });
}

async function runOne(env: Env, def: CaseDef, who: ContenderId, round: number): Promise<Sample> {
  const [sample, fixedRate] = await measure(env, def, who, round);
  if (!fixedRate) return sample;
  // Case H's closed-loop window, in a fresh process of its own (with its small budget).
  const compare = await compareWindow(env, def, who, fixedRate);
  log(
    `    closed loop ${Math.round(compare.load.rps).toString().padStart(6)} req/s  p99 ${compare.load.p99?.toFixed(2) ?? 'n/a'} ms  rss ${compare.peakRssMiB ?? '-'} MiB  ` +
      `cpu ${compare.cpuMsPer1k ?? '-'} ms/1k  retained peak ${compare.peakRetainedBytes} of ${compare.budgetBytes} B  ` +
      `compared ${compare.compared}  hash-only ${compare.hashOnly}  reported ${compare.reported.join(',') || '-'}`,
  );
  return { ...sample, compare };
}

/** One measured window; for H, also what that window compared. */
async function measure(
  env: Env,
  def: CaseDef,
  who: ContenderId,
  round: number,
): Promise<[Sample, CompareSample['fixedRate'] | undefined]> {
  const c = await startContender(env, who, def);
  try {
    const set = setOf(env, def);
    const origin = c?.origin ?? `http://127.0.0.1:${set.v1.port}`;
    const v2 = def.v2 ? set.v2[def.v2] : undefined;
    await Promise.all([set.v1.reset(), v2?.reset()]);
    // Warm-up: JIT, connection pools, and for the hung mirror the in-flight copies it piles up.
    // The fixed-rate case gets the same closed-loop burst (2,000 req/s alone leaves a JIT runtime
    // half-warm; steady state is what is compared), then a second at its own rate.
    if (def.fixedRate) await load(env, { ...def, fixedRate: false }, origin, env.s.warmupS);
    await load(env, def, origin, def.fixedRate ? 1 : env.s.warmupS);
    const v2Warmup = await v2?.stats();
    const umbraAdmin = who.startsWith('umbra') && def.v2 ? (c as UmbraRun).admin : undefined;
    const mirrors0 = umbraAdmin ? await umbraMirrorCounters(umbraAdmin) : undefined;
    const compare0 = def.compare ? await umbraCompareReport((c as UmbraRun).admin) : undefined;
    await Promise.all([set.v1.reset(), v2?.reset()]);
    const pids = c ? c.pids() : [];
    const cpu0 = c ? cpuMs(pids) : 0;
    const result = await load(env, def, origin, env.s.durationS);
    const cpu1 = c ? cpuMs(c.pids()) : 0;
    // Copies still in flight at the end of the window land within a few hundred ms.
    await sleep(def.v2 === 'slow' ? 400 : 150);
    const [v1s, v2s] = await Promise.all([set.v1.stats(), v2?.stats()]);
    // The mirror counters of the measured window only (they count from the process start).
    const mirrors = umbraAdmin
      ? mirrorDelta(await umbraMirrorCounters(umbraAdmin), mirrors0 ?? [])
      : undefined;
    const compare1 = compare0 ? await umbraCompareReport((c as UmbraRun).admin) : undefined;
    const sample: Sample = {
      case: def.id,
      contender: who,
      round,
      load: result,
      cpuMsPer1k:
        c && result.requests > 0 ? Math.round(((cpu1 - cpu0) / result.requests) * 1000 * 10) / 10 : null,
      peakRssMiB: c ? Math.round(peakRssMiB(c.pids()) * 10) / 10 : null,
      loadavg1: Math.round(loadavg()[0] * 100) / 100,
      v1: v1s,
      v2: v2s,
      v2Warmup,
      mirrors,
    };
    log(
      `  ${def.id} ${who.padEnd(8)} ${Math.round(result.rps).toString().padStart(6)} req/s  p50 ${result.p50?.toFixed(2) ?? 'n/a'} ms  p99 ${result.p99?.toFixed(2) ?? 'n/a'} ms  ` +
        `errors ${JSON.stringify(result.errors)}  rss ${sample.peakRssMiB ?? '-'} MiB  cpu ${sample.cpuMsPer1k ?? '-'} ms/1k` +
        (v2s ? `  v2 saw ${v2s.requests}` : ''),
    );
    return [sample, compare0 && compare1 ? compareDelta(compare1, compare0) : undefined];
  } finally {
    await c?.stop();
  }
}

function compareDelta(after: CompareReportJson, before: CompareReportJson): CompareSample['fixedRate'] {
  return {
    compared: after.totals.compared - before.totals.compared,
    hashOnly: after.totals.hashOnly - before.totals.hashOnly,
  };
}

/**
 * Case H's second window: a fresh contender with the small `--compare-budget` (the fixed-rate one ran
 * with Umbra's default, so that its comparisons took the full path), the usual warm-up, then closed
 * loop (wrk, as C) so the comparison runs as fast as the proxy feeds it. Then peak RSS, and the
 * engine's own retained-bytes high-water mark and totals (since the process started).
 */
async function compareWindow(
  env: Env,
  def: CaseDef,
  who: ContenderId,
  fixedRate: CompareSample['fixedRate'],
): Promise<CompareSample> {
  const closed = { ...def, fixedRate: false };
  const c = (await startContender(env, who, def, undefined, env.s.compareBudget)) as UmbraRun;
  try {
    await load(env, closed, c.origin, env.s.warmupS);
    const cpu0 = cpuMs(c.pids());
    const result = await load(env, closed, c.origin, env.s.durationS);
    const cpu1 = cpuMs(c.pids());
    // Pairs still pending complete within a few ms of their last response.
    await sleep(150);
    const r = await umbraCompareReport(c.admin);
    return {
      load: result,
      cpuMsPer1k: result.requests > 0 ? Math.round(((cpu1 - cpu0) / result.requests) * 1000 * 10) / 10 : null,
      peakRssMiB: Math.round(peakRssMiB(c.pids()) * 10) / 10,
      budgetBytes: r.budget.limitBytes,
      peakRetainedBytes: r.budget.peakBytes,
      begun: r.totals.begun,
      compared: r.totals.compared,
      hashOnly: r.totals.hashOnly,
      fixedRate,
      unpaired: Object.fromEntries(Object.entries(r.totals.unpaired).filter(([, n]) => n > 0)),
      reported: [...new Set(r.groups.flatMap((g) => g.differences.map((d) => d.field)))],
    };
  } finally {
    await c.stop();
  }
}

/** One profiled run of a case by Umbra or the node floor (never part of the measured samples: profiling slows it). */
async function profileCase(
  env: Env,
  def: CaseDef,
  outDir: string,
  who: ContenderId = def.compare ? 'umbra-compare-on' : 'umbra',
): Promise<ProfileSummary | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-prof-'));
  const c = await startContender(env, who, def, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  let requests = 0;
  try {
    requests = (await load(env, def, c!.origin, env.s.warmupS + env.s.durationS)).requests;
  } finally {
    await c!.stop();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return undefined;
  mkdirSync(outDir, { recursive: true });
  const kept = join(outDir, `${who === 'node-floor' ? 'floor' : 'umbra'}-${def.id}.cpuprofile`);
  copyFileSync(join(dir, file), kept);
  rmSync(dir, { recursive: true, force: true });
  log(`  profile of ${def.id} (${who}) kept in ${kept}`);
  return summariseProfile(kept, requests);
}

/** `--report FILE.json`: the summary, ratios, verdicts and markdown again from a run's samples. */
function rereport(file: string): void {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const summaries = summarise(r.samples);
  const again: Results = {
    ...r,
    summaries,
    ratios: ratios(r.samples),
    targets: targets(summaries, r.samples, r.footprint),
  };
  writeFileSync(file, JSON.stringify(again, null, 2) + '\n');
  const md = markdown(again);
  // Only a full run is a recorded one (latest*.md); any other report goes beside its samples.
  const out =
    file.includes('/raw/') || r.mode !== 'full'
      ? file.replace(/\.json$/, '.md')
      : join(dirname(file), latestName(String(r.machine.node)));
  writeFileSync(out, md);
  log(`rewrote ${file} and ${out} from the samples of ${r.date}`);
}

const nodeMajor = (version: string) => Number(version.split('.')[0]);

/** The image's runtime writes latest.md; a full run on another node major keeps its own summary. */
function latestName(nodeVersion: string): string {
  const major = nodeMajor(nodeVersion);
  return major === IMAGE_NODE_MAJOR ? 'latest.md' : `latest-node${major}.md`;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--report');
  if (at !== -1) return rereport(process.argv[at + 1]);
  const s = parseArgs(process.argv.slice(2));
  const wrk = has('wrk', ['-v']);
  if (!wrk) {
    log('bench: wrk is not installed. Install it with:  sudo apt-get install wrk');
    process.exit(1);
  }
  const nginx = s.nginx ? nginxVersion() : undefined;
  if (s.nginx && !nginx)
    log(
      'bench: nginx is not installed (sudo apt-get install nginx) — running Umbra only, without the Umbra/nginx ratios.',
    );
  const h2load = await h2loadVersion();
  const notes: string[] = [];
  const loadStart = loadavg();
  if (loadStart[0] > 1)
    notes.push(
      `The machine was shared: load average ${loadStart[0].toFixed(2)} when the run started (other engineers' tests); figures are noisier than on an idle machine.`,
    );
  notes.push(
    `Closed loop: wrk, 1 thread, ${s.connections} keep-alive connections, ${s.warmupS} s warm-up then ${s.durationS} s measured, ${s.rounds} round(s), medians shown; contenders alternate order each round; every case starts a fresh contender process.`,
  );
  notes.push(
    `G is open loop at ${s.rate} req/s (bench/open-loop.ts, its own process), after the same closed-loop warm-up and 1 s at its rate: latency counted from when each request was due. Not wrk + a pacing Lua script: wrk's delay() waits for the previous answer on the connection (closed loop), so a stall would hide itself instead of showing in p99.`,
  );
  notes.push(
    `H is Umbra against itself (nginx compares nothing): v1 mirrored again as the baseline and to v2 as the candidate, a MirrorPolicy with \`compare.enabled\` false ("off") or true ("on"), both with Umbra's default \`--compare-budget\`. The table's row is that fixed-rate window (as G). Then a fresh process of each with \`--compare-budget ${s.compareBudget}\` (small, so that 49-byte bodies fill it), the same warm-up, and ${s.durationS} s of closed loop (wrk, as C): peak RSS and the comparison's retained bytes.`,
  );
  notes.push(
    `Backends are a minimal HTTP/1.1 responder in their own processes (49-byte JSON, v2's naming another "service"; v2 slow = 200 ms; hung = never answers; down = nothing listening). Mirror timeout ${s.mirrorTimeoutS} s on both sides. nginx: 1 worker, keep-alive to v1 and v2, x-request-id/x-forwarded-* like Umbra, access log off; Umbra: --workers 1, access log off, ${describeRuntime(umbraRuntime(s))} (as the container image: ${asImage(s) ? 'the same' : 'not the same'}).`,
  );
  notes.push(
    `Realistic backends (cases B, C, D, F again, suffixed): "-node" = the same answers from node's http server (v1 and every v2); "-httpbin" = the seed's httpbin under one sync gunicorn worker, as the seed's Deployment runs it, as v1 and as the fast v2 (a new upstream connection per request: gunicorn's sync worker closes each), with node servers as the slow and hung v2s. Present: ${[...s.backends].join(', ')}.`,
  );
  notes.push(
    `HTTP/2 cases (suffix -h2c: GET /get; -grpc: a unary gRPC POST with content-type application/grpc and te: trailers): h2load (${h2load ?? 'not installed'}), 1 thread, ${s.h2Connections} connections × ${s.h2Streams} concurrent streams, h2c with prior knowledge, warm-up and window as above; p50/p99 of the completed requests from its per-request log, req/s = 2xx/3xx answers over its whole window (streams still open at the end count as errors). Backends: node:http2 (bench/h2-backend.ts; gRPC calls get one message and trailers grpc-status 0 — h2load checks the HTTP status only). Umbra: h2c on its listener, h2c upstreams (Service port named http2 / grpc). nginx: \`listen … http2\`; -h2c proxies to the same backends' HTTP/1.1 port with keep-alive (proxy_pass cannot speak HTTP/2 upstream), -grpc uses grpc_pass (h2c, keep-alive) for v1 and for the mirror subrequest.`,
  );
  notes.push(
    s.pin
      ? `Pinned (taskset): each contender on CPU ${CONTENDER_CPUS} (every process and thread), wrk, the open-loop generator, the backends and this runner on CPU ${LOAD_CPUS}, so a contender never competes with its load or backends for a core — except Umbra ×2 workers, which gets both CPUs (it cannot have two of its own here) and so shares with them.`
      : 'Not pinned: contenders, load generators and backends share every CPU (the verdicts then also measure who wins the CPU fight with the backends).',
  );

  const tmp = mkdtempSync(join(tmpdir(), 'umbra-bench-'));
  const script = writeWrkScript(tmp);
  const started: Backend[] = [];
  const contenders = new Contenders();
  const cleanup = async () => {
    await contenders.stopAll();
    await Promise.all(started.map((b) => b.close()));
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const t0 = Date.now();
  const samples: Sample[] = [];
  const footprint: FootprintSample[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  // The runner and everything it starts (backends, wrk, the open-loop generator) on the load CPU;
  // each contender is moved to its own CPU once started.
  if (s.pin) {
    if (cpus().length < 2 || !has('taskset', ['-V'])) {
      log('bench: taskset or a second CPU is missing — running unpinned.');
      s.pin = false;
    } else pin([process.pid], LOAD_CPUS);
  }
  try {
    const sets: Partial<Record<BackendKind, BackendSet>> = {};
    const wanted = CASES.filter((c) => !s.only || s.only.has(c.id)).map((c) => c.backend ?? 'minimal');
    for (const kind of s.backends) {
      if (!wanted.includes(kind) && !(kind === 'minimal' && s.footprint)) continue;
      if (isH2Kind(kind) && !h2load) {
        log(
          `bench: h2load is not installed (sudo apt-get install nghttp2-client) — the ${kind} cases are left out.`,
        );
        continue;
      }
      if (kind === 'httpbin' && !httpbinAvailable()) {
        log('bench: gunicorn + python3-httpbin are not installed — the httpbin cases are left out.');
        continue;
      }
      const impl = isH2Kind(kind) ? 'h2' : kind === 'node' ? 'node' : 'raw';
      const v1 =
        kind === 'httpbin'
          ? await startHttpbinBackend('v1-httpbin')
          : await startBackend('v1', 'fast', 'httpbin-v1', impl);
      started.push(v1);
      // httpbin's v2 is httpbin too when it answers; slow and hung v2s are node servers there.
      const slowImpl = isH2Kind(kind) ? 'h2' : kind === 'minimal' ? 'raw' : 'node';
      const v2: Record<V2Mode, Backend> = {
        fast:
          kind === 'httpbin'
            ? await startHttpbinBackend('v2-httpbin')
            : await startBackend('v2-fast', 'fast', 'httpbin-v2', impl),
        slow: await startBackend('v2-slow', 'slow', 'httpbin-v2', slowImpl),
        hung: await startBackend('v2-hung', 'hung', 'httpbin-v2', slowImpl),
        down: await startBackend('v2-down', 'down'),
      };
      started.push(...Object.values(v2));
      sets[kind] = { v1, v2 };
    }
    const env: Env = { s, sets, script, contenders };
    const cases = CASES.filter((c) => (!s.only || s.only.has(c.id)) && sets[c.backend ?? 'minimal']);
    for (let round = 1; round <= s.rounds; round++) {
      log(`round ${round}/${s.rounds}`);
      for (const def of cases) {
        let who: ContenderId[] =
          def.id === 'A'
            ? ['direct']
            : def.compare
              ? ['umbra-compare-off', 'umbra-compare-on']
              : nginx
                ? ['nginx', 'umbra']
                : ['umbra'];
        if (round % 2 === 0) who = who.reverse();
        // For information, in every round so that they pair with the others: Umbra on every core, and
        // nginx's mirror as its documentation shows it (a new connection per copy), the peer the
        // issue's figures were taken from.
        if (s.twoWorkers && (def.id === 'B' || def.id === 'C' || def.id === 'B-node' || def.id === 'C-node'))
          who.push('umbra-2w');
        if (nginx && def.id === 'C') who.push('nginx-docs');
        // The runtime's floor (node http + undici, nothing else), in every round next to Umbra's B.
        if (def.id === 'B' || def.id === 'B-node') who.push('node-floor');
        for (const w of who) samples.push(await runOne(env, def, w, round));
      }
    }
    if (s.footprint && sets.minimal) {
      log(`footprint: RSS at rest and after ${s.footprintRequests} mirrored requests at 16 in flight`);
      const c = CASES.find((x) => x.id === 'C')!;
      for (let round = 1; round <= s.rounds; round++)
        // The runtime's floor (node http + undici, no mirror) beside them: what any Node.js proxy holds.
        for (const who of (nginx
          ? ['nginx', 'node-floor', 'umbra']
          : ['node-floor', 'umbra']) as ContenderId[]) {
          const running = (await startContender(env, who, c))!;
          try {
            const f = await measureFootprint(running, HOST, s.footprintRequests, 16);
            footprint.push({ contender: who, round, ...f, requests: s.footprintRequests, inFlight: 16 });
            log(
              `  ${who.padEnd(8)} rest ${f.restMiB} MiB  after ${f.afterMiB} MiB  peak ${f.peakMiB} MiB  ${f.rps} req/s  cpu ${f.cpuMsPer1k} ms/1k`,
            );
          } finally {
            await running.stop();
          }
        }
    }
    if (s.profile.length > 0) {
      log('profiles');
      for (const id of s.profile) {
        const def = CASES.find((c) => c.id === id);
        if (!def) continue;
        const raw = join(REPO_ROOT, 'bench', 'results', 'raw');
        const p = await profileCase(env, def, raw);
        if (p) profiles[`${id}: ${def.title}`] = p;
        // The floor's profile of the same load, area by area beside Umbra's (the per-core target).
        if (id === 'B' || id === 'B-node') {
          const f = await profileCase(env, def, raw, 'node-floor');
          if (f) profiles[`${id}: ${def.title} — ${FLOOR_PROFILE}`] = f;
        }
      }
    }
  } finally {
    await cleanup();
  }

  const summaries = summarise(samples);
  const commit = has('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  // Results of other runs (bench/results) are not the code under test: they do not make it dirty.
  const dirty =
    (has('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', '.', ':(exclude)bench/results']) ?? '')
      .length > 0;
  const date = new Date().toISOString();
  const results: Results = {
    date,
    mode: s.quick ? 'quick' : s.only ? 'partial' : 'full',
    settings: {
      ...s,
      only: s.only ? [...s.only] : undefined,
      wallClockS: Math.round((Date.now() - t0) / 1000),
    },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '?',
      node: process.versions.node,
      nginx,
      wrk: wrk.split('\n')[0].replace(/ Copyright.*/, ''),
      h2load,
      loadavgStart: loadStart,
      loadavgEnd: loadavg(),
      commit,
      dirty,
    },
    samples,
    summaries,
    ratios: ratios(samples),
    targets: targets(summaries, samples, footprint),
    profiles,
    footprint,
    notes,
  };
  const md = markdown(results);
  const dir = join(REPO_ROOT, 'bench', 'results');
  const rawDir = join(dir, 'raw');
  mkdirSync(rawDir, { recursive: true });
  // Quick runs are for development: kept out of the committed results.
  const full = !s.quick && !s.only;
  const base = full
    ? join(dir, `${date.slice(0, 10)}-node${nodeMajor(process.versions.node)}`)
    : join(rawDir, `${s.quick ? 'quick' : 'partial'}-${date.replace(/[:.]/g, '-')}`);
  const summary = full ? join(dir, latestName(process.versions.node)) : `${base}.md`;
  writeFileSync(`${base}.json`, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(summary, md);
  process.stdout.write(md);
  log(`\nresults: ${base}.json and ${summary} (${Math.round((Date.now() - t0) / 1000)} s)`);
  if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
}

main().catch((e: Error) => {
  log(`bench: ${e.stack ?? e.message}`);
  process.exit(1);
});
