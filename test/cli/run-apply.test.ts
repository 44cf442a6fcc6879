// `umbra run` with `apply`, `get`, `delete` and `status` as a user drives them: separate processes,
// the seed's YAML piped through stdin like the task's heredocs, and a restart that keeps what was
// applied.

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

async function get(proxy: string, path: string): Promise<{ status: number; body: string }> {
  const r = await request(`${proxy}${path}`, { headers: { host: 'httpbin:8000' } });
  return { status: r.statusCode, body: await r.body.text() };
}

test('apply, get, delete and status against a running umbra, surviving a restart', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const dir = scratchDir('umbra-cli-');
  const files = join(dir, 'resources.yaml');
  writeFileSync(
    files,
    `${seed('service.yaml')}---\n${workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' })}---\n${workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' })}`,
  );
  const [listen, adminPort] = [await freePort(), await freePort()];
  const admin = `127.0.0.1:${adminPort}`;
  const proxy = `http://127.0.0.1:${listen}`;
  const args = ['run', '-f', files, ...loopbackServeArgs(listen, adminPort, join(dir, 'state'))];
  let umbra = startCli(args);
  try {
    await umbra.waitForOutput(/serving config/, 15_000);
    // Without a VirtualService, Kubernetes-style load balancing over both versions.
    for (let i = 0; i < 4; i++) assert.equal((await get(proxy, '/lb')).status, 200);
    assert.equal(v1.requests.length, 2);
    assert.equal(v2.requests.length, 2);

    // The seed's heredoc, with kubectl replaced by umbra.
    const applied = await runCli(['apply', '-f', '-', '--admin', admin], { input: seed('route-v1.yaml') });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /virtualservice\.networking\.istio\.io\/httpbin created/);
    assert.match(applied.stdout, /destinationrule\.networking\.istio\.io\/httpbin created/);
    await get(proxy, '/after-apply');
    assert.equal(v1.requests.at(-1)?.url, '/after-apply');

    // A bad resource is refused with reasons and changes nothing.
    const bad = await runCli(['apply', '-f', '-', '--admin', admin], {
      input: seed('mirror.yaml').replace('value: 100.0', 'value: 101'),
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /stdin:\d+:\d+: error: .*mirrorPercentage\.value/);
    const got = await runCli(['get', 'vs', 'httpbin', '-o', 'yaml', '--admin', admin]);
    assert.equal(got.code, 0, got.stderr);
    assert.doesNotMatch(got.stdout, /mirror/);
    assert.match(got.stdout, /subset: v1/);

    const mirrored = await runCli(['apply', '-f', '-', '--admin', admin], { input: seed('mirror.yaml') });
    assert.match(mirrored.stdout, /virtualservice\.networking\.istio\.io\/httpbin configured/);
    await get(proxy, '/mirrored');
    await waitFor(() => v2.requests.find((r) => r.url === '/mirrored'), 5000);
    assert.equal(v2.requests.find((r) => r.url === '/mirrored')?.headers.host, 'httpbin-shadow:8000');
    const status = await runCli(['status', '--admin', admin]);
    assert.match(
      status.stdout,
      /mirror httpbin\.default\|v2 100% → outbound\|8000\|v2\|httpbin\.default\.svc\.cluster\.local/,
    );
    assert.match(status.stdout, /mirror httpbin\.default\|v2: sent 1,/);

    // Restart: what was applied is still there.
    assert.equal(await umbra.stop(), 0);
    umbra = startCli(args);
    await umbra.waitForOutput(/serving config/, 15_000);
    const list = await runCli(['get', 'virtualservices', '--admin', admin]);
    assert.match(list.stdout, /default\s+httpbin\s+applied/);
    await get(proxy, '/after-restart');
    await waitFor(() => v2.requests.find((r) => r.url === '/after-restart'), 5000);

    const del = await runCli(['delete', 'virtualservice', 'httpbin', '--admin', admin]);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /virtualservice "httpbin" deleted/);
    const missing = await runCli(['get', 'vs', 'httpbin', '--admin', admin]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NotFound/);
    const fileOwned = await runCli(['delete', 'svc', 'httpbin', '--admin', admin]);
    assert.equal(fileOwned.code, 1);
    assert.match(fileOwned.stderr, /comes from .*resources\.yaml/);
  } finally {
    await umbra.stop();
    await v1.close();
    await v2.close();
  }
});
