// The seed's task end to end with its exact Istio YAML (examples/seed), two httpbin workloads
// declared by WorkloadEntry, a real curl through http_proxy, and both workloads' access logs —
// once with the built-in httpbin and once with the real one (python3-httpbin under gunicorn).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startHttpbin } from '../../src/workloads/httpbin.js';
import { gunicornAvailable, startGunicornHttpbin } from '../helpers/gunicorn.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/servers.js';
import { startTestUmbra, workloadEntry } from '../helpers/umbra.js';

const run = promisify(execFile);
const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');

interface Workload {
  port: number;
  logs(): string[];
  close(): Promise<void>;
}

async function builtin(name: string): Promise<Workload> {
  const lines: string[] = [];
  const h = await startHttpbin({ name, log: (l) => lines.push(l) });
  return { port: h.port, logs: () => lines, close: () => h.close() };
}

async function gunicorn(): Promise<Workload> {
  const g = await startGunicornHttpbin();
  return { port: g.port, logs: () => g.logs(), close: () => g.close() };
}

/** The seed's own client command: curl through the proxy, as the curl pod's sidecar would see it. */
async function curlHeaders(proxyUrl: string): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', 'http://httpbin:8000/headers'], {
    env: { ...process.env, http_proxy: proxyUrl, no_proxy: '' },
  });
  return stdout;
}

async function apply(adminUrl: string, yaml: string): Promise<void> {
  const res = await request(`${adminUrl}/apis/apply?source=test`, {
    method: 'POST',
    body: yaml,
    headers: { 'content-type': 'application/yaml' },
  });
  const body = await res.body.text();
  assert.equal(res.statusCode, 200, body);
}

async function seedScenario(start: (name: string) => Promise<Workload>): Promise<void> {
  const v1 = await start('httpbin-v1');
  const v2 = await start('httpbin-v2');
  const umbra = await startTestUmbra({
    'service.yaml': seed('service.yaml'),
    'workloads.yaml':
      workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' }) +
      '---\n' +
      workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' }),
  });
  try {
    // Step 1: all traffic to v1.
    await apply(umbra.adminUrl, seed('route-v1.yaml'));
    const first = JSON.parse(await curlHeaders(umbra.proxyUrl));
    assert.equal(first.headers.Host, 'httpbin:8000');
    await waitFor(() => v1.logs().length === 1, 10_000);
    // Nothing may reach v2; give a stray copy the time it would need to show up.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(v2.logs().length, 0, `v2 got: ${v2.logs().join('\n')}`);
    assert.match(v1.logs()[0], /"GET \/headers HTTP\/1.1" 200 \d+ "-" "curl\/[\d.]+" host=httpbin:8000$/);

    // Step 2: mirror 100 % to v2.
    await apply(umbra.adminUrl, seed('mirror.yaml'));
    const second = JSON.parse(await curlHeaders(umbra.proxyUrl));
    // The client always gets v1's answer: v2 would have echoed the -shadow host.
    assert.equal(second.headers.Host, 'httpbin:8000');
    await waitFor(() => v2.logs().length === 1, 10_000);
    // Two processes' logs reach this one through two pipes: v2's line may be read before v1's.
    await waitFor(() => v1.logs().length === 2, 10_000);
    assert.match(
      v2.logs()[0],
      /"GET \/headers HTTP\/1.1" 200 \d+ "-" "curl\/[\d.]+" host=httpbin-shadow:8000$/,
    );
    assert.match(v1.logs()[1], /host=httpbin:8000$/);
  } finally {
    await umbra.close();
    await Promise.all([v1.close(), v2.close()]);
  }
}

test('seed task (Istio API) with the built-in httpbin', () => seedScenario(builtin));

test(
  'seed task (Istio API) with the real httpbin under gunicorn',
  { skip: !gunicornAvailable() && 'gunicorn/python3-httpbin not installed (.ci/run installs them)' },
  () => seedScenario(gunicorn),
);
