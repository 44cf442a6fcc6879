// Issue 5 (made load-proof in issue 18): memory stays bounded when a mirror hangs. Bursts of 1000
// concurrent 1 MiB POSTs (each client uploads its MiB over about 4 s, so all 1000 are in flight
// together) go through a real Umbra in a child process whose mirror accepts connections and never
// reads a byte. A first burst pays the one-time costs (connections, pools, JIT, allocator arenas).
// Then, in the same process, the same burst on a route without a mirror and on the mirrored route:
// what the hung mirror adds to the peak RSS over the no-mirror burst must stay under the copies'
// aggregate body budget (64 MiB) plus their bookkeeping (16 MiB for 512 in flight), whatever the runtime (Node 20, 22, 24 size their heaps
// differently) and however busy the machine. Every primary is answered in full and every copy is
// accounted for.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { twoVersionService } from '../helpers/mesh-yaml.js';
import { mirrorPolicy, scrape, sumOf, type Sample } from '../helpers/mirror-safety.js';
import { waitFor } from '../helpers/servers.js';
import type { ChildMemory, ChildReady, ChildRequest } from '../helpers/umbra-child.js';
import { scratchDir } from '../helpers/scratch.js';

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
  // Umbra's pool to v1 stays warm between bursts (node's 5 s default would close it while the first
  // burst's copies time out), and a burst that does open 1000 connections at once finds a backlog
  // deep enough on a busy machine: v1 is not what is under test.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((ok) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, ok));
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

/** The copies' aggregate body budget (`--mirror-body-budget`'s default): the most a hung mirror may hold. */
const BUDGET = 64 * MiB;
/** What the copies in flight may hold besides body bytes: 32 KiB of sockets and state for each of 512. */
const BOOKKEEPING = 512 * 32 * 1024;
/** Requests carrying this header take the route without a mirror (same service, same v1). */
const NO_MIRROR = 'x-bench-no-mirror';

/** Everything to v1; requests with the NO_MIRROR header without a copy, the rest mirrored to v2. */
const ROUTES = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts:
  - app
  http:
  - match:
    - headers:
        ${NO_MIRROR}:
          exact: "1"
    route:
    - destination:
        host: app
        subset: v1
  - route:
    - destination:
        host: app
        subset: v1
    mirror:
      host: app
      subset: v2
`;

test(
  '1000 in-flight 1 MiB POSTs against a hung mirror: peak RSS over a no-mirror burst stays under the copy budget',
  { timeout: 180_000 },
  async () => {
    const v1 = await startCountingServer();
    const hole = await startBlackHole();
    const dir = scratchDir('umbra-mem-');
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'mesh.yaml'), twoVersionService(v1.port, hole.port));
    writeFileSync(join(dir, 'config', 'vs.yaml'), ROUTES);
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
      /** One upload: "ok" when answered 200 with its length, else what went wrong. */
      const one = async (mirrored: boolean): Promise<string> => {
        try {
          const r = await pool.request({
            method: 'POST',
            path: '/upload',
            body: Readable.from(upload()),
            headers: {
              host: 'app:8000',
              'content-type': 'application/octet-stream',
              'content-length': String(MiB),
              ...(mirrored ? {} : { [NO_MIRROR]: '1' }),
            },
          });
          const text = await r.body.text();
          return r.statusCode === 200 && text === String(MiB) ? 'ok' : `${r.statusCode} ${text.slice(0, 80)}`;
        } catch (e) {
          return `${(e as Error).name}: ${(e as Error).message}`;
        }
      };
      const burst = (mirrored = true) => Promise.all(Array.from({ length: REQUESTS }, () => one(mirrored)));
      /** Every answer "ok", or the distinct failures with their counts. */
      const failures = (answers: string[]) => {
        const bad = new Map<string, number>();
        for (const a of answers) if (a !== 'ok') bad.set(a, (bad.get(a) ?? 0) + 1);
        return [...bad].map(([a, n]) => `${n} × ${a}`).join('; ');
      };
      const mirror = { mirror: 'app.default|v2' };

      // The first burst, from a cold process; then wait until its copies have timed out.
      const cold = await ask<ChildMemory>(child, 'baseline');
      assert.equal(failures(await burst()), '', 'first burst: every primary answered in full');
      const first = await ask<ChildMemory>(child, 'peak');
      await waitFor(
        async () => sumOf((await scrape(adminUrl)).samples, 'umbra_mirror_in_flight', mirror) === 0,
        30_000,
        200,
      );
      // The same burst without a mirror: what 1000 in-flight uploads cost this process by themselves.
      const plainBase = await ask<ChildMemory>(child, 'baseline');
      assert.equal(failures(await burst(false)), '', 'no-mirror burst: every primary answered in full');
      const plain = await ask<ChildMemory>(child, 'peak');
      const before: Sample[] = (await scrape(adminUrl)).samples;
      const base = await ask<ChildMemory>(child, 'baseline');

      const ok = await burst();
      const after = await ask<ChildMemory>(child, 'peak');
      await pool.close();

      assert.equal(failures(ok), '', 'every primary answered in full');
      assert.equal(v1.bytes(), 3 * REQUESTS * MiB, 'v1 received every byte of the three bursts');
      const plainGrowth = plain.peak - plainBase.rss;
      const growth = after.peak - base.rss;
      process.stdout.write(
        `# umbra child (node ${process.versions.node}): cold RSS ${mib(cold.rss)}, first burst peak ${mib(first.peak)} (+${mib(first.peak - cold.rss)} one-time); ` +
          `no-mirror burst +${mib(plainGrowth)}, hung-mirror burst +${mib(growth)}: the mirror adds ${mib(growth - plainGrowth)}\n`,
      );
      assert.ok(
        growth - plainGrowth < BUDGET + BOOKKEEPING,
        `the hung mirror added ${mib(growth - plainGrowth)} to the burst's peak RSS (${mib(growth)} against ${mib(plainGrowth)} without a mirror)`,
      );

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
      assert.ok(dropped('in_flight_cap') > 0, 'copies beyond the in-flight cap were dropped, not queued');
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
