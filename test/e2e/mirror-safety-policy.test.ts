// Issue 5: what a MirrorPolicy promises, end to end — credentials stripped and a marker added on the
// copy only, a GET-only policy, counters that add up, per-mirror body budgets (policy and defaults),
// the breaker's pause and recovery, and loop protection (marked copies, Umbra behind Umbra, a mirror
// into Umbra's own listener refused).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { freePort, startEchoServer, startHungServer, waitFor, type TestServer } from '../helpers/servers.js';
import { MIRROR_V2, routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { mirrorPolicy, patternBytes, scrape, sumOf } from '../helpers/mirror-safety.js';
import { startTestUmbra, workloadEntry, type TestUmbra } from '../helpers/umbra.js';
import { StartupError } from '../../src/runtime/umbra.js';
import type { MirrorCounters } from '../../src/model/mirror-stats.js';
import { MirrorMarker } from '../../src/proxy/mirror-marker.js';

const NAME = 'app.default|v2';
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

async function mesh(
  v2: TestServer | number,
  policy: string | undefined,
  fn: (u: TestUmbra, v1: TestServer) => Promise<void>,
  mirror = MIRROR_V2,
  extra: Parameters<typeof startTestUmbra>[1] = {},
): Promise<void> {
  const v1 = await startEchoServer();
  const files: Record<string, string> = {
    'mesh.yaml': twoVersionService(v1.port, typeof v2 === 'number' ? v2 : v2.port),
    'vs.yaml': routeToV1(mirror),
  };
  if (policy !== undefined) files['policy.yaml'] = mirrorPolicy(policy);
  const u = await startTestUmbra(files, extra).catch(async (e: unknown) => {
    await v1.close();
    if (typeof v2 !== 'number') await v2.close();
    throw e;
  });
  try {
    await fn(u, v1);
  } finally {
    await u.close();
    await v1.close();
    if (typeof v2 !== 'number') await v2.close();
  }
}

function counters(u: TestUmbra): MirrorCounters {
  const c = u.proxy.mirrors.counters.get(NAME);
  assert.ok(c, 'the mirror has counters');
  return c;
}

async function send(
  u: TestUmbra,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | Readable,
): Promise<number> {
  const r = await request(`${u.proxyUrl}${path}`, {
    method: method as 'GET',
    headers: { host: 'app:8000', ...headers },
    body,
  });
  await r.body.text();
  return r.statusCode;
}

test('credentials are stripped and the marker added on the copy only', async () => {
  const v2 = await startEchoServer();
  const policy = `headers:
  remove: [Authorization, Cookie]
  set:
  - {name: x-shadow-copy, value: "true"}
  - {name: x-umbra-mirror, value: forged-by-policy}`;
  await mesh(v2, policy, async (u, v1) => {
    const creds = {
      authorization: 'Bearer secret-token',
      cookie: 'session=s3cr3t; theme=dark',
      'x-request-id': 'cred-1',
    };
    assert.equal(await send(u, 'GET', '/account', creds), 200);
    const copy = await waitFor(() => v2.requests[0], 3000);
    const primary = v1.requests[0];
    // The primary is untouched: credentials kept, no marker, no policy header.
    assert.equal(primary.headers.authorization, 'Bearer secret-token');
    assert.equal(primary.headers.cookie, 'session=s3cr3t; theme=dark');
    assert.equal(primary.headers['x-umbra-mirror'], undefined);
    assert.equal(primary.headers['x-shadow-copy'], undefined);
    // The copy: no credentials, the policy's header, and the marker naming the mirror (a policy cannot replace it).
    assert.equal(copy.headers.authorization, undefined);
    assert.equal(copy.headers.cookie, undefined);
    assert.equal(copy.headers['x-shadow-copy'], 'true');
    assert.equal(copy.headers['x-umbra-mirror'], NAME);
    assert.equal(copy.rawHeaders.filter((h) => h.toLowerCase() === 'x-umbra-mirror').length, 1);
    assert.equal(copy.headers['x-request-id'], 'cred-1');
    assert.equal(copy.headers.host, 'app-shadow:8000');
  });
});

test('a GET-only policy leaves a POST unmirrored and counts it', async () => {
  const v2 = await startEchoServer();
  await mesh(v2, 'methods: [GET, HEAD]', async (u, v1) => {
    assert.equal(
      await send(u, 'POST', '/orders', { 'content-type': 'application/json' }, Buffer.from('{"qty":1}')),
      200,
    );
    assert.equal(await send(u, 'GET', '/orders/1'), 200);
    assert.equal(await send(u, 'HEAD', '/orders/1'), 200);
    assert.equal(await send(u, 'DELETE', '/orders/1'), 200);
    assert.deepEqual(
      v1.requests.map((r) => r.method),
      ['POST', 'GET', 'HEAD', 'DELETE'],
    );
    await waitFor(() => v2.requests.length === 2 && counters(u).inFlight === 0, 3000);
    assert.deepEqual(
      v2.requests.map((r) => `${r.method} ${r.url}`),
      ['GET /orders/1', 'HEAD /orders/1'],
    );
    const c = counters(u);
    assert.equal(c.dropped.method, 2);
    assert.equal(c.sent, 2);
    const { samples } = await scrape(u.adminUrl);
    assert.equal(sumOf(samples, 'umbra_mirror_dropped_total', { mirror: NAME, reason: 'method' }), 2);
  });
});

test('after N requests, sent + dropped + skipped = N, in the counters and on /stats/prometheus', async () => {
  // A hung mirror (copies stay in flight), at most 8 in flight, GET and POST only, 50 %.
  const v2 = await startHungServer();
  const N = 300;
  await mesh(
    v2,
    'timeout: 30s\nmaxInFlight: 8\nmethods: [GET, POST]\nbreaker:\n  consecutiveFailures: 1000',
    async (u) => {
      const methods = ['GET', 'POST', 'PUT', 'GET', 'DELETE', 'POST'];
      for (let i = 0; i < N; i++) {
        const m = methods[i % methods.length];
        assert.equal(
          await send(u, m, `/r/${i}`, {}, m === 'POST' || m === 'PUT' ? Buffer.from(`body ${i}`) : undefined),
          200,
        );
      }
      const c = counters(u);
      assert.equal(c.considered, N);
      assert.equal(c.sent + sum(c.dropped) + c.skipped, N);
      assert.equal(c.dropped.method, N / 3, 'PUT and DELETE are a third of the requests');
      assert.equal(c.sent, 8, 'eight copies hang at the mirror');
      assert.equal(c.inFlight, 8);
      assert.ok(c.dropped.in_flight_cap > 0);
      assert.equal(c.sampled, c.sent + c.dropped.in_flight_cap + c.dropped.breaker);
      // Stratified 50 %: the sampled share of the 200 eligible requests is within a couple of 100.
      assert.ok(Math.abs(c.sampled - 100) <= 2, `sampled ${c.sampled}`);
      assert.equal(v2.requests.length, 8);

      const { samples } = await scrape(u.adminUrl);
      const m = { mirror: NAME };
      const sent = sumOf(samples, 'umbra_mirror_sent_total', m);
      const dropped = sumOf(samples, 'umbra_mirror_dropped_total', m);
      const skipped = sumOf(samples, 'umbra_mirror_skipped_total', m);
      assert.equal(sumOf(samples, 'umbra_mirror_requests_total', m), N);
      assert.equal(sent + dropped + skipped, N);
      assert.equal(sumOf(samples, 'umbra_mirror_in_flight', m), 8);
      assert.equal(sumOf(samples, 'istio_requests_total', { mirror: 'false', response_code: '200' }), N);
    },
    `${MIRROR_V2}\nmirrorPercentage:\n  value: 50`,
  );
});

/** A mirror that never reads: its connection takes what the kernel buffers, then nothing. */
async function startBlackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer({ pauseOnConnect: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

for (const [how, policy, extra] of [
  ['the policy', 'totalBodyBufferBytes: 131072', {}],
  [
    'the defaults (umbra run --mirror-total-body-buffer)',
    undefined,
    { mirror: { totalBodyBufferBytes: 131072 } },
  ],
] as const) {
  // The copy may lag 4 MiB (the default per copy), but all copies of this mirror only 128 KiB.
  test(`totalBodyBufferBytes from ${how}: a copy that would hold more is dropped as body_budget`, async () => {
    const hole = await startBlackHole();
    try {
      await mesh(
        hole.port,
        policy,
        async (u, v1) => {
          // 16 MiB: more than the kernel buffers of a connection nobody reads, so the copy must buffer.
          const body = patternBytes(16 * 1024 * 1024, 7);
          assert.equal(
            await send(u, 'POST', '/big', { 'content-type': 'application/octet-stream' }, body),
            200,
          );
          assert.equal(v1.requests[0].bodyBytes, body.length);
          const c = counters(u);
          await waitFor(() => c.inFlight === 0, 5000);
          assert.deepEqual(
            { budget: c.dropped.body_budget, limit: c.dropped.body_limit, sent: c.sent },
            { budget: 1, limit: 0, sent: 0 },
          );
          // Nothing stays counted once the copy is gone.
          assert.equal(u.proxy.budget.used, 0);
          const { samples } = await scrape(u.adminUrl);
          assert.equal(sumOf(samples, 'umbra_mirror_body_buffered_bytes'), 0);
          assert.equal(
            sumOf(samples, 'umbra_mirror_dropped_total', { mirror: NAME, reason: 'body_budget' }),
            c.dropped.body_budget,
          );
        },
        MIRROR_V2,
        extra,
      );
    } finally {
      await hole.close();
    }
  });
}

test('an upload in small chunks is mirrored whole to a mirror that keeps up, past the per-copy limit', async () => {
  // 8 MiB in 8 KiB pieces against a 1 MiB per-copy limit: the limit bounds what the copy holds
  // unsent, not what it has sent, so a mirror that keeps up gets all of it.
  const v2 = await startEchoServer();
  await mesh(v2, 'bodyBufferBytes: 1048576', async (u, v1) => {
    const body = patternBytes(8 * 1024 * 1024, 3);
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let i = 0; i < body.length; i += 8192) {
        if (i % (64 * 8192) === 0) await new Promise((r) => setTimeout(r, 1));
        yield body.subarray(i, i + 8192);
      }
    }
    assert.equal(await send(u, 'PUT', '/pieces', {}, Readable.from(pieces())), 200);
    const c = counters(u);
    // The copy ends (completed or dropped) once its body is through: then judge it.
    await waitFor(() => c.inFlight === 0, 30_000);
    assert.equal(sum(c.dropped), 0, `the copy was dropped: ${JSON.stringify(c.dropped)}`);
    const copy = await waitFor(() => (v2.requests[0]?.completed ? v2.requests[0] : undefined), 10_000);
    assert.equal(copy.bodySha256, v1.requests[0].bodySha256);
    assert.equal(copy.bodyBytes, body.length);
    assert.equal(c.sent, 1);
  });
});

test('the breaker pauses a refusing mirror, probes after the cool-down, and closes when it is back', async () => {
  const port = await freePort();
  // A cool-down long enough that ten requests fit in it on a busy machine (no probe among them).
  await mesh(port, 'breaker:\n  consecutiveFailures: 3\n  cooldown: 2s', async (u) => {
    // Sequential requests: each refused copy has failed before the next request is admitted.
    for (let i = 0; i < 10; i++) {
      assert.equal(await send(u, 'GET', `/a/${i}`), 200);
      await waitFor(() => counters(u).inFlight === 0, 2000);
    }
    const c = counters(u);
    assert.equal(c.failed.connect, 3);
    assert.equal(c.dropped.breaker, 7);
    const clusters = async () =>
      (await (await request(`${u.adminUrl}/clusters`)).body.json()) as {
        mirrors: { name: string; breaker: string }[];
        clusters: { name: string; mirroredBy: { mirror: string; breaker: string }[] }[];
      };
    assert.equal((await clusters()).mirrors.find((m) => m.name === NAME)?.breaker, 'open');
    const v2cluster = (await clusters()).clusters.find((x) => x.name.includes('|v2|'));
    assert.deepEqual(
      v2cluster?.mirroredBy.map((m) => m.mirror),
      [NAME],
    );

    // The mirror comes back on the same port; after the cool-down one probe goes through and closes it.
    const revived = await listenOn(port);
    try {
      await waitFor(
        async () => (await clusters()).mirrors.find((m) => m.name === NAME)?.breaker === 'half-open',
        10_000,
      );
      for (let i = 0; i < 5; i++) {
        assert.equal(await send(u, 'GET', `/b/${i}`), 200);
        await waitFor(() => c.inFlight === 0, 2000);
      }
      assert.equal(revived.count(), 5, 'the probe and every copy after it reached the mirror');
      assert.equal(c.completed['2xx'], 5);
      assert.equal((await clusters()).mirrors.find((m) => m.name === NAME)?.breaker, 'closed');
      const { samples } = await scrape(u.adminUrl);
      assert.equal(sumOf(samples, 'umbra_mirror_breaker_open', { mirror: NAME }), 0);
    } finally {
      await revived.close();
    }
  });
});

/** An HTTP server on a given port that answers 200 and counts requests. */
async function listenOn(port: number): Promise<{ count(): number; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  return {
    count: () => n,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

test('a request that is already a copy is never mirrored again', async () => {
  const v2 = await startEchoServer();
  await mesh(v2, undefined, async (u, v1) => {
    // A copy made by an Umbra of this run (same secret): marker and its proof.
    const proof = new MirrorMarker().proof();
    assert.equal(
      await send(u, 'GET', '/copied', {
        'x-umbra-mirror': 'some-other-umbra',
        'x-umbra-mirror-proof': proof,
        'x-request-id': 'copied-1',
      }),
      200,
    );
    assert.equal(await send(u, 'GET', '/fresh'), 200);
    await waitFor(() => v2.requests.length === 1 && counters(u).inFlight === 0, 3000);
    assert.deepEqual(
      v1.requests.map((r) => r.url),
      ['/copied', '/fresh'],
    );
    assert.deepEqual(
      v2.requests.map((r) => r.url),
      ['/fresh'],
    );
    assert.equal(counters(u).dropped.loop, 1);
  });
});

test('Umbra behind Umbra: the second one forwards the copy but does not copy it again', async () => {
  // B: app → v1B, mirrored to v2B.
  const v2b = await startEchoServer();
  await mesh(v2b, undefined, async (b, v1b) => {
    // A: app → v1A, mirrored to "v2", which is B's listener; the copy keeps its Host so B routes it.
    const v1a = await startEchoServer();
    const a = await startTestUmbra({
      'mesh.yaml': twoVersionService(v1a.port, b.listener.address.port),
      'vs.yaml': routeToV1(MIRROR_V2),
      'policy.yaml': mirrorPolicy('authority:\n  mode: Keep'),
    });
    try {
      assert.equal(
        await request(`${a.proxyUrl}/chain`, {
          headers: { host: 'app:8000', 'x-request-id': 'chain-1' },
        }).then(async (r) => (await r.body.text(), r.statusCode)),
        200,
      );
      await waitFor(() => v1b.requests.length === 1 && counters(b).considered === 1, 3000);
      assert.equal(v1a.requests[0].headers['x-umbra-mirror'], undefined);
      assert.equal(v1b.requests[0].headers['x-umbra-mirror'], NAME, 'B received A’s copy');
      assert.equal(v1b.requests[0].headers['x-request-id'], 'chain-1');
      assert.equal(counters(b).dropped.loop, 1, 'B did not copy a copy');
      assert.equal(v2b.requests.length, 0);
    } finally {
      await a.close();
      await v1a.close();
    }
  });
});

test("a mirror into Umbra's own listener is refused at load, with file and line", async () => {
  const v1 = await startEchoServer();
  const port = await freePort();
  try {
    await assert.rejects(
      startTestUmbra(
        { 'mesh.yaml': twoVersionService(v1.port, port), 'vs.yaml': routeToV1(MIRROR_V2) },
        { listen: { host: '127.0.0.1', port } },
      ),
      (e: unknown) => {
        assert.ok(e instanceof StartupError);
        const issue = e.issues.find((i) => i.message.includes("Umbra's own listener"));
        assert.ok(issue, e.message);
        assert.equal(issue.severity, 'error');
        assert.equal(issue.resource, 'VirtualService default/app');
        assert.equal(issue.path, 'spec.http[0].mirror');
        assert.match(issue.file ?? '', /vs\.yaml$/);
        assert.equal(issue.line, routeToV1(MIRROR_V2).split('\n').indexOf('    mirror:') + 1);
        return true;
      },
    );
  } finally {
    await v1.close();
  }

  // Listening on port 0, the address is known once bound: a later change that points a mirror at it is refused too.
  const v2 = await startEchoServer();
  await mesh(v2, undefined, async (u) => {
    const self = workloadEntry('app-v2', u.listener.address.port, { app: 'app', version: 'v2' });
    const r = await request(`${u.adminUrl}/apis/apply?source=self.yaml`, {
      method: 'POST',
      body: self,
      headers: { 'content-type': 'application/yaml' },
    });
    const json = (await r.body.json()) as {
      applied: boolean;
      issues: { message: string; severity: string }[];
    };
    assert.equal(r.statusCode, 422);
    assert.equal(json.applied, false);
    assert.ok(
      json.issues.some((i) => i.severity === 'error' && i.message.includes("Umbra's own listener")),
      JSON.stringify(json.issues),
    );
    // Still serving the old table, mirror and all.
    assert.equal(await send(u, 'GET', '/still'), 200);
    await waitFor(() => v2.requests.length === 1, 3000);
  });
});
