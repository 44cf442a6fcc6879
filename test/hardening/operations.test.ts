// Operating Umbra: SIGTERM drains the real `umbra run` process (stops accepting, lets in-flight
// requests finish with Connection: close, never waits for mirrors, cuts what is left when the
// drain time is up); operational logs as JSON lines; admin writes need the token off loopback.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli, startCli, type RunningCli, loopbackServeArgs } from '../helpers/cli.js';
import { freePort, startDelayServer, startHungServer, waitFor } from '../helpers/servers.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { header, RawConnection } from './raw-http.js';
import { scratchDir } from '../helpers/scratch.js';

function configDir(files: Record<string, string>): string {
  const dir = scratchDir('umbra-ops-');
  mkdirSync(join(dir, 'config'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'config', name), text);
  return dir;
}

function refused(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      ok(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => ok(e.code === 'ECONNREFUSED'));
  });
}

function exited(cli: RunningCli): Promise<number | null> {
  return new Promise((ok) => {
    if (cli.proc.exitCode !== null || cli.proc.signalCode !== null) return ok(cli.proc.exitCode);
    cli.proc.once('exit', (code) => ok(code));
  });
}

test(
  'SIGTERM: stop accepting, finish the request in flight, never wait for the hung mirror',
  { timeout: 60_000 },
  async () => {
    const v1 = await startDelayServer(1_000);
    const mirror = await startHungServer();
    const dir = configDir({
      'mesh.yaml': twoVersionService(v1.port, mirror.port),
      'vs.yaml': routeToV1(MIRROR_V2),
    });
    const [listen, admin] = [await freePort(), await freePort()];
    // Default workers (one per core), long drain and mirror timeouts: neither may be waited out.
    const cli = startCli([
      'run',
      '-f',
      join(dir, 'config'),
      ...loopbackServeArgs(listen, admin, join(dir, 'state')),
      '--drain-timeout',
      '30000',
      '--mirror-timeout',
      '60000',
    ]);
    const c = await (async () => {
      await cli.waitForOutput(/serving config/, 20_000);
      return RawConnection.open(listen);
    })();
    try {
      c.write('GET /in-flight HTTP/1.1\r\nHost: app:8000\r\n\r\n');
      await waitFor(() => v1.requests.length === 1 && mirror.requests.length === 1, 5_000);
      const exit = exited(cli);
      cli.proc.kill('SIGTERM');
      await cli.waitForOutput(/SIGTERM: draining/, 5_000);
      // No new connections while draining.
      assert.equal(await waitFor(() => refused(listen), 5_000), true);
      // The request in flight is answered in full, and its connection is closed after it.
      const r = await c.response('GET', 10_000);
      assert.equal(r.status, 200);
      assert.equal(r.complete, true);
      assert.equal(JSON.parse(r.body.toString()).path, '/in-flight');
      assert.equal(header(r, 'connection'), 'close');
      assert.equal(await c.waitClosed(), true);
      // The mirror still hangs (60 s timeout) and the drain allows 30 s: the exit waits for neither.
      const code = await Promise.race([
        exit,
        new Promise((ok) => setTimeout(() => ok('still running'), 10_000)),
      ]);
      assert.equal(code, 0, cli.stderr());
      assert.match(cli.stderr(), /umbra: stopped/);
    } finally {
      c.close();
      await cli.stop(1_000);
      await v1.close();
      await mirror.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'SIGTERM with a request that outlives the drain timeout; operational logs as JSON lines',
  { timeout: 60_000 },
  async () => {
    const v1 = await startHungServer();
    const dir = configDir({ 'mesh.yaml': twoVersionService(v1.port, v1.port), 'vs.yaml': routeToV1() });
    const [listen, admin] = [await freePort(), await freePort()];
    const cli = startCli([
      'run',
      '-f',
      join(dir, 'config'),
      ...loopbackServeArgs(listen, admin, join(dir, 'state')),
      '--drain-timeout',
      '500',
      '--log-format',
      'json',
      '--workers',
      '1',
    ]);
    try {
      await cli.waitForOutput(/"event":"serving"/, 20_000);
      // A rejected reload is logged as JSON too, with its level.
      writeFileSync(join(dir, 'config', 'vs.yaml'), routeToV1('mirrorPercentage:\n  value: 150'));
      await cli.waitForOutput(/rejected; still serving/, 5_000);

      const c = await RawConnection.open(listen);
      c.write('GET /forever HTTP/1.1\r\nHost: app:8000\r\n\r\n');
      await waitFor(() => v1.requests.length === 1, 5_000);
      const exit = exited(cli);
      cli.proc.kill('SIGTERM');
      // The drain time is up: the client's connection is cut, without a response, and Umbra exits.
      assert.equal(await c.waitClosed(10_000), true);
      assert.equal(c.received(), '');
      c.close();
      assert.equal(await exit, 0);

      const lines = cli.stderr().trim().split('\n');
      const records = lines.map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          assert.fail(`not a JSON line: ${l}`);
        }
      });
      for (const r of records) {
        assert.equal(typeof r.time, 'string');
        assert.ok(['debug', 'info', 'warn', 'error'].includes(String(r.level)), JSON.stringify(r));
        assert.equal(typeof r.msg, 'string');
      }
      assert.ok(records.some((r) => r.event === 'serving' && typeof r.proxyUrl === 'string'));
      assert.ok(records.some((r) => r.level === 'warn' && /rejected; still serving v1/.test(String(r.msg))));
      assert.ok(
        records.some(
          (r) =>
            r.level === 'error' && /vs\.yaml:\d+:\d+: error: .*mirrorPercentage\.value/.test(String(r.msg)),
        ),
      );
      assert.ok(records.some((r) => r.event === 'draining' && r.drainMs === 500));
      assert.ok(records.some((r) => r.event === 'stopped'));
    } finally {
      await cli.stop(1_000);
      await v1.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('client-side limits on the command line are checked before anything starts', async () => {
  const dir = configDir({ 'mesh.yaml': twoVersionService(1, 2) });
  try {
    const base = [
      'run',
      '-f',
      join(dir, 'config'),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--state-dir',
      join(dir, 'state'),
      '--workers',
      '1',
    ];
    const cases: [string[], RegExp][] = [
      [
        ['--request-headers-timeout', '5000', '--request-timeout', '1000'],
        /--request-headers-timeout cannot be longer than --request-timeout/,
      ],
      [['--max-headers-count', '0'], /--max-headers-count must be at least 1/],
      [['--xff-trusted-hops', '-1'], /--xff-trusted-hops: "-1" is not a non-negative integer/],
      [['--max-connections', 'many'], /--max-connections: "many" is not a non-negative integer/],
      [['--path-normalization', 'aggressive'], /--path-normalization.*aggressive.*(choices|Allowed)/i],
      [['--log-format', 'xml'], /--log-format.*xml/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli([...base, ...flags], { timeoutMs: 15_000 });
      assert.equal(r.code, 1, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('admin writes need the token when the admin API is not on loopback', async () => {
  const v = await startDelayServer(0);
  const files = { 'mesh.yaml': twoVersionService(v.port, v.port) };
  await assert.rejects(
    startTestUmbra(files, { admin: { host: '0.0.0.0', port: 0 } }),
    /admin API on 0\.0\.0\.0 is reachable from other hosts: set --admin-token/,
  );
  const u = await startTestUmbra(files, { admin: { host: '0.0.0.0', port: 0 }, adminToken: 's3cret-token' });
  const base = u.adminUrl.replace('0.0.0.0', '127.0.0.1');
  const apply = (auth?: string) =>
    request(`${base}/apis/apply`, {
      method: 'POST',
      body: routeToV1(),
      headers: { 'content-type': 'application/yaml', ...(auth ? { authorization: auth } : {}) },
    }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
  try {
    const before = u.state.table.version;
    assert.equal((await apply()).status, 401);
    assert.equal((await apply('Bearer wrong-token!')).status, 401);
    assert.equal((await apply('s3cret-token')).status, 401, 'the Bearer scheme is required');
    assert.equal(u.state.table.version, before, 'nothing applied without the token');
    const del = await request(`${base}/apis/resources/virtualservice/default/app`, { method: 'DELETE' });
    assert.equal(del.statusCode, 401);
    await del.body.dump();
    // Reads stay open; the right token writes.
    const ready = await request(`${base}/ready`);
    assert.equal(ready.statusCode, 200);
    await ready.body.dump();
    const ok = await apply('Bearer s3cret-token');
    assert.equal(ok.status, 200, ok.body);
    assert.ok(u.state.table.version > before);
  } finally {
    await u.close();
    await v.close();
  }
});
