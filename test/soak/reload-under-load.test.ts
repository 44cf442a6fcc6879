// Soak: ~1000 requests a second through a real `umbra run` (default workers) while its
// configuration file is rewritten ten times a second — in place (truncate + write, as `>` and many
// editors do) and by rename (as Kubernetes ConfigMap volumes do), alternating routes, weights,
// mirrors, header operations and connection-pool settings. Not one request may fail.
// 5 s by default (part of `npm test`); UMBRA_SOAK=1 runs the full 30 s.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { startCli, loopbackServeArgs } from '../helpers/cli.js';
import { freePort, startEchoServer } from '../helpers/servers.js';
import { twoVersionService } from '../helpers/mesh-yaml.js';
import { scratchDir } from '../helpers/scratch.js';

const FULL = process.env.UMBRA_SOAK === '1';
const DURATION_MS = FULL ? 30_000 : 5_000;
const RATE = 1_000; // requests per second
const WRITES_PER_SECOND = 10;
/** Beyond this many unanswered requests the generator stops adding more (a starved machine, not Umbra, is then the limit). */
const MAX_IN_FLIGHT = 5_000;

/** The i-th configuration: every one different, every one serving every request with a 200. */
function variant(i: number): string {
  const kind = i % 4;
  const vs = (rule: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
  labels:
    generation: "${i}"
spec:
  hosts:
  - app
  http:
  - ${rule.trim().replace(/\n/g, '\n    ')}
`;
  const dr = (maxRequests: number) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: app
spec:
  host: app
  trafficPolicy:
    connectionPool:
      http:
        maxRequestsPerConnection: ${maxRequests}
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;
  switch (kind) {
    case 0:
      return (
        vs('route:\n- destination:\n    host: app\n    subset: v1\nmirror:\n  host: app\n  subset: v2') +
        dr(0)
      );
    case 1:
      return (
        vs(
          `route:\n- destination:\n    host: app\n    subset: v1\n  weight: 50\n- destination:\n    host: app\n    subset: v2\n  weight: 50\nheaders:\n  request:\n    set:\n      x-generation: "${i}"`,
        ) + dr(100 + (i % 7))
      );
    case 2:
      return (
        vs(
          `match:\n- uri:\n    prefix: /load\nroute:\n- destination:\n    host: app\n    subset: v2\nmirror:\n  host: app\n  subset: v1\nmirrorPercentage:\n  value: ${(i % 10) * 10}`,
        ) + dr(0)
      );
    default:
      return vs('route:\n- destination:\n    host: app\n    subset: v2\ntimeout: 10s') + dr(1 + (i % 3));
  }
}

test(
  `reloads ten times a second under ${RATE} req/s for ${DURATION_MS / 1000} s fail no request`,
  { timeout: DURATION_MS + 90_000 },
  async () => {
    const v1 = await startEchoServer();
    const v2 = await startEchoServer();
    const dir = scratchDir('umbra-reload-soak-');
    const config = join(dir, 'config');
    mkdirSync(config);
    writeFileSync(
      join(config, 'mesh.yaml'),
      twoVersionService(v1.port, v2.port).replace(
        /---\napiVersion: networking.istio.io\/v1\nkind: DestinationRule[\s\S]*$/,
        '',
      ),
    );
    writeFileSync(join(config, 'vs.yaml'), variant(0));
    const [listen, admin] = [await freePort(), await freePort()];
    const cli = startCli(['run', '-f', config, ...loopbackServeArgs(listen, admin, join(dir, 'state'))]);
    const version = async () => {
      const r = await request(`http://127.0.0.1:${admin}/config_dump`);
      return ((await r.body.json()) as { version: number }).version;
    };
    try {
      await cli.waitForOutput(/serving config/, 20_000);
      const firstVersion = await version();
      const pool = new Pool(`http://127.0.0.1:${listen}`, { connections: 32, pipelining: 1 });
      let sent = 0;
      let ok = 0;
      const failures: string[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      let skipped = 0;
      const latencies: number[] = [];
      const one = async (n: number) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const t0 = performance.now();
        try {
          const r = await pool.request({ method: 'GET', path: `/load/${n}`, headers: { host: 'app:8000' } });
          const body = await r.body.text();
          if (r.statusCode === 200 && body.includes(`/load/${n}`)) ok++;
          else failures.push(`${n}: ${r.statusCode} ${body.slice(0, 200)}`);
        } catch (e) {
          failures.push(`${n}: ${(e as Error).message}`);
        } finally {
          inFlight--;
          latencies.push(performance.now() - t0);
        }
      };
      const started = Date.now();
      const pending: Promise<void>[] = [];
      // Open-loop load: RATE/100 requests every 10 ms, whatever the answers do (bounded in flight).
      const loadTimer = setInterval(() => {
        const due = Math.floor(((Date.now() - started) * RATE) / 1000);
        while (sent < due) {
          if (inFlight >= MAX_IN_FLIGHT) {
            skipped++;
            sent++;
            continue;
          }
          pending.push(one(sent++));
        }
      }, 10);
      let writes = 0;
      const writeTimer = setInterval(() => {
        writes++;
        const text = variant(writes);
        if (writes % 2 === 0) writeFileSync(join(config, 'vs.yaml'), text);
        else {
          const tmp = join(config, '.vs.yaml.tmp');
          writeFileSync(tmp, text);
          renameSync(tmp, join(config, 'vs.yaml'));
        }
      }, 1000 / WRITES_PER_SECOND);
      await new Promise((done) => setTimeout(done, DURATION_MS));
      clearInterval(loadTimer);
      clearInterval(writeTimer);
      await Promise.all(pending);
      await pool.close();
      const reloads = (await version()) - firstVersion;
      latencies.sort((a, b) => a - b);
      const pct = (p: number) =>
        latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
      process.stdout.write(`# latency ms: p50 ${pct(50)}, p99 ${pct(99)}, max ${pct(100)}\n`);
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(
        `# ${sent - skipped} requests in ${seconds.toFixed(1)} s (${Math.round((sent - skipped) / seconds)} req/s), ${ok} ok, ${failures.length} failed, ${skipped} not sent (over ${MAX_IN_FLIGHT} in flight), max in flight ${maxInFlight}; ${writes} file writes, ${reloads} configurations applied\n`,
      );
      // The criterion: not one request failed while the configuration kept changing under it.
      assert.deepEqual(failures.slice(0, 10), [], `${failures.length} requests failed`);
      assert.equal(ok, sent - skipped);
      // And the run really was the load and the churn it claims (loose: CI machines are shared).
      assert.ok(ok >= (RATE * DURATION_MS) / 1000 / 2, `only ${ok} requests answered`);
      assert.ok(writes >= (WRITES_PER_SECOND * DURATION_MS) / 1000 / 2, `only ${writes} writes`);
      // Writes 100 ms apart coalesce into reloads ~150 ms apart: most must have been applied.
      assert.ok(reloads >= writes / 4, `${reloads} reloads for ${writes} writes`);
      assert.ok(v1.requests.length > 0 && v2.requests.length > 0);
    } finally {
      await cli.stop(5_000);
      await v1.close();
      await v2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
