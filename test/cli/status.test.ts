// `umbra status` and the admin views behind it: /clusters shows endpoints with health, primary and
// mirror requests in flight, and the breaker of each mirror aimed at a cluster; /config_dump keeps
// the issues of a rejected load; status prints all of it as a short summary.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { runCli } from '../helpers/cli.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startEchoServer, startHungServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';

interface ClustersView {
  clusters: {
    name: string;
    endpoints: {
      address: string;
      workload: string;
      health: string;
      inFlight: number;
      mirrorInFlight: number;
    }[];
    mirroredBy: { mirror: string; breaker: string; inFlight: number }[];
  }[];
  mirrors: { name: string; cluster: string; breaker: string; inFlight: number; sent: number }[];
}

test('/clusters and umbra status: endpoints, copies in flight, breakers, counters, a rejected load', async () => {
  const v1 = await startEchoServer();
  const v2 = await startHungServer();
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(`${MIRROR_V2}\nmirrorPercentage:\n  value: 100`),
  });
  try {
    for (let i = 0; i < 3; i++)
      await (await request(`${u.proxyUrl}/s/${i}`, { headers: { host: 'app:8000' } })).body.text();
    await waitFor(() => v2.requests.length === 3, 3000);

    const view = (await (await request(`${u.adminUrl}/clusters`)).body.json()) as ClustersView;
    const v2c = view.clusters.find((c) => c.name === 'outbound|8000|v2|app.default.svc.cluster.local')!;
    assert.deepEqual(
      v2c.endpoints.map((e) => ({
        address: e.address,
        workload: e.workload,
        health: e.health,
        inFlight: e.inFlight,
        mirrorInFlight: e.mirrorInFlight,
      })),
      [
        {
          address: `127.0.0.1:${v2.port}`,
          workload: 'default/app-v2',
          health: 'healthy',
          inFlight: 0,
          mirrorInFlight: 3,
        },
      ],
    );
    assert.deepEqual(v2c.mirroredBy, [{ mirror: 'app.default|v2', breaker: 'closed', inFlight: 3 }]);
    const v1c = view.clusters.find((c) => c.name === 'outbound|8000|v1|app.default.svc.cluster.local')!;
    assert.equal(v1c.endpoints[0].mirrorInFlight, 0);
    assert.deepEqual(
      view.mirrors.map((m) => ({
        name: m.name,
        cluster: m.cluster,
        breaker: m.breaker,
        inFlight: m.inFlight,
        sent: m.sent,
      })),
      [{ name: 'app.default|v2', cluster: v2c.name, breaker: 'closed', inFlight: 3, sent: 3 }],
    );

    // A broken change: rejected, the old table keeps serving, and the reason stays visible.
    u.write('vs.yaml', routeToV1(`${MIRROR_V2}\nmirrorPercentage:\n  value: 150`));
    await waitFor(() => u.state.lastLoad && !u.state.lastLoad.applied, 3000);

    const r = await runCli(['status', '--admin', u.adminUrl]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^config v\d+ in service/);
    assert.match(
      r.stdout,
      /last load v\d+ REJECTED \(1 error\), still serving v\d+:\n {2}.*vs\.yaml:\d+: VirtualService default\/app spec\.http\[0\]\.mirrorPercentage\.value: /,
    );
    assert.ok(lines.includes('routes:'));
    assert.ok(
      lines.some((l) =>
        /^ {2}app\.default\.svc\.cluster\.local:8000 \S+ → outbound\|8000\|v1\|app\.default\.svc\.cluster\.local$/.test(
          l,
        ),
      ),
      r.stdout,
    );
    assert.ok(
      lines.includes('      mirror app.default|v2 100% → outbound|8000|v2|app.default.svc.cluster.local'),
      r.stdout,
    );
    assert.ok(
      lines.includes(
        '  mirror app.default|v2: sent 3, skipped 0, dropped 0 (-) of 3; in flight 3, breaker closed',
      ),
      r.stdout,
    );
    assert.ok(lines.includes('      answered -; failed 0 (-)'), r.stdout);
    assert.match(r.stdout, /clusters: 2, endpoints: 2, all healthy\n$/);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});
