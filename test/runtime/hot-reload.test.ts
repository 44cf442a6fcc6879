// Hot reload from watched files: a change applies within a second without failing in-flight
// requests; an invalid change keeps the last good configuration serving and says why.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startDelayServer, startEchoServer, waitFor } from '../helpers/servers.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { startUmbra } from '../../src/runtime/umbra.js';
import { scratchDir } from '../helpers/scratch.js';

test('file changes reload; in-flight requests finish; a bad file keeps the last good config', async () => {
  const v1 = await startDelayServer(300);
  const v2 = await startEchoServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(),
  });
  try {
    const send = (path: string) =>
      request(`${u.proxyUrl}${path}`, { headers: { host: 'app:8000' } }).then(async (r) => ({
        status: r.statusCode,
        body: await r.body.text(),
      }));
    const before = u.state.table.version;
    // A request in flight while the mirror rule arrives (v1 answers after 300 ms).
    const inflight = send('/slow');
    await waitFor(() => v1.requests.length === 1, 2000);
    u.write('vs.yaml', routeToV1(MIRROR_V2));
    await waitFor(() => u.state.table.version > before, 1000);
    assert.equal((await inflight).status, 200);
    // The request that started before the swap used the old table: no copy of it.
    assert.equal(
      v2.requests.some((r) => r.url === '/slow'),
      false,
    );
    await send('/new');
    await waitFor(() => v2.requests.some((r) => r.url === '/new'), 2000);

    // A broken change: the last good table keeps serving, and the reason is reported.
    const good = u.state.table.version;
    u.write('vs.yaml', routeToV1(`${MIRROR_V2}\nmirrorPercentage:\n  value: 150`));
    await waitFor(() => u.state.lastLoad && !u.state.lastLoad.applied, 2000);
    assert.equal(u.state.table.version, good);
    assert.ok(u.logs.some((l) => /rejected; still serving/.test(l)));
    assert.ok(
      u.logs.some((l) => /vs\.yaml:\d+:\d+: error: .*mirrorPercentage\.value/.test(l)),
      u.logs.join('\n'),
    );
    await send('/still-mirrored');
    await waitFor(() => v2.requests.some((r) => r.url === '/still-mirrored'), 2000);
    const dump = (await (await request(`${u.adminUrl}/config_dump`)).body.json()) as {
      lastLoad: { applied: boolean; issues: unknown[] };
    };
    assert.equal(dump.lastLoad.applied, false);
    assert.ok(dump.lastLoad.issues.length > 0);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test('a file written beside a watched YAML file does not reload; the YAML file itself still does', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const dir = scratchDir('umbra-test-');
  const yaml = join(dir, 'mesh.yaml');
  writeFileSync(yaml, twoVersionService(v1.port, v2.port));
  const logs: string[] = [];
  const u = await startUmbra({
    files: [yaml],
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    stateDir: join(dir, 'state'),
    log: (l) => logs.push(l),
    accessLog: () => undefined,
  });
  try {
    const before = u.state.table.version;
    // Umbra's own log next to its configuration (`umbra run -f mesh.yaml > umbra.log`), and an
    // editor's swap file: neither is configuration.
    for (let i = 0; i < 5; i++) {
      appendFileSync(join(dir, 'umbra.log'), `line ${i}\n`);
      writeFileSync(join(dir, '.mesh.yaml.swp'), `swap ${i}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(u.state.table.version, before, logs.join('\n'));
    writeFileSync(yaml, `${twoVersionService(v1.port, v2.port)}\n---\n${routeToV1()}`);
    await waitFor(() => u.state.table.version > before, 1000);
  } finally {
    await u.close(1000);
    rmSync(dir, { recursive: true, force: true });
    await v1.close();
    await v2.close();
  }
});
