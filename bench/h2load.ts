// Closed-loop HTTP/2 load with h2load (Debian's nghttp2-client): h2c with prior knowledge, a fixed
// number of connections each keeping a fixed number of streams in flight, for a duration. Its
// summary gives the counts; latency percentiles come from its per-request --log-file.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from './wrk.js';

export interface H2loadOptions {
  readonly url: string;
  /** Sent as :authority. */
  readonly authority: string;
  readonly connections: number;
  /** Concurrent streams per connection (h2load -m). */
  readonly streams: number;
  readonly durationS: number;
  /** A unary gRPC call instead of a GET: POST of one length-prefixed message. */
  readonly grpc?: boolean;
}

/** The gRPC request body: one uncompressed message (a 12-byte protobuf-like payload). */
const GRPC_REQUEST = Buffer.concat([Buffer.from([0, 0, 0, 0, 12]), Buffer.from('\n\nhttpbin-v1')]);

export function h2loadVersion(): Promise<string | undefined> {
  return new Promise((ok) => {
    const p = spawn('h2load', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.once('error', () => ok(undefined));
    p.once('close', (code) => ok(code === 0 ? out.trim() : undefined));
  });
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)];
}

/** The numbers of h2load's summary lines ("requests: …", "status codes: …", "finished in …"). */
export function parseH2loadSummary(out: string): {
  total: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  /** "finished in …": the run's length in seconds. */
  finishedS: number;
  status: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
} {
  const req =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  const st = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const fin = /finished in ([\d.]+)(s|ms|us),/.exec(out);
  if (!req || !st || !fin) throw new Error(`h2load printed no summary:\n${out}`);
  const n = (s: string) => Number(s);
  return {
    total: n(req[1]),
    succeeded: n(req[4]),
    failed: n(req[5]),
    errored: n(req[6]),
    timeout: n(req[7]),
    finishedS: n(fin[1]) / (fin[2] === 'ms' ? 1e3 : fin[2] === 'us' ? 1e6 : 1),
    status: { '2xx': n(st[1]), '3xx': n(st[2]), '4xx': n(st[3]), '5xx': n(st[4]) },
  };
}

export async function runH2load(o: H2loadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-h2load-'));
  const logFile = join(dir, 'requests.log');
  const args = [
    '-t',
    '1',
    '-c',
    String(o.connections),
    '-m',
    String(o.streams),
    '-D',
    String(o.durationS),
    '--log-file',
    logFile,
    '-H',
    `:authority: ${o.authority}`,
  ];
  if (o.grpc) {
    const body = join(dir, 'request.grpc');
    writeFileSync(body, GRPC_REQUEST);
    args.push('-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers');
  }
  args.push(o.url);
  try {
    const out = await new Promise<string>((ok, fail) => {
      const p = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.setEncoding('utf8').on('data', (c: string) => (text += c));
      p.stderr.setEncoding('utf8').on('data', (c: string) => (text += c));
      p.once('error', fail);
      p.once('close', (code) =>
        code === 0 ? ok(text) : fail(new Error(`h2load failed (${code}): ${text}`)),
      );
    });
    const s = parseH2loadSummary(out);
    // Per request: start (µs since the epoch), status (-1: failed), µs until the response ended.
    const lat: number[] = [];
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      const [, status, us] = line.split('\t').map(Number);
      if (!Number.isFinite(us) || status < 200) continue;
      lat.push(us / 1000);
    }
    lat.sort((a, b) => a - b);
    const done = s.status['2xx'] + s.status['3xx'];
    // Throughput over h2load's whole window ("finished in"), as wrk's: a contender that stalls after
    // a burst must not look fast because its few answers came quickly.
    const durationS = s.finishedS > 0 ? s.finishedS : o.durationS;
    return {
      requests: done,
      durationS,
      rps: done / durationS,
      p50: percentile(lat, 50),
      p90: percentile(lat, 90),
      p99: percentile(lat, 99),
      max: lat.length ? lat[lat.length - 1] : null,
      errors: {
        connect: 0,
        read: s.errored,
        write: 0,
        status: s.status['4xx'] + s.status['5xx'],
        timeout: s.timeout,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
