// `umbra run --workers 2` as a user runs it: both workers serve the listener, an apply is answered
// only once every worker serves the new table (Gateway listeners included), the admin port sums the
// workers' counters, a worker that dies is replaced, and SIGTERM stops everything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli, startCli, REPO_ROOT, loopbackServeArgs } from '../helpers/cli.js';
import { freePort, startEchoServer, waitFor } from '../helpers/servers.js';
import { workloadEntry } from '../helpers/umbra.js';
import { scratchDir } from '../helpers/scratch.js';

const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');

/** Children of a process (Linux /proc). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** n requests, each on a connection of its own, so the cluster spreads them over the workers. */
async function fresh(proxy: string, path: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await request(`${proxy}${path}?i=${i}`, {
      headers: { host: 'httpbin:8000', connection: 'close' },
    });
    await r.body.dump();
    statuses.push(r.statusCode);
  }
  return statuses;
}

async function json<T>(url: string): Promise<T> {
  const r = await request(url);
  return (await r.body.json()) as T;
}

/** A Gateway with one HTTP listener and a route to the v1 workload (Service "edge-v1"). */
function gatewayYaml(port: number): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: umbra}
spec: {controllerName: umbra.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: umbra
  listeners: [{name: http, port: ${port}, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: edge-v1}
spec: {ports: [{name: http, port: 80}], selector: {app: httpbin, version: v1}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: edge-v1, port: 80}]}]
`;
}

interface WorkersView {
  workers: { pid: number; configVersion: number; requests: number }[];
}

test('two workers serve one listener; apply, counters, a crashed worker and shutdown', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const dir = scratchDir('umbra-workers-');
  const files = join(dir, 'resources.yaml');
  writeFileSync(
    files,
    `${seed('service.yaml')}---\n${seed('route-v1.yaml')}---\n${workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' })}---\n${workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' })}`,
  );
  const [listen, adminPort] = [await freePort(), await freePort()];
  const admin = `127.0.0.1:${adminPort}`;
  const adminUrl = `http://${admin}`;
  const proxy = `http://127.0.0.1:${listen}`;
  const umbra = startCli([
    'run',
    '-f',
    files,
    ...loopbackServeArgs(listen, adminPort, join(dir, 'state')),
    '--workers',
    '2',
  ]);
  try {
    await umbra.waitForOutput(/serving config v\d+ .* with 2 workers/, 20_000);
    const pid = umbra.proc.pid!;
    assert.equal(children(pid).length, 2);

    // Connections are spread over both workers, and each one routes by the same table.
    assert.deepEqual(await fresh(proxy, '/before', 10), Array(10).fill(200));
    assert.equal(v1.requests.filter((r) => r.url.startsWith('/before')).length, 10);
    const spread = await json<WorkersView>(`${adminUrl}/workers`);
    assert.equal(spread.workers.length, 2);
    assert.deepEqual(spread.workers.map((w) => w.pid).sort(), children(pid).sort());
    for (const w of spread.workers)
      assert.ok(w.requests > 0, `worker ${w.pid} served no request: ${JSON.stringify(spread)}`);

    // The apply's answer means every worker mirrors from now on: the very next requests, on fresh
    // connections (so on both workers), are all copied.
    const applied = await runCli(['apply', '-f', '-', '--admin', admin], { input: seed('mirror.yaml') });
    assert.equal(applied.code, 0, applied.stderr);
    assert.deepEqual(await fresh(proxy, '/mirrored', 10), Array(10).fill(200));
    await waitFor(
      () => v2.requests.filter((r) => r.url.startsWith('/mirrored')).length === 10 || undefined,
      5_000,
    );
    assert.ok(
      v2.requests
        .filter((r) => r.url.startsWith('/mirrored'))
        .every((r) => r.headers.host === 'httpbin-shadow:8000'),
    );

    // A Gateway applied through the primary is served on its own port by every worker as soon as
    // the apply answers (each worker opens its listeners before it confirms the table).
    const gwPort = await freePort();
    const gw = await runCli(['apply', '-f', '-', '--admin', admin], { input: gatewayYaml(gwPort) });
    assert.equal(gw.code, 0, gw.stderr);
    const before = v1.requests.length;
    for (let i = 0; i < 6; i++) {
      const r = await request(`http://127.0.0.1:${gwPort}/edge?i=${i}`, {
        headers: { host: 'edge.example', connection: 'close' },
      });
      await r.body.dump();
      assert.equal(r.statusCode, 200);
    }
    assert.equal(v1.requests.length - before, 6);
    assert.equal(v1.requests.at(-1)?.headers.host, 'edge.example');

    // Counters on the admin port are the sums over the workers.
    const clusters = await json<{ mirrors: { name: string; sent: number }[] }>(`${adminUrl}/clusters`);
    assert.equal(clusters.mirrors.find((m) => m.name === 'httpbin.default|v2')?.sent, 10);
    const prom = await (await request(`${adminUrl}/stats/prometheus`)).body.text();
    assert.match(prom, /umbra_mirror_sent_total\{[^}]*mirror="httpbin\.default\|v2"[^}]*\} 10\n/);
    const versions = (await json<WorkersView>(`${adminUrl}/workers`)).workers.map((w) => w.configVersion);
    assert.equal(new Set(versions).size, 1);

    // A worker that dies is replaced, and the replacement serves the current table (with the mirror).
    const [victim] = children(pid);
    process.kill(victim, 'SIGKILL');
    await waitFor(
      () => (children(pid).length === 2 && !children(pid).includes(victim) ? true : undefined),
      10_000,
    );
    await waitFor(
      async () =>
        (await json<WorkersView>(`${adminUrl}/workers`)).workers.every((w) => w.configVersion === versions[0])
          ? true
          : undefined,
      10_000,
    );
    assert.deepEqual(await fresh(proxy, '/after-crash', 10), Array(10).fill(200));
    await waitFor(
      () => v2.requests.filter((r) => r.url.startsWith('/after-crash')).length === 10 || undefined,
      5_000,
    );

    // SIGTERM: the primary drains its workers and exits cleanly, leaving no process behind.
    const workers = children(pid);
    assert.equal(await umbra.stop(), 0);
    for (const w of workers) assert.throws(() => process.kill(w, 0), /ESRCH/);
  } finally {
    await umbra.stop();
    await v1.close();
    await v2.close();
  }
});
