// Shadow comparison end to end (issue 9): a VirtualService mirrors every request to a baseline
// (v1 again) and a candidate (v2). v2 differs from v1 in one JSON field of one endpoint, and every
// response on every endpoint carries a random field. The report names the real difference with its
// rate and calls the random field noise; results reach Prometheus and survive a restart. With
// comparison off, nothing is retained.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { twoVersionService, routeToV1 } from '../helpers/mesh-yaml.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';
import { waitFor } from '../helpers/servers.js';
import {
  BASELINE_AND_CANDIDATE,
  comparePolicy,
  sendTraffic,
  startVersionedService,
} from '../helpers/versioned-service.js';
import type { ComparisonReport } from '../../src/compare/comparison-engine.js';
import type { Sample } from '../../src/compare/results.js';
import { scratchDir } from '../helpers/scratch.js';

async function traffic(u: TestUmbra, n: number): Promise<void> {
  await sendTraffic(u.proxyUrl, n, (path, status, body) => {
    assert.equal(status, 200);
    // The client always gets v1's answer.
    if (path.startsWith('/users/')) assert.equal(body.plan, 'free');
  });
}

async function report(u: TestUmbra): Promise<ComparisonReport> {
  const r = await request(`${u.adminUrl}/compare/report`);
  assert.equal(r.statusCode, 200);
  return (await r.body.json()) as ComparisonReport;
}

test('the report names the one real difference with its rate and suppresses the random field', async () => {
  const v1 = await startVersionedService('v1');
  const v2 = await startVersionedService('v2');
  const stateDir = scratchDir('umbra-compare-state-');
  const files = {
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(BASELINE_AND_CANDIDATE),
    'policy.yaml': comparePolicy(true),
  };
  let u = await startTestUmbra(files, { stateDir });
  try {
    await traffic(u, 30);
    const done = await waitFor(async () => {
      const r = await report(u);
      return r.groups.length === 2 && r.groups.every((g) => g.compared === 30) ? r : undefined;
    }, 10_000);

    const users = done.groups.find((g) => g.endpoint === 'GET /users/{n}');
    const orders = done.groups.find((g) => g.endpoint === 'GET /orders/{n}');
    assert.ok(users && orders, `groups: ${done.groups.map((g) => g.endpoint).join(', ')}`);
    for (const g of [users, orders]) {
      assert.equal(g.mirror, 'app.default|v2');
      assert.equal(g.baseline, 'app.default|v1');
      assert.equal(g.withBaseline, 30);
      assert.deepEqual(g.statusPairs, { '200 200': 30 });
      // The random field differs in every pair, and just as often against the baseline.
      const nonce = g.noise.find((f) => f.field === '$.nonce');
      assert.ok(nonce, `$.nonce is noise on ${g.endpoint}`);
      assert.equal(nonce.differenceRate, 1);
      assert.equal(nonce.noiseRate, 1);
      assert.ok(!g.differences.some((f) => f.field === '$.nonce'));
    }
    assert.deepEqual(
      users.differences.map((f) => [
        f.field,
        f.differenceRate,
        f.noiseRate,
        f.example?.primary,
        f.example?.other,
      ]),
      [['$.plan', 1, 0, '"free"', '"pro"']],
    );
    assert.equal(users.different, 30);
    assert.equal(users.differenceRate, 1);
    assert.deepEqual(orders.differences, []);
    assert.equal(orders.different, 0);
    assert.equal(orders.noiseOnly, 30);
    assert.equal(done.budget.usedBytes, 0);
    assert.ok(done.budget.peakBytes > 0);

    // Both mirrors really got the copies.
    assert.equal(v2.seen.length, 60);
    assert.equal(v1.seen.filter((s) => s.endsWith('app.default|v1')).length, 60);

    // A sample pair, with the credentials redacted.
    const sr = await request(`${u.adminUrl}/compare/samples?group=${encodeURIComponent(users.key)}`);
    const { samples } = (await sr.body.json()) as { samples: Sample[] };
    const s = samples.find((x) => x.outcome === 'different');
    assert.ok(s);
    assert.equal(s.primary.headers['set-cookie'], '[redacted]');
    assert.match(s.primary.body, /"plan": "free"/);
    assert.match(s.candidate.body, /"plan": "pro"/);
    assert.ok(s.baseline);
    // The session cookies differ in every pair (noise), yet their values appear nowhere.
    assert.ok(users.noise.some((f) => f.field === 'header:set-cookie'));
    assert.doesNotMatch(JSON.stringify(samples) + JSON.stringify(done), /sid=/);

    // Prometheus, next to the request metrics.
    const prom = await (await request(`${u.adminUrl}/stats/prometheus`)).body.text();
    assert.match(
      prom,
      /umbra_compare_requests_total\{route="[^"]+",endpoint="GET \/users\/\{n\}",mirror="app.default\|v2",outcome="different"\} 30/,
    );
    assert.match(
      prom,
      /umbra_compare_field_reported\{route="[^"]+",endpoint="GET \/users\/\{n\}",mirror="app.default\|v2",field="\$.plan"\} 1/,
    );
    assert.match(
      prom,
      /umbra_compare_field_reported\{route="[^"]+",endpoint="GET \/users\/\{n\}",mirror="app.default\|v2",field="\$.nonce"\} 0/,
    );

    // A restart keeps the results (SQLite in the state directory).
    await u.close();
    u = await startTestUmbra(files, { stateDir });
    const again = await report(u);
    assert.deepEqual(
      again.groups.map((g) => [g.endpoint, g.compared, g.differences.map((f) => f.field)]).sort(),
      done.groups.map((g) => [g.endpoint, g.compared, g.differences.map((f) => f.field)]).sort(),
    );
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('with comparison off, mirrors are sent and nothing is retained', async () => {
  const v1 = await startVersionedService('v1');
  const v2 = await startVersionedService('v2');
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(BASELINE_AND_CANDIDATE),
    'policy.yaml': comparePolicy(false),
  });
  try {
    await traffic(u, 20);
    await waitFor(() => v2.seen.length === 40, 5000);
    const r = await report(u);
    assert.equal(r.totals.begun, 0);
    assert.equal(r.budget.peakBytes, 0);
    assert.equal(r.totals.unpaired.unmatched_mirror, 0, 'no mirror response was even offered for comparison');
    assert.deepEqual(r.groups, []);
    // Not even a database file is made.
    assert.equal(existsSync(join(u.dir, 'state', 'compare.sqlite')), false);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test('a baseline the rule does not mirror is reported as a configuration issue', async () => {
  const v1 = await startVersionedService('v1');
  const v2 = await startVersionedService('v2');
  const onlyV2 = `mirror:\n  host: app\n  subset: v2`;
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(onlyV2),
    'policy.yaml': comparePolicy(true),
  });
  try {
    const dump = (await (await request(`${u.adminUrl}/config_dump`)).body.json()) as {
      issues: { severity: string; message: string; file?: string }[];
    };
    const issue = dump.issues.find((i) => /baseline app subset v1 is not mirrored/.test(i.message));
    assert.ok(issue, JSON.stringify(dump.issues));
    assert.equal(issue.severity, 'warning');
    assert.match(issue.file ?? '', /vs\.yaml$/);
    // Comparison still runs, without noise measurement.
    await traffic(u, 5);
    const r = await waitFor(async () => {
      const x = await report(u);
      return x.groups.length === 2 && x.groups.every((g) => g.compared === 5) ? x : undefined;
    }, 10_000);
    assert.ok(
      r.groups.every((g) => g.baseline === undefined && g.differences.some((f) => f.field === '$.nonce')),
    );
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});
