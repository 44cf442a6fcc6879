// Shadow comparison under `umbra run --workers 2` as a user runs it: each worker compares the pairs
// it serves, the admin port reports the sum, and the results outlive a restart of the whole thing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startCli, loopbackServeArgs } from '../helpers/cli.js';
import { routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { freePort, waitFor } from '../helpers/servers.js';
import {
  BASELINE_AND_CANDIDATE,
  comparePolicy,
  startVersionedService,
} from '../helpers/versioned-service.js';
import type { ComparisonReport } from '../../src/compare/report.js';
import { scratchDir } from '../helpers/scratch.js';

async function report(adminUrl: string): Promise<ComparisonReport> {
  const r = await request(`${adminUrl}/compare/report`);
  assert.equal(r.statusCode, 200);
  return (await r.body.json()) as ComparisonReport;
}

test(
  'two workers: the report is the sum of both, and it is kept across a restart',
  { timeout: 60_000 },
  async () => {
    const v1 = await startVersionedService('v1');
    const v2 = await startVersionedService('v2');
    const dir = scratchDir('umbra-compare-workers-');
    const file = join(dir, 'resources.yaml');
    writeFileSync(
      file,
      `${twoVersionService(v1.port, v2.port)}---\n${routeToV1(BASELINE_AND_CANDIDATE)}---\n${comparePolicy(true)}`,
    );
    const [listen, adminPort] = [await freePort(), await freePort()];
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const args = [
      'run',
      '-f',
      file,
      ...loopbackServeArgs(listen, adminPort, join(dir, 'state')),
      '--workers',
      '2',
      '--compare-budget',
      '1048576',
    ];
    let umbra = startCli(args);
    try {
      await umbra.waitForOutput(/with 2 workers/, 20_000);
      // A connection per request, so the cluster spreads them over both workers.
      for (let i = 0; i < 20; i++) {
        const r = await request(`http://127.0.0.1:${listen}/users/${i}`, {
          headers: { host: 'app:8000', connection: 'close' },
        });
        assert.equal(r.statusCode, 200);
        await r.body.dump();
      }
      const done = await waitFor(async () => {
        const r = await report(adminUrl);
        return r.groups[0]?.compared === 20 ? r : undefined;
      }, 15_000);
      const g = done.groups[0];
      assert.equal(g.endpoint, 'GET /users/{n}');
      assert.deepEqual(
        g.differences.map((f) => [f.field, f.differenceRate]),
        [['$.plan', 1]],
      );
      assert.ok(g.noise.some((f) => f.field === '$.nonce'));
      // Both workers took part, each with its own budget.
      assert.equal(done.budget.limitBytes, 2 * 1048576);
      const workers = (await (await request(`${adminUrl}/workers`)).body.json()) as {
        workers: { requests: number }[];
      };
      assert.ok(
        workers.workers.every((w) => w.requests > 0),
        JSON.stringify(workers),
      );
      // The summed Prometheus metrics say the same.
      const prom = await (await request(`${adminUrl}/stats/prometheus`)).body.text();
      assert.match(
        prom,
        /umbra_compare_requests_total\{[^}]*endpoint="GET \/users\/\{n\}"[^}]*outcome="different"\} 20\n/,
      );
      assert.match(prom, /umbra_compare_field_reported\{.*field="\$\.plan"\} 1\n/);
      assert.match(prom, /umbra_compare_reported_fields\{.*endpoint="GET \/users\/\{n\}".*\} 1\n/);

      assert.equal(await umbra.stop(), 0);
      umbra = startCli(args);
      await umbra.waitForOutput(/with 2 workers/, 20_000);
      const again = await report(adminUrl);
      assert.equal(again.groups[0]?.compared, 20);
      assert.deepEqual(
        again.groups[0].differences.map((f) => f.field),
        ['$.plan'],
      );
    } finally {
      await umbra.stop();
      await v1.close();
      await v2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
