// `umbra replay FILE… --to URL`: sends recorded traffic (Umbra recordings, HAR 1.2 files) again,
// paced as recorded or at a fixed rate, optionally to two targets at once for an offline
// comparison with the live comparison engine. Registered on the program by registerReplayCommand.

import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatProblem, TOKEN, type ReplayRequest } from '../replay/replay-request.js';
import type { Pace } from '../replay/replay-runner.js';
import type { HeaderOverride } from '../replay/replay-target.js';

interface ReplayFlags {
  to: URL;
  compareTo?: URL;
  baseline?: URL;
  report?: string;
  speed?: number;
  rate?: number;
  concurrency: number;
  limit?: number;
  method?: string[];
  pathPrefix?: string;
  host?: string[];
  header: HeaderOverride[];
  keepHost?: boolean;
  timeout: number;
  progress: boolean;
  compareBodyBytes: number;
  ignoreHeader: string[];
  ignoreField: string[];
}

function httpUrl(v: string): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`"${v}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new InvalidArgumentError(`"${v}": only http:// and https:// targets can be replayed to`);
  if (u.search || u.hash) throw new InvalidArgumentError(`"${v}": a target has no query or fragment`);
  return u;
}

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number`);
  return n;
};
const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer`);
  return n;
};

/** "-H 'name: value'" sets (replaces) a header; "-H 'name:'" removes it. */
function headerOverride(v: string, prev: HeaderOverride[] = []): HeaderOverride[] {
  const colon = v.indexOf(':');
  const name = (colon === -1 ? '' : v.slice(0, colon)).trim().toLowerCase();
  if (!name || !TOKEN.test(name))
    throw new InvalidArgumentError(`"${v}" is not a header: write "name: value" (or "name:" to remove it)`);
  const value = v.slice(colon + 1).trim();
  return [...prev, { name, value: value === '' ? undefined : value }];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Which requests are sent: filters first, then the limit (the first N in recorded order). */
export function selectRequests(reqs: readonly ReplayRequest[], f: ReplayFlags): ReplayRequest[] {
  const methods = f.method && new Set(f.method.map((m) => m.toUpperCase()));
  const hosts = f.host?.map((h) => h.toLowerCase());
  const out = reqs.filter((r) => {
    if (methods && !methods.has(r.method.toUpperCase())) return false;
    if (f.pathPrefix !== undefined && !r.path.startsWith(f.pathPrefix)) return false;
    if (hosts) {
      // "httpbin" matches "httpbin" and "httpbin:8000"; "httpbin:8000" matches only itself.
      const a = r.authority.toLowerCase();
      if (!hosts.some((h) => a === h || a.replace(/:\d+$/, '') === h)) return false;
    }
    return true;
  });
  return f.limit !== undefined ? out.slice(0, f.limit) : out;
}

export async function replayCommand(files: string[], f: ReplayFlags): Promise<void> {
  // Loaded here, not at the top: every `umbra` process registers this command, and `umbra run`
  // should not hold the replay client, the progress bar or the comparison engine in memory.
  const [{ default: cliProgress }, { readSources }, { runReplay }, { formatSummary }, { OfflineComparison }] =
    await Promise.all([
      import('cli-progress'),
      import('../replay/read-sources.js'),
      import('../replay/replay-runner.js'),
      import('../replay/replay-stats.js'),
      import('../replay/offline-comparison.js'),
    ]);
  if (f.speed !== undefined && f.rate !== undefined) throw new Error('--speed and --rate exclude each other');
  if ((f.baseline || f.report) && !f.compareTo) throw new Error('--baseline and --report need --compare-to');
  if (f.compareTo && !f.report)
    throw new Error('--compare-to needs --report FILE (where the report is written)');
  const pace: Pace =
    f.rate !== undefined ? { kind: 'rate', perSecond: f.rate } : { kind: 'speed', speed: f.speed ?? 1 };

  const { requests, problems } = await readSources(files);
  for (const p of problems) process.stderr.write(`umbra replay: ${formatProblem(p)}\n`);
  const selected = selectRequests(requests, f);
  if (selected.length === 0) process.stderr.write('umbra replay: no request to send\n');

  const comparison = f.compareTo
    ? new OfflineComparison({
        candidate: f.compareTo.href,
        baseline: f.baseline?.href,
        maxBodyBytes: f.compareBodyBytes,
        ignoreHeaders: f.ignoreHeader,
        ignoreFields: f.ignoreField,
        timeoutMs: f.timeout,
      })
    : undefined;

  const tty = f.progress && process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: 'replay [{bar}] {value}/{total} | {eta_formatted} left',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(selected.length, 0);
  let result;
  try {
    result = await runReplay(selected, {
      to: f.to,
      compareTo: f.compareTo,
      baseline: f.baseline,
      pace,
      concurrency: f.concurrency,
      keepHost: f.keepHost === true,
      overrides: f.header,
      timeoutMs: f.timeout,
      compareBodyBytes: f.compareBodyBytes,
      comparison,
      onDone: bar ? (n) => bar.update(n) : undefined,
    });
  } finally {
    bar?.stop();
  }
  process.stdout.write(
    formatSummary({
      selected: selected.length,
      problems: problems.length,
      elapsedMs: result.elapsedMs,
      targets: result.targets,
      truncatedBodies: selected.filter((r) => r.truncated).length,
      late: result.late,
    }),
  );
  if (comparison && f.report) {
    const report = comparison.report({
      files,
      primary: f.to.href,
      candidate: f.compareTo!.href,
      baseline: f.baseline?.href,
    });
    comparison.close();
    await writeFile(f.report, `${JSON.stringify(report, null, 2)}\n`);
    const diffs = report.groups.reduce((n, g) => n + g.differences.length, 0);
    process.stdout.write(`comparison report written to ${f.report} (${diffs} field(s) differ)\n`);
  }
  // 0 only when every selected request was answered by every target and every line was readable.
  const allSent = result.targets.every((t) => t.sent === selected.length);
  process.exitCode = allSent && problems.length === 0 ? 0 : 1;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      'send recorded traffic (Umbra recordings, HAR files) to a target; compare two targets offline',
    )
    .argument('<files...>', 'Umbra recordings (.jsonl) or HAR 1.2 files')
    .requiredOption('--to <url>', 'target, e.g. http://127.0.0.1:8080 (the primary when comparing)', httpUrl)
    .option('--compare-to <url>', 'also send every request here and compare the answers', httpUrl)
    .option('--baseline <url>', 'a second copy of the --to version, to measure noise', httpUrl)
    .option('--report <file>', 'where the comparison report (JSON) is written')
    .option('--speed <x>', 'pace as recorded, x times faster (default 1)', positive('--speed'))
    .option('--rate <n>', 'a fixed rate: n requests per second', positive('--rate'))
    .addOption(
      new Option('-c, --concurrency <n>', 'requests in flight at most')
        .default(16)
        .argParser(positiveInt('--concurrency')),
    )
    .option(
      '-n, --limit <n>',
      'send at most n requests (the first, in recorded order)',
      positiveInt('--limit'),
    )
    .option('--method <method>', 'only this method (repeatable)', collect)
    .option('--path-prefix <prefix>', 'only paths starting with this')
    .option('--host <host>', 'only this recorded host, with or without port (repeatable)', collect)
    .addOption(
      new Option('-H, --header <header>', '"name: value" sets a header, "name:" removes it (repeatable)')
        .default([])
        .argParser(headerOverride),
    )
    .option('--keep-host', "send the recorded Host instead of the target's")
    .addOption(
      new Option('--timeout <ms>', 'per request').default(30_000).argParser(positiveInt('--timeout')),
    )
    .option('--no-progress', 'no progress bar (it is only drawn on a terminal anyway)')
    .addOption(
      new Option('--compare-body-bytes <n>', 'response bytes compared per answer')
        .default(256 * 1024)
        .argParser(positiveInt('--compare-body-bytes')),
    )
    .addOption(
      new Option('--ignore-header <name>', 'response header left out of the comparison (repeatable)')
        .default([])
        .argParser(collect),
    )
    .addOption(
      new Option('--ignore-field <path>', 'JSON field left out of the comparison, e.g. $.origin (repeatable)')
        .default([])
        .argParser(collect),
    )
    .action(replayCommand);
}
