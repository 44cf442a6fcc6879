// Issue 5: memory stays bounded when a mirror hangs. 1000 concurrent 1 MiB POSTs go through an
// Umbra child process (`umbra run`, default limits) whose mirror accepts connections and never reads
// a byte; the child's peak RSS (VmHWM) may grow by less than 64 MiB over its RSS before the burst.
// Every primary is answered in full, and every copy is accounted for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { startCli } from '../helpers/cli.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { scrape, sumOf } from '../helpers/mirror-safety.js';

const MiB = 1024 * 1024;
const REQUESTS = 1000;

/** kB figures from /proc/<pid>/status. */
function procStatus(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** v1: reads each body (counting bytes, keeping nothing) and answers its length. */
async function startCountingServer(): Promise<{ server: Server; port: number; bytes: () => number }> {
  let total = 0;
  const server = createHttpServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      total += n;
      const body = String(n);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port, bytes: () => total };
}

/** The hung mirror: accepts connections, never reads, never answers. */
async function startBlackHole(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let seen = 0;
  const server = createNetServer({ pauseOnConnect: true }, (s) => {
    seen++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => seen,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

test('1000 in-flight 1 MiB POSTs against a hung mirror: RSS grows by less than 64 MiB', { timeout: 90_000 }, async () => {
  const v1 = await startCountingServer();
  const hole = await startBlackHole();
  const dir = mkdtempSync(join(tmpdir(), 'umbra-mem-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'mesh.yaml'), twoVersionService(v1.port, hole.port));
  writeFileSync(join(dir, 'config', 'vs.yaml'), routeToV1(process.env.NOMIRROR ? '' : MIRROR_V2));
  const umbra = startCli(['run', '-f', join(dir, 'config'), '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--state-dir', join(dir, 'state'), '--access-log', 'off', '--no-watch', '--workers', '1']);
  try {
    const m = await umbra.waitForOutput(/on (http:\/\/127\.0\.0\.1:\d+).*; admin (http:\/\/127\.0\.0\.1:\d+)/, 15_000);
    const [proxyUrl, adminUrl] = [m[1], m[2]];
    const started = procStatus(umbra.proc.pid!);
    const body = Buffer.alloc(MiB, 'u');
    const pool = new Pool(proxyUrl, { connections: REQUESTS, pipelining: 1 });
    const post = async () => {
      const r = await pool.request({ method: 'POST', path: '/upload', body, headers: { host: 'app:8000', 'content-type': 'application/octet-stream' } });
      return { status: r.statusCode, text: await r.body.text() };
    };
    // Warm up (JIT, pools, buffers) with a few requests of the same shape, then take the baseline.
    for (let i = 0; i < 10; i++) assert.deepEqual(await post(), { status: 200, text: String(MiB) });
    const before = procStatus(umbra.proc.pid!);
    const countersBefore = await scrape(adminUrl);

    const results = await Promise.all(Array.from({ length: REQUESTS }, post));
    const peak = procStatus(umbra.proc.pid!);
    await pool.close();

    assert.equal(results.filter((r) => r.status === 200 && r.text === String(MiB)).length, REQUESTS, 'every primary answered in full');
    assert.equal(v1.bytes(), (REQUESTS + 10) * MiB);
    const growth = peak.hwm - before.rss;
    process.stdout.write(`# RSS at start ${(started.rss / MiB).toFixed(1)} MiB, before ${(before.rss / MiB).toFixed(1)} MiB, peak ${(peak.hwm / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB\n`);
    assert.ok(growth < 64 * MiB, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`);

    // Every copy is accounted for: sent (stuck at the hole), or dropped at the in-flight cap or the body budget.
    const { samples } = await scrape(adminUrl);
    const delta = (name: string, labels: Record<string, string> = {}) => sumOf(samples, name, labels) - sumOf(countersBefore.samples, name, labels);
    const mirror = { mirror: 'app.default|v2' };
    assert.equal(delta('umbra_mirror_requests_total', mirror), REQUESTS);
    const inFlightCap = delta('umbra_mirror_dropped_total', { ...mirror, reason: 'in_flight_cap' });
    const overBudget = delta('umbra_mirror_dropped_total', { ...mirror, reason: 'body_budget' });
    const overLimit = delta('umbra_mirror_dropped_total', { ...mirror, reason: 'body_limit' });
    const inFlight = sumOf(samples, 'umbra_mirror_in_flight', mirror);
    process.stdout.write(`# copies: in flight ${inFlight}, dropped in_flight_cap ${inFlightCap}, body_budget ${overBudget}, body_limit ${overLimit}\n`);
    assert.ok(inFlight <= 512, `in flight ${inFlight} is within the default cap`);
    assert.ok(inFlightCap >= REQUESTS - 512, 'copies beyond the in-flight cap were dropped, not queued');
    // Copies still streaming into the hole are neither sent nor dropped yet; all others are one or the other.
    const settled = delta('umbra_mirror_sent_total', mirror) + inFlightCap + overBudget + overLimit;
    assert.ok(settled <= REQUESTS && settled + inFlight >= REQUESTS, `settled ${settled}, in flight ${inFlight}`);
    assert.ok(sumOf(samples, 'umbra_mirror_body_buffered_bytes') <= 32 * MiB, 'buffered copy bodies stay within the per-mirror budget');
  } finally {
    await umbra.stop();
    await hole.close();
    await new Promise<void>((ok) => {
      v1.server.closeAllConnections();
      v1.server.close(() => ok());
    });
    rmSync(dir, { recursive: true, force: true });
  }
});
