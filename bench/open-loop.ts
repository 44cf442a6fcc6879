// A bounded open-loop load generator for the fixed-rate run, in its own process. Requests are sent
// on a fixed schedule whatever the answers do, and latency is measured from the time a request was
// *due*, so a stalled proxy shows up in p99 instead of silently slowing the client down (wrk's Lua
// `delay()` paces each connection after its previous answer: closed loop, coordinated omission).
// Bounded: at most `maxOutstanding` requests in flight; past that a due request is counted as
// overload instead of queueing without limit.

import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, type Dispatcher } from 'undici';
import type { LoadResult } from './wrk.js';

export interface OpenLoopOptions {
  readonly origin: string;
  readonly path: string;
  readonly host: string;
  readonly rate: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly connections: number;
  readonly maxOutstanding: number;
}

export interface OpenLoopResult extends LoadResult {
  readonly targetRate: number;
  /** Due requests not sent because maxOutstanding were already in flight. */
  readonly overload: number;
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function generate(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const pool = new Pool(o.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const interval = 1000 / o.rate;
  const t0 = performance.now() + 50;
  const measureFrom = t0 + o.warmupS * 1000;
  const endAt = measureFrom + o.durationS * 1000;
  const latencies = new Float64Array(Math.ceil(o.rate * o.durationS) + 16);
  let recorded = 0;
  let inFlight = 0;
  let overload = 0;
  const errors = { connect: 0, read: 0, write: 0, status: 0, timeout: 0 };
  const headers = ['host', o.host];
  let drained: (() => void) | undefined;

  const done = (due: number, ok: boolean, status: number, err?: Error) => {
    inFlight--;
    if (due >= measureFrom) {
      if (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT') errors.connect++;
        else if (code.includes('TIMEOUT')) errors.timeout++;
        else errors.read++;
      } else {
        if (!ok || status >= 400) errors.status++;
        if (recorded < latencies.length) latencies[recorded++] = performance.now() - due;
      }
    }
    if (inFlight === 0) drained?.();
  };

  const fire = (due: number) => {
    if (inFlight >= o.maxOutstanding) {
      if (due >= measureFrom) overload++;
      return;
    }
    inFlight++;
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_c, s) {
        status = s;
      },
      onResponseData() {},
      onResponseEnd() {
        done(due, true, status);
      },
      onResponseError(_c, err) {
        done(due, false, status, err);
      },
    };
    pool.dispatch(
      { method: 'GET', path: o.path, headers, headersTimeout: 30_000, bodyTimeout: 30_000 },
      handler,
    );
  };

  await new Promise<void>((ok) => {
    let next = t0;
    const tick = () => {
      const now = performance.now();
      while (next <= now && next < endAt) {
        fire(next);
        next += interval;
      }
      if (next >= endAt) return ok();
      setTimeout(tick, Math.max(0, next - performance.now() - 0.5));
    };
    setTimeout(tick, 50);
  });
  if (inFlight > 0) {
    await new Promise<void>((ok) => {
      drained = ok;
      setTimeout(ok, 15_000).unref();
    });
  }
  await pool.destroy().catch(() => undefined);
  const lat = latencies.subarray(0, recorded).sort();
  return {
    targetRate: o.rate,
    requests: recorded,
    durationS: o.durationS,
    rps: recorded / o.durationS,
    p50: percentile(lat, 50),
    p90: percentile(lat, 90),
    p99: percentile(lat, 99),
    max: percentile(lat, 100),
    errors,
    overload,
  };
}

/** Runs the generator in a child process and returns its result. */
export function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  return new Promise((ok, fail) => {
    const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(o)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: OpenLoopResult | undefined;
    child.once('message', (m: OpenLoopResult) => (result = m));
    child.once('error', fail);
    child.once('exit', (code) =>
      result ? ok(result) : fail(new Error(`open-loop generator exited with ${code}`)),
    );
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void generate(JSON.parse(process.argv[2]) as OpenLoopOptions).then((r) =>
    process.send?.(r, () => process.exit(0)),
  );
}
