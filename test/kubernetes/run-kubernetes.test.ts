// `umbra run --kubernetes` as a user starts it (a separate process, a kubeconfig, no -f), and the
// startup failures a user meets: no resources at all, and an API server that refuses the credentials.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { startUmbra, StartupError } from '../../src/runtime/umbra.js';
import { REPO_ROOT, runCli, startCli, loopbackServeArgs } from '../helpers/cli.js';
import { FakeKubeApiServer, onNamedTargetPort, podObject } from '../helpers/fake-kube-apiserver.js';
import { freePort, startEchoServer, waitFor } from '../helpers/servers.js';
import { scratchDir } from '../helpers/scratch.js';

type Json = Record<string, unknown>;
const seed = (f: string): Json[] =>
  parseAllDocuments(readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8')).map((d) =>
    onNamedTargetPort(d.toJS() as Json),
  );

test('umbra run needs -f or --kubernetes, and kube flags need --kubernetes', async () => {
  const none = await runCli(['run']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /give resources with -f PATH, or read them from a cluster with --kubernetes/);
  const stray = await runCli([
    'run',
    '-f',
    join(REPO_ROOT, 'examples/seed/service.yaml'),
    '--all-namespaces',
  ]);
  assert.equal(stray.code, 1);
  assert.match(stray.stderr, /need --kubernetes/);
});

test('umbra run --kubernetes --kubeconfig serves what the API server holds, and follows it', async () => {
  const api = await FakeKubeApiServer.start();
  const dir = scratchDir('umbra-run-kube-');
  const [v1, v2] = await Promise.all([startEchoServer(), startEchoServer()]);
  for (const o of seed('service.yaml')) api.apply(o);
  api.apply(podObject('httpbin-v1', { labels: { app: 'httpbin', version: 'v1' }, ports: { http: v1.port } }));
  const [listen, admin] = await Promise.all([freePort(), freePort()]);
  const umbra = startCli([
    'run',
    '--kubernetes',
    '--kubeconfig',
    api.writeKubeconfig(dir),
    '--all-namespaces',
    ...loopbackServeArgs(listen, admin, join(dir, 'state')),
  ]);
  try {
    await umbra.waitForOutput(/serving config/, 15_000);
    assert.match(
      umbra.stderr(),
      /kubernetes: watching all namespaces at http:\/\/127\.0\.0\.1:\d+ \(credentials: .*kubeconfig\)/,
    );
    const get = async (path: string) => {
      const r = await request(`http://127.0.0.1:${listen}${path}`, {
        headers: { host: 'httpbin.default.svc.cluster.local:8000' },
      });
      await r.body.text();
      return r.statusCode;
    };
    assert.equal(await get('/one'), 200);
    assert.equal(v1.requests.length, 1);
    // All namespaces: the list was cluster-wide.
    assert.ok(api.calls('services', false).some((r) => r.path === '/api/v1/services'));
    // A second pod joins; round robin reaches it.
    api.apply(
      podObject('httpbin-v2', { labels: { app: 'httpbin', version: 'v2' }, ports: { http: v2.port } }),
    );
    await umbra.waitForOutput(/applied from the API server/, 5000);
    for (let i = 0; i < 4; i++) assert.equal(await get(`/lb/${i}`), 200);
    assert.ok(v2.requests.length >= 1, 'the new pod receives traffic');
    const ready = await request(`http://127.0.0.1:${admin}/ready`);
    assert.equal(ready.statusCode, 200);
    await ready.body.text();
  } finally {
    assert.equal(await umbra.stop(), 0);
    await api.close();
    await Promise.all([v1.close(), v2.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('credentials the API server refuses: startup fails after the sync timeout and says why', async () => {
  const api = await FakeKubeApiServer.start();
  const dir = scratchDir('umbra-kube-401-');
  const kubeconfig = api.writeKubeconfig(dir);
  writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace(api.token, 'wrong-token'));
  const logs: string[] = [];
  try {
    await assert.rejects(
      startUmbra({
        files: [],
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        stateDir: join(dir, 'state'),
        log: (l) => logs.push(l),
        kubernetes: { kubeconfig, syncTimeoutMs: 500, backoff: { initialMs: 20, maxMs: 100 } },
      }),
      (e: unknown) =>
        e instanceof StartupError &&
        /could not list from the API server .* within 500 ms: Service \(GET \/api\/v1\/namespaces\/default\/services: 401 Unauthorized\)/.test(
          e.message,
        ),
    );
    // It retried with backoff meanwhile, and stopped retrying after giving up.
    assert.ok(api.calls('services', false).length >= 2);
    const n = api.requests.length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(api.requests.length, n, 'no informer left running');
    await waitFor(() => logs.some((l) => /Service list failed: .*401/.test(l)), 1000);
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
