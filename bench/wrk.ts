// Closed-loop load with wrk (keep-alive connections, as many requests as the contender can take);
// a Lua `done` hook prints the summary as JSON so nothing is scraped from wrk's human output.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LoadResult {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  /** Latency percentiles in ms; null when no request completed. */
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  /** Connect/read/write errors, non-2xx/3xx answers and requests over wrk's timeout. */
  readonly errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

const REPORT_LUA = `-- prints wrk's summary as one JSON line (latency in microseconds)
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

export function writeWrkScript(dir: string): string {
  const p = join(dir, 'report.lua');
  writeFileSync(p, REPORT_LUA);
  return p;
}

export interface WrkOptions {
  readonly url: string;
  readonly host?: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationS: number;
  readonly timeoutS: number;
  readonly script: string;
}

export function runWrk(o: WrkOptions): Promise<LoadResult> {
  const args = [
    '-t',
    String(o.threads),
    '-c',
    String(o.connections),
    '-d',
    `${o.durationS}s`,
    '--timeout',
    `${o.timeoutS}s`,
    '-s',
    o.script,
  ];
  if (o.host) args.push('-H', `Host: ${o.host}`);
  args.push(o.url);
  return new Promise((ok, fail) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    p.once('error', fail);
    p.once('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || !line) return fail(new Error(`wrk failed (${code}): ${err || out}`));
      const j = JSON.parse(line.slice(8)) as {
        requests: number;
        duration_us: number;
        errors: LoadResult['errors'];
        p50: number;
        p90: number;
        p99: number;
        max: number;
      };
      const durationS = j.duration_us / 1e6;
      const ms = (us: number) => (j.requests > 0 ? us / 1000 : null);
      ok({
        requests: j.requests,
        durationS,
        rps: j.requests / durationS,
        p50: ms(j.p50),
        p90: ms(j.p90),
        p99: ms(j.p99),
        max: ms(j.max),
        errors: j.errors,
      });
    });
  });
}
