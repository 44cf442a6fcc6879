// Issue 5: memory stays bounded when a mirror hangs. Bursts of 1000 concurrent 1 MiB POSTs (each
// client uploads its MiB over about 4 s, so all 1000 are in flight together) go through a real
// Umbra in a child process whose mirror accepts connections and never reads a byte. A first burst
// pays the one-time costs (connections, pools, JIT, allocator arenas); the next burst may raise
// the child's peak RSS by less than 64 MiB over its RSS after a GC. Every primary is answered in
// full and every copy is accounted for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { mirrorPolicy, scrape, sumOf, type Sample } from '../helpers/mirror-safety.js';
import { waitFor } from '../helpers/servers.js';
import type { ChildMemory, ChildReady, ChildRequest } from '../helpers/umbra-child.js';

const MiB = 1024 * 1024;
const REQUESTS = 1000;
const CHUNK = 64 * 1024;
/** Pause between a client's 64 KiB chunks: 16 chunks take about 4 s. */
const PACE_MS = 250;

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
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as AddressInfo).port, bytes: () => total };
}

/** The hung mirror: accepts connections, never reads, never answers. */
async function startBlackHole(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer({ pauseOnConnect: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

function ask<T>(child: ChildProcess, m?: ChildRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (x) => resolve(x as T));
    child.once('exit', (code) => reject(new Error(`umbra child exited (${code})`)));
    if (m) child.send(m);
  });
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

test(
  '1000 in-flight 1 MiB POSTs against a hung mirror: RSS grows by less than 64 MiB',
  { timeout: 120_000 },
  async () => {
    const v1 = await startCountingServer();
    const hole = await startBlackHole();
    const dir = mkdtempSync(join(tmpdir(), 'umbra-mem-'));
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'mesh.yaml'), twoVersionService(v1.port, hole.port));
    writeFileSync(join(dir, 'config', 'vs.yaml'), routeToV1(MIRROR_V2));
    // Default limits (512 copies in flight, 4 MiB per copy, 16 MiB per mirror, 64 MiB in all), except:
    // the breaker is held closed so every copy is tried against the hole (the breaker would otherwise
    // shed it after five timeouts), and a 2 s timeout lets the first burst's copies end.
    writeFileSync(
      join(dir, 'config', 'policy.yaml'),
      mirrorPolicy('timeout: 2s\nbreaker:\n  consecutiveFailures: 1000000'),
    );
    const options = {
      files: [join(dir, 'config')],
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      stateDir: join(dir, 'state'),
      watch: false,
    };
    const child = fork(new URL('../helpers/umbra-child.js', import.meta.url), [JSON.stringify(options)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const { proxyUrl, adminUrl } = await ask<ChildReady>(child);
      const chunk = Buffer.alloc(CHUNK, 'u');
      async function* upload(): AsyncGenerator<Buffer> {
        for (let i = 0; i < MiB / CHUNK; i++) {
          if (i > 0) await sleep(PACE_MS);
          yield chunk;
        }
      }
      const pool = new Pool(proxyUrl, { connections: REQUESTS, pipelining: 1 });
      const burst = () =>
        Promise.all(
          Array.from({ length: REQUESTS }, async () => {
            const r = await pool.request({
              method: 'POST',
              path: '/upload',
              body: Readable.from(upload()),
              headers: {
                host: 'app:8000',
                'content-type': 'application/octet-stream',
                'content-length': String(MiB),
              },
            });
            return r.statusCode === 200 && (await r.body.text()) === String(MiB);
          }),
        );
      const mirror = { mirror: 'app.default|v2' };

      // The first burst, from a cold process; then wait until its copies have timed out.
      const cold = await ask<ChildMemory>(child, 'baseline');
      assert.ok((await burst()).every(Boolean), 'first burst: every primary answered in full');
      const first = await ask<ChildMemory>(child, 'peak');
      await waitFor(
        async () => sumOf((await scrape(adminUrl)).samples, 'umbra_mirror_in_flight', mirror) === 0,
        30_000,
        200,
      );
      const before: Sample[] = (await scrape(adminUrl)).samples;
      const base = await ask<ChildMemory>(child, 'baseline');

      const ok = await burst();
      const after = await ask<ChildMemory>(child, 'peak');
      await pool.close();

      assert.equal(ok.filter(Boolean).length, REQUESTS, 'every primary answered in full');
      assert.equal(v1.bytes(), 2 * REQUESTS * MiB, 'v1 received every byte of both bursts');
      const growth = after.peak - base.rss;
      process.stdout.write(
        `# umbra child: cold RSS ${mib(cold.rss)}, first burst peak ${mib(first.peak)} (+${mib(first.peak - cold.rss)} one-time); ` +
          `RSS after GC ${mib(base.rss)}, next burst peak ${mib(after.peak)}: growth ${mib(growth)}\n`,
      );
      assert.ok(growth < 64 * MiB, `peak RSS grew by ${mib(growth)}`);

      // Every copy of the burst is accounted for: sent (stuck at the hole until its timeout), or
      // dropped at the in-flight cap or a body limit — none was queued without bound.
      const { samples } = await scrape(adminUrl);
      const delta = (name: string, labels: Record<string, string>) =>
        sumOf(samples, name, labels) - sumOf(before, name, labels);
      assert.equal(delta('umbra_mirror_requests_total', mirror), REQUESTS);
      const dropped = (reason: string) => delta('umbra_mirror_dropped_total', { ...mirror, reason });
      const sent = delta('umbra_mirror_sent_total', mirror);
      const inFlight = sumOf(samples, 'umbra_mirror_in_flight', mirror);
      const settled = sent + dropped('in_flight_cap') + dropped('body_budget') + dropped('body_limit');
      process.stdout.write(
        `# copies: sent ${sent}, in flight ${inFlight}, dropped: in_flight_cap ${dropped('in_flight_cap')}, ` +
          `body_budget ${dropped('body_budget')}, body_limit ${dropped('body_limit')}\n`,
      );
      assert.ok(dropped('in_flight_cap') > 0, 'copies beyond 512 in flight were dropped, not queued');
      assert.ok(
        settled <= REQUESTS && settled + inFlight >= REQUESTS,
        `settled ${settled}, in flight ${inFlight}`,
      );
      assert.equal(dropped('breaker'), 0);
    } finally {
      child.disconnect();
      await new Promise((ok) => child.once('exit', ok));
      await hole.close();
      await new Promise<void>((ok) => {
        v1.server.closeAllConnections();
        v1.server.close(() => ok());
      });
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
