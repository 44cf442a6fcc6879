// `npm run bench`: Umbra against nginx's mirror module on the issue's cases A–F plus a fixed-rate run
// G. Backends, load generators and each contender run as separate processes; every (case,
// contender) gets a fresh process so peak RSS and leftovers of one case never leak into the next,
// and contenders alternate order within each round. Writes bench/results/<date>.json + latest.md.

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
import {
  CASES,
  type CaseDef,
  type CaseId,
  type ContenderId,
  type Results,
  type Sample,
  type V2Mode,
} from './cases.js';
import { nginxVersion, startNginx, startNodeFloor, type ProxyCase, type RunningContender } from './nginx.js';
import { runOpenLoop } from './open-loop.js';
import { cpuMs, peakRssMiB } from './proc-stats.js';
import { summariseProfile, type ProfileSummary } from './profile.js';
import { markdown, ratios, summarise, targets } from './report.js';
import { mirrorDelta, REPO_ROOT, startUmbraContender, umbraMirrorCounters, type UmbraRun } from './umbra.js';
import { runWrk, writeWrkScript, type LoadResult } from './wrk.js';

interface Settings {
  quick: boolean;
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  rate: number;
  mirrorTimeoutS: number;
  only?: Set<CaseId>;
  nginx: boolean;
  twoWorkers: boolean;
  /** Cases to profile Umbra on after the measured rounds. */
  profile: CaseId[];
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
    nginx: !argv.includes('--no-nginx'),
    twoWorkers: !quick && !argv.includes('--no-workers'),
    profile: quick || argv.includes('--no-profile') ? [] : ['B', 'C'],
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
      case '--connections':
        s.connections = Number(v);
        break;
      case '--only':
        s.only = new Set(v.toUpperCase().split(',') as CaseId[]);
        break;
      case '--profile':
        s.profile = v.toUpperCase().split(',') as CaseId[];
        break;
      case '--help':
        process.stdout.write(
          'npm run bench -- [--quick] [--rounds N] [--duration S] [--warmup S] [--rate R] [--connections N]\n' +
            '                 [--only A,B,...] [--no-nginx] [--no-workers] [--profile B,C,... | --no-profile]\n' +
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

interface Env {
  readonly s: Settings;
  readonly v1: Backend;
  readonly v2: Record<V2Mode, Backend>;
  readonly script: string;
}

async function startContender(
  env: Env,
  who: ContenderId,
  def: CaseDef,
  nodeArgs?: string[],
): Promise<RunningContender | undefined> {
  if (who === 'direct') return undefined;
  const pc: ProxyCase = {
    v1Port: env.v1.port,
    v2Port: def.v2 ? env.v2[def.v2].port : undefined,
    mirrorTimeoutS: env.s.mirrorTimeoutS,
  };
  const port = await freePort();
  if (who === 'nginx') return startNginx(port, pc);
  if (who === 'nginx-docs') return startNginx(port, { ...pc, mirrorKeepalive: false });
  if (who === 'node-floor') return startNodeFloor(port, env.v1.port);
  return startUmbraContender(port, await freePort(), pc, { workers: who === 'umbra-2w' ? 2 : 1, nodeArgs });
}

async function load(env: Env, def: CaseDef, origin: string, durationS: number): Promise<LoadResult> {
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
  const c = await startContender(env, who, def);
  try {
    const origin = c?.origin ?? `http://127.0.0.1:${env.v1.port}`;
    const v2 = def.v2 ? env.v2[def.v2] : undefined;
    await Promise.all([env.v1.reset(), v2?.reset()]);
    // Warm-up: JIT, connection pools, and for the hung mirror the in-flight copies it piles up.
    // The fixed-rate case gets the same closed-loop burst (2,000 req/s alone leaves a JIT runtime
    // half-warm; steady state is what is compared), then a second at its own rate.
    if (def.fixedRate) await load(env, { ...def, fixedRate: false }, origin, env.s.warmupS);
    await load(env, def, origin, def.fixedRate ? 1 : env.s.warmupS);
    const v2Warmup = await v2?.stats();
    const umbraAdmin = who.startsWith('umbra') && def.v2 ? (c as UmbraRun).admin : undefined;
    const mirrors0 = umbraAdmin ? await umbraMirrorCounters(umbraAdmin) : undefined;
    await Promise.all([env.v1.reset(), v2?.reset()]);
    const pids = c ? c.pids() : [];
    const cpu0 = c ? cpuMs(pids) : 0;
    const result = await load(env, def, origin, env.s.durationS);
    const cpu1 = c ? cpuMs(c.pids()) : 0;
    // Copies still in flight at the end of the window land within a few hundred ms.
    await sleep(def.v2 === 'slow' ? 400 : 150);
    const [v1s, v2s] = await Promise.all([env.v1.stats(), v2?.stats()]);
    // The mirror counters of the measured window only (they count from the process start).
    const mirrors = umbraAdmin
      ? mirrorDelta(await umbraMirrorCounters(umbraAdmin), mirrors0 ?? [])
      : undefined;
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
    return sample;
  } finally {
    await c?.stop();
  }
}

/** One profiled Umbra run of a case (never part of the measured samples: profiling slows it). */
async function profileCase(env: Env, def: CaseDef, outDir: string): Promise<ProfileSummary | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-prof-'));
  const c = await startContender(env, 'umbra', def, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  try {
    await load(env, def, c!.origin, env.s.warmupS + env.s.durationS);
  } finally {
    await c!.stop();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return undefined;
  mkdirSync(outDir, { recursive: true });
  const kept = join(outDir, `umbra-${def.id}.cpuprofile`);
  copyFileSync(join(dir, file), kept);
  rmSync(dir, { recursive: true, force: true });
  log(`  profile of ${def.id} kept in ${kept}`);
  return summariseProfile(kept);
}

/** `--report FILE.json`: the summary, ratios, verdicts and markdown again from a run's samples. */
function rereport(file: string): void {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const summaries = summarise(r.samples);
  const again: Results = {
    ...r,
    summaries,
    ratios: ratios(r.samples),
    targets: targets(summaries, r.samples),
  };
  writeFileSync(file, JSON.stringify(again, null, 2) + '\n');
  const md = markdown(again);
  const out = file.includes('/raw/') ? file.replace(/\.json$/, '.md') : join(dirname(file), 'latest.md');
  writeFileSync(out, md);
  log(`rewrote ${file} and ${out} from the samples of ${r.date}`);
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
    `Backends are a minimal HTTP/1.1 responder in their own processes (49-byte JSON; v2 slow = 200 ms; hung = never answers; down = nothing listening). Mirror timeout ${s.mirrorTimeoutS} s on both sides. nginx: 1 worker, keep-alive to v1 and v2, x-request-id/x-forwarded-* like Umbra, access log off; Umbra: --workers 1, access log off.`,
  );

  const tmp = mkdtempSync(join(tmpdir(), 'umbra-bench-'));
  const script = writeWrkScript(tmp);
  const started: Backend[] = [];
  const cleanup = async () => {
    await Promise.all(started.map((b) => b.close()));
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const t0 = Date.now();
  const samples: Sample[] = [];
  const profiles: Record<string, ProfileSummary> = {};
  try {
    const v1 = await startBackend('v1', 'fast');
    started.push(v1);
    const v2: Record<V2Mode, Backend> = {
      fast: await startBackend('v2-fast', 'fast'),
      slow: await startBackend('v2-slow', 'slow'),
      hung: await startBackend('v2-hung', 'hung'),
      down: await startBackend('v2-down', 'down'),
    };
    started.push(...Object.values(v2));
    const env: Env = { s, v1, v2, script };
    const cases = CASES.filter((c) => !s.only || s.only.has(c.id));
    for (let round = 1; round <= s.rounds; round++) {
      log(`round ${round}/${s.rounds}`);
      for (const def of cases) {
        let who: ContenderId[] = def.id === 'A' ? ['direct'] : nginx ? ['nginx', 'umbra'] : ['umbra'];
        if (round % 2 === 0) who = who.reverse();
        // For information, in every round so that they pair with the others: Umbra on every core, and
        // nginx's mirror as its documentation shows it (a new connection per copy), the peer the
        // issue's figures were taken from.
        if (s.twoWorkers && (def.id === 'B' || def.id === 'C')) who.push('umbra-2w');
        if (nginx && def.id === 'C') who.push('nginx-docs');
        // The runtime's floor (node http + undici, nothing else), in every round next to Umbra's B.
        if (def.id === 'B') who.push('node-floor');
        for (const w of who) samples.push(await runOne(env, def, w, round));
      }
    }
    if (s.profile.length > 0) {
      log('profiles');
      for (const id of s.profile) {
        const def = CASES.find((c) => c.id === id);
        if (!def) continue;
        const p = await profileCase(env, def, join(REPO_ROOT, 'bench', 'results', 'raw'));
        if (p) profiles[`${id}: ${def.title}`] = p;
      }
    }
  } finally {
    await cleanup();
  }

  const summaries = summarise(samples);
  const commit = has('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = (has('git', ['-C', REPO_ROOT, 'status', '--porcelain']) ?? '').length > 0;
  const date = new Date().toISOString();
  const results: Results = {
    date,
    mode: s.quick ? 'quick' : 'full',
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
      loadavgStart: loadStart,
      loadavgEnd: loadavg(),
      commit,
      dirty,
    },
    samples,
    summaries,
    ratios: ratios(samples),
    targets: targets(summaries, samples),
    profiles,
    notes,
  };
  const md = markdown(results);
  const dir = join(REPO_ROOT, 'bench', 'results');
  const rawDir = join(dir, 'raw');
  mkdirSync(rawDir, { recursive: true });
  // Quick runs are for development: kept out of the committed results.
  const base =
    s.quick || s.only
      ? join(rawDir, `${s.quick ? 'quick' : 'partial'}-${date.replace(/[:.]/g, '-')}`)
      : join(dir, date.slice(0, 10));
  writeFileSync(`${base}.json`, JSON.stringify(results, null, 2) + '\n');
  if (!s.quick && !s.only) writeFileSync(join(dir, 'latest.md'), md);
  else writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
  log(
    `\nresults: ${base}.json and ${!s.quick && !s.only ? join(dir, 'latest.md') : `${base}.md`} (${Math.round((Date.now() - t0) / 1000)} s)`,
  );
  if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
}

main().catch((e: Error) => {
  log(`bench: ${e.stack ?? e.message}`);
  process.exit(1);
});
