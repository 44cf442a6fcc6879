// Issue 5: keyed sampling. With `sampling.key.header: x-user-id` and 30 %, two separate Umbra
// processes (`umbra run`, same configuration) mirror exactly the same users, and a user who is
// mirrored once is mirrored every time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { mirrorPolicy } from '../helpers/mirror-safety.js';
import { startEchoServer, waitFor } from '../helpers/servers.js';
import { scratchDir } from '../helpers/scratch.js';

const USERS = 400;

test(
  'keyed sampling at 30 % mirrors the same keys on two separate Umbra processes',
  { timeout: 60_000 },
  async () => {
    const v1 = await startEchoServer();
    const v2 = await startEchoServer();
    const dir = scratchDir('umbra-keyed-');
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'mesh.yaml'), twoVersionService(v1.port, v2.port));
    writeFileSync(join(dir, 'config', 'vs.yaml'), routeToV1(`${MIRROR_V2}\nmirrorPercentage:\n  value: 30`));
    writeFileSync(
      join(dir, 'config', 'policy.yaml'),
      mirrorPolicy('sampling:\n  key:\n    header: X-User-Id'),
    );
    const procs: RunningCli[] = [];
    try {
      const urls: string[] = [];
      for (const name of ['a', 'b']) {
        const p = startCli([
          'run',
          '-f',
          join(dir, 'config'),
          '--listen',
          '127.0.0.1:0',
          '--admin',
          '127.0.0.1:0',
          '--state-dir',
          join(dir, `state-${name}`),
          '--access-log',
          'off',
          '--no-watch',
          '--workers',
          '1',
        ]);
        procs.push(p);
        urls.push((await p.waitForOutput(/on (http:\/\/127\.0\.0\.1:\d+)/, 15_000))[1]);
      }
      // Each process sees every user twice (interleaved), tagged so the mirror can tell them apart.
      for (const [i, url] of urls.entries()) {
        const pool = new Pool(url, { connections: 8 });
        const tag = i === 0 ? 'a' : 'b';
        await Promise.all(
          Array.from({ length: 2 * USERS }, async (_, k) => {
            const r = await pool.request({
              method: 'GET',
              path: `/profile/${k}`,
              headers: { host: 'app:8000', 'x-user-id': `user-${k % USERS}`, 'x-umbra-test-process': tag },
            });
            await r.body.text();
            assert.equal(r.statusCode, 200);
          }),
        );
        await pool.close();
      }
      assert.equal(v1.requests.length, 4 * USERS);
      const copies = (tag: string) =>
        v2.requests
          .filter((r) => r.headers['x-umbra-test-process'] === tag)
          .map((r) => String(r.headers['x-user-id']));
      // Copies are fire-and-forget: wait until the count stops changing between two polls.
      let last = -1;
      await waitFor(
        () => {
          const n = v2.requests.length;
          const stable = n === last;
          last = n;
          return stable;
        },
        5000,
        200,
      );

      const a = copies('a');
      const b = copies('b');
      const users = (xs: string[]) => [...new Set(xs)].sort();
      assert.deepEqual(users(a), users(b), 'both processes mirror the same users');
      // Every mirrored user is mirrored both times it came (in each process).
      for (const xs of [a, b]) assert.equal(xs.length, 2 * users(xs).length);
      // 30 % of 400 users: binomial sd ≈ 9.2, so ±46 is five sd.
      const share = users(a).length;
      assert.ok(Math.abs(share - 0.3 * USERS) <= 46, `${share} of ${USERS} users mirrored`);
    } finally {
      for (const p of procs) await p.stop();
      await v1.close();
      await v2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
