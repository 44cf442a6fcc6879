// Operating `umbra run` with kubectl habits, as separate processes: apply of several -f and of a
// folder (logged by the running Umbra, counted in metrics), a refused delete that changes nothing
// on disk (a restart is ready and still serves the rule), delete -f, get -o wide, status -o json,
// umbra stop; and applied state that belongs to its configuration (B never sees A's resources, A
// gets them back, --fresh starts clean).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli, startCli, REPO_ROOT, loopbackServeArgs, type RunningCli } from '../helpers/cli.js';
import { freePort, startEchoServer, type TestServer } from '../helpers/servers.js';
import { workloadEntry } from '../helpers/umbra.js';
import { scratchDir } from '../helpers/scratch.js';

const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');

async function get(proxy: string, path: string): Promise<number> {
  const r = await request(`${proxy}${path}`, { headers: { host: 'httpbin:8000' } });
  await r.body.dump();
  return r.statusCode;
}

interface Setup {
  dir: string;
  v1: TestServer;
  v2: TestServer;
  mesh: string;
  admin: string;
  proxy: string;
  serve: (files: string[], extra?: string[]) => Promise<RunningCli>;
  close: () => Promise<void>;
}

async function setup(): Promise<Setup> {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const dir = scratchDir('umbra-operate-');
  const mesh = join(dir, 'mesh.yaml');
  writeFileSync(
    mesh,
    `${seed('service.yaml')}---\n${workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' })}---\n${workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' })}`,
  );
  const [listen, adminPort] = [await freePort(), await freePort()];
  const running: RunningCli[] = [];
  return {
    dir,
    v1,
    v2,
    mesh,
    admin: `127.0.0.1:${adminPort}`,
    proxy: `http://127.0.0.1:${listen}`,
    async serve(files, extra = []) {
      const cli = startCli(
        [
          'run',
          ...files.flatMap((f) => ['-f', f]),
          ...loopbackServeArgs(listen, adminPort, join(dir, 'state')),
          '--workers',
          '1',
          ...extra,
        ],
        { cwd: dir },
      );
      running.push(cli);
      await cli.waitForOutput(/serving config/, 20_000);
      return cli;
    },
    async close() {
      for (const c of running) await c.stop();
      await v1.close();
      await v2.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('apply -f a -f b and -f dir apply everything; a refused delete changes nothing, even after a restart', async () => {
  const s = await setup();
  try {
    const { admin, proxy } = s;
    let umbra = await s.serve([s.mesh]);
    // Two files in one apply: both take effect, as one change.
    const vs = join(s.dir, 'vs.yaml');
    const dr = join(s.dir, 'dr.yaml');
    const [vsText, drText] = seed('route-v1.yaml').split(/^---$/m);
    writeFileSync(vs, vsText);
    writeFileSync(dr, drText);
    const both = await runCli(['apply', '-f', vs, '-f', dr, '--admin', admin]);
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stdout, /virtualservice\.networking\.istio\.io\/httpbin created/);
    assert.match(both.stdout, /destinationrule\.networking\.istio\.io\/httpbin created/);
    await umbra.waitForOutput(/config v\d+: virtualservice\/default\/httpbin created/);
    await umbra.waitForOutput(/config v\d+: destinationrule\/default\/httpbin created/);
    assert.equal(await get(proxy, '/one'), 200);
    assert.equal(s.v1.requests.at(-1)?.url, '/one');

    // A folder: every YAML file in it (the mirror rule), logged as configured.
    const folder = join(s.dir, 'mirror');
    mkdirSync(folder);
    writeFileSync(join(folder, 'mirror.yaml'), seed('mirror.yaml'));
    writeFileSync(join(folder, 'notes.txt'), 'not a resource');
    const dirApply = await runCli(['apply', '-f', folder, '--admin', admin]);
    assert.equal(dirApply.code, 0, dirApply.stderr);
    assert.match(dirApply.stdout, /virtualservice\.networking\.istio\.io\/httpbin configured/);
    await umbra.waitForOutput(/config v\d+: virtualservice\/default\/httpbin configured/);

    // The refused delete: the VirtualService uses the DestinationRule's subsets.
    const refused = await runCli(['delete', 'dr', 'httpbin', '--admin', admin]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /refused/);
    assert.match(refused.stderr, /subset "v1"/);
    const wide = await runCli(['get', 'dr', '-o', 'wide', '--admin', admin]);
    assert.match(wide.stdout, /default\s+httpbin\s+DestinationRule\s+applied from .*dr\.yaml/);
    const metrics = await (await request(`http://${admin}/stats/prometheus`)).body.text();
    assert.match(metrics, /umbra_config_updates_total\{result="rejected"\} [1-9]/);
    assert.match(metrics, /umbra_config_updates_total\{result="success"\} [3-9]/);

    // A restart is ready and still serves the rule (mirror included).
    assert.equal(await umbra.stop(), 0);
    umbra = await s.serve([s.mesh]);
    await umbra.waitForOutput(/restored 2 applied resources from .*applied\.yaml/);
    const ready = await request(`http://${admin}/ready`);
    assert.equal(ready.statusCode, 200);
    await ready.body.dump();
    assert.equal(await get(proxy, '/after-restart'), 200);
    assert.equal(s.v1.requests.at(-1)?.url, '/after-restart');
    const status = await runCli(['status', '-o', 'json', '--admin', admin]);
    const json = JSON.parse(status.stdout) as { config: { version: number }; clusters: unknown };
    assert.ok(json.config.version >= 1 && json.clusters);

    // delete -f: what the file defines goes, in one change (VS first would be refused alone: no).
    const del = await runCli([
      'delete',
      '-f',
      join(REPO_ROOT, 'examples/seed/route-v1.yaml'),
      '--admin',
      admin,
    ]);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /virtualservice "httpbin" deleted/);
    assert.match(del.stdout, /destinationrule "httpbin" deleted/);
    await umbra.waitForOutput(/config v\d+: destinationrule\/default\/httpbin deleted/);

    // umbra stop: the process drains and exits; the command returns once it has.
    const stop = await runCli(['stop', '--admin', admin]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /stopped/);
    assert.ok(umbra.proc.exitCode !== null || umbra.proc.signalCode !== null || (await umbra.stop()) === 0);
  } finally {
    await s.close();
  }
});

test('applied resources belong to their configuration: B never sees A’s, A gets them back, --fresh starts clean', async () => {
  const s = await setup();
  try {
    const { admin } = s;
    // Configuration B: another set of -f paths, from the same folder and state directory.
    const other = join(s.dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'mesh.yaml'), readFileSync(s.mesh, 'utf8'));

    let a = await s.serve([s.mesh]);
    const applied = await runCli(['apply', '-f', '-', '--admin', admin], { input: seed('route-v1.yaml') });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(await a.stop(), 0);

    const b = await s.serve([other]);
    await b.waitForOutput(/no applied resources stored in .*configs/);
    const none = await runCli(['get', 'vs', '--admin', admin]);
    assert.match(none.stderr, /No resources found/);
    assert.equal(await b.stop(), 0);

    a = await s.serve([s.mesh]);
    await a.waitForOutput(
      /restored 2 applied resources from .*configs.*applied\.yaml: virtualservice\/default\/httpbin/,
    );
    const back = await runCli(['get', 'vs', '--admin', admin]);
    assert.match(back.stdout, /default\s+httpbin\s+applied from stdin/);
    const svc = await runCli(['get', 'svc', '--admin', admin]);
    assert.match(svc.stdout, /default\s+httpbin\s+.*mesh\.yaml/);
    assert.equal(await a.stop(), 0);

    const fresh = await s.serve([s.mesh], ['--fresh']);
    await fresh.waitForOutput(/--fresh: removed .*applied\.yaml/);
    const cleared = await runCli(['get', 'vs', '--admin', admin]);
    assert.match(cleared.stderr, /No resources found/);
  } finally {
    await s.close();
  }
});

test('off loopback the token comes from a file on both sides; reads need it too', async () => {
  const s = await setup();
  try {
    const tokenFile = join(s.dir, 'token');
    writeFileSync(tokenFile, 'file-token-0123456789\n', { mode: 0o600 });
    const port = s.admin.split(':')[1];
    const umbra = await s.serve([s.mesh], ['--admin', `0.0.0.0:${port}`, '--admin-token-file', tokenFile]);
    const denied = await runCli(['get', 'svc', '--admin', s.admin]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /admin token required/);
    const got = await runCli(['get', 'svc', '--admin', s.admin, '--token-file', tokenFile]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /httpbin/);
    const applied = await runCli(['apply', '-f', '-', '--admin', s.admin, '--token-file', tokenFile], {
      input: seed('route-v1.yaml'),
    });
    assert.equal(applied.code, 0, applied.stderr);
    const stop = await runCli(['stop', '--admin', s.admin, '--token-file', tokenFile]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(await umbra.stop(), 0);
  } finally {
    await s.close();
  }
});
