// The secrets case: the comparison example of docs/comparison.md (the policy removes
// authorization and cookie from the candidate's copy) in front of the built-in httpbin, whose
// /headers echoes request headers in its body. After 30 requests carrying a bearer token and a
// session cookie, neither appears in any admin answer nor in any file under the state directory,
// the database is 0600 in a 0700 directory, and the policy's own removal is not a difference.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Pool, request } from 'undici';
import { startHttpbin } from '../../src/workloads/httpbin.js';
import { twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { waitFor } from '../helpers/servers.js';
import type { ComparisonReport } from '../../src/compare/comparison-engine.js';
import { scratchDir } from '../helpers/scratch.js';

const TOKEN = 'sk-live-0123456789abcdefSECRET';
const COOKIE = 'sess-9f8e7d6c5b4aCOOKIEVALUE';

const RULE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts: [app]
  http:
  - route:
    - destination: { host: app, subset: v1 }
    mirrors:
    - destination: { host: app, subset: v1 }
    - destination: { host: app, subset: v2 }
---
apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata:
  name: app-v2
spec:
  targetRefs:
  - { group: networking.istio.io, kind: DestinationRule, name: app, sectionName: v2 }
  headers:
    remove: [authorization, cookie]
  compare:
    enabled: true
    baseline: { host: app, subset: v1 }
`;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

test('a token the policy strips appears in no answer and no state file; its removal is no difference', async () => {
  const quiet = () => undefined;
  const v1 = await startHttpbin({ name: 'httpbin-v1', log: quiet });
  const v2 = await startHttpbin({ name: 'httpbin-v2', log: quiet });
  const stateDir = join(scratchDir('umbra-secrets-'), 'state');
  const u = await startTestUmbra(
    { 'mesh.yaml': twoVersionService(v1.port, v2.port), 'rule.yaml': RULE },
    { stateDir },
  );
  try {
    const pool = new Pool(u.proxyUrl, { connections: 4 });
    for (let i = 0; i < 30; i++) {
      const r = await pool.request({
        path: i % 2 === 0 ? '/headers' : '/anything/x',
        method: 'GET',
        headers: {
          host: 'app:8000',
          authorization: `Bearer ${TOKEN}`,
          cookie: `theme=dark; session=${COOKIE}`,
        },
      });
      const body = await r.body.text();
      assert.equal(r.statusCode, 200);
      assert.ok(body.includes(TOKEN), 'the client itself gets v1’s echo, token included');
    }
    await pool.close();
    const report = await waitFor(async () => {
      const r = await request(`${u.adminUrl}/compare/report`);
      const j = (await r.body.json()) as ComparisonReport;
      return j.groups.length === 2 && j.groups.every((g) => g.compared === 15) ? j : undefined;
    }, 15_000);
    // Every admin answer that could carry it: the report, each group's samples, the dump, resources.
    const answers: string[] = [JSON.stringify(report)];
    for (const g of report.groups) {
      const s = await request(`${u.adminUrl}/compare/samples?group=${encodeURIComponent(g.key)}`);
      const text = await s.body.text();
      assert.equal(s.statusCode, 200);
      assert.match(text, /\[redacted\]/, 'the echoed Authorization is shown redacted');
      answers.push(text);
    }
    for (const p of ['/config_dump', '/clusters', '/apis/resources', '/stats/prometheus'])
      answers.push(await (await request(`${u.adminUrl}${p}`)).body.text());
    for (const a of answers) {
      assert.ok(
        !a.includes(TOKEN),
        `token leaked: ${a.slice(Math.max(0, a.indexOf(TOKEN) - 200), a.indexOf(TOKEN) + 50)}`,
      );
      assert.ok(!a.includes(COOKIE), 'cookie leaked');
    }
    // The removal itself is not a difference: no field under the removed headers, no "different" request.
    for (const g of report.groups) {
      const fields = [...g.differences, ...g.noise, ...g.minor].map((f) => f.field);
      assert.ok(!fields.some((f) => /authorization|cookie/i.test(f)), `${g.endpoint}: ${fields.join(', ')}`);
      assert.equal(g.different, 0, `${g.endpoint}: ${JSON.stringify(g.differences)}`);
    }

    // Saved (every 2 s and at close), then every file under the state directory is searched, raw.
    await u.close();
    const files = filesUnder(stateDir);
    const db = files.find((f) => f.endsWith('compare.sqlite'));
    assert.ok(db, `a database was written: ${files.join(', ')}`);
    for (const f of files) {
      const bytes = readFileSync(f);
      assert.ok(!bytes.includes(TOKEN), `token in ${f}`);
      assert.ok(!bytes.includes(COOKIE), `cookie in ${f}`);
      assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`);
    }
    assert.equal(statSync(stateDir).mode & 0o777, 0o700, 'the state directory is 0700');
  } finally {
    await u.close().catch(() => undefined);
    await v1.close();
    await v2.close();
    rmSync(dirname(stateDir), { recursive: true, force: true });
  }
});
