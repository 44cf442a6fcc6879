// A real Umbra fed by the in-process API server: the seed's objects created, changed and deleted
// there change where real requests go (pods are real echo servers on 127.0.0.1, one port each); pods
// that become unready or go away leave the endpoints while an in-flight request still finishes; a
// dropped watch and a 410 Gone lose no update; a broken object is ignored without freezing the rest.

import { test } from 'node:test';
import { WATCHED_KINDS } from '../../src/kubernetes/kinds.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../helpers/cli.js';
import { onNamedTargetPort, podObject } from '../helpers/fake-kube-apiserver.js';
import { endpoints, get, published, startCluster } from '../helpers/kube-cluster.js';
import { startDelayServer, startEchoServer, waitFor, type TestServer } from '../helpers/servers.js';

type Json = Record<string, unknown> & { metadata: Record<string, unknown> };

const seed = (f: string): Json[] =>
  parseAllDocuments(readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8')).map((d) =>
    onNamedTargetPort(d.toJS() as Json),
  );

const rvOf = (o: Json) => String(o.metadata.resourceVersion);

const pod = (name: string, version: string, s: TestServer, extra: { ready?: boolean } = {}) =>
  podObject(name, { labels: { app: 'httpbin', version }, ports: { http: s.port }, ...extra }) as Json;

test("the seed's task, with every object in the API server: load balancing, route to v1, mirror to v2, clean-up", async () => {
  const [v1, v2] = await Promise.all([startEchoServer(), startEchoServer()]);
  const c = await startCluster([
    ...seed('service.yaml'),
    pod('httpbin-v1-7d9f', 'v1', v1),
    pod('httpbin-v2-5c4b', 'v2', v2),
  ]);
  try {
    // No routing rule: both versions, as Kubernetes load-balances.
    for (let i = 0; i < 4; i++) assert.equal((await get(c.umbra, `/lb/${i}`)).status, 200);
    assert.equal(v1.requests.length, 2);
    assert.equal(v2.requests.length, 2);

    // kubectl apply of route-v1.yaml: all traffic to v1.
    const [vs, dr] = seed('route-v1.yaml').map((o) => c.api.apply(o) as Json);
    await published(c.umbra, [
      { kind: 'VirtualService', name: 'httpbin', rv: rvOf(vs) },
      { kind: 'DestinationRule', name: 'httpbin', rv: rvOf(dr) },
    ]);
    for (let i = 0; i < 4; i++) assert.equal((await get(c.umbra, `/v1-only/${i}`)).status, 200);
    assert.equal(v1.requests.filter((r) => r.url.startsWith('/v1-only')).length, 4);
    assert.equal(v2.requests.filter((r) => r.url.startsWith('/v1-only')).length, 0);

    // kubectl apply of mirror.yaml: v1 answers, v2 gets a copy with the -shadow host.
    const [mirror] = seed('mirror.yaml').map((o) => c.api.apply(o) as Json);
    await published(c.umbra, [{ kind: 'VirtualService', name: 'httpbin', rv: rvOf(mirror) }]);
    const r = await get(c.umbra, '/headers');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers.host, 'httpbin:8000');
    const copy = await waitFor(() => v2.requests.find((x) => x.url === '/headers'), 5000);
    assert.equal(copy.headers.host, 'httpbin-shadow:8000');
    assert.ok(v1.requests.some((x) => x.url === '/headers'));

    // Clean-up as the seed does it: rules deleted, load balancing again.
    c.api.remove('VirtualService', 'default', 'httpbin');
    c.api.remove('DestinationRule', 'default', 'httpbin');
    await published(c.umbra, [
      { kind: 'VirtualService', name: 'httpbin' },
      { kind: 'DestinationRule', name: 'httpbin' },
    ]);
    for (let i = 0; i < 2; i++) await get(c.umbra, `/after-cleanup/${i}`);
    assert.equal(v1.requests.filter((x) => x.url.startsWith('/after-cleanup')).length, 1);
    assert.equal(v2.requests.filter((x) => x.url.startsWith('/after-cleanup')).length, 1);
    assert.ok(
      c.umbra.logs.some((l) => /applied from the API server/.test(l)),
      c.umbra.logs.join('\n'),
    );
  } finally {
    await c.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('pods come and go: an in-flight request finishes after its pod left; readiness and termination change the endpoints', async () => {
  const slow = await startDelayServer(1500);
  const [other, late] = await Promise.all([startEchoServer(), startEchoServer()]);
  const c = await startCluster([...seed('service.yaml'), pod('slow', 'v1', slow)]);
  try {
    assert.deepEqual(endpoints(c.umbra), ['slow']);
    // A request lands on the slow pod; while it is in flight the pod is deleted and another comes up.
    let finished = false;
    const pending = get(c.umbra, '/inflight').finally(() => (finished = true));
    await waitFor(() => slow.requests.length === 1, 5000);
    c.api.remove('Pod', 'default', 'slow');
    c.api.apply(pod('other', 'v2', other));
    await waitFor(() => endpoints(c.umbra).join() === 'other', 5000);
    assert.equal(finished, false, 'the swap happened while the request was in flight');
    const done = await pending;
    assert.equal(done.status, 200, 'the in-flight request still finished');
    assert.equal(JSON.parse(done.body).path, '/inflight');
    for (let i = 0; i < 3; i++) assert.equal((await get(c.umbra, `/after/${i}`)).status, 200);
    assert.equal(slow.requests.length, 1, 'nothing new reaches the deleted pod');
    assert.equal(other.requests.length, 3);

    // A pod that is not Ready yet receives nothing; once Ready it does.
    c.api.apply(pod('late', 'v2', late, { ready: false }));
    // The endpoint controller lists it with ready=false: once Umbra has that slice, still no traffic.
    await waitFor(
      () =>
        c.umbra.state.resources.some(
          (r) => r.kind === 'EndpointSlice' && JSON.stringify(r.spec).includes('"name":"late"'),
        ),
      5000,
    );
    assert.deepEqual(endpoints(c.umbra), ['other']);
    c.api.apply(pod('late', 'v2', late));
    await waitFor(() => endpoints(c.umbra).join() === 'late,other', 5000);

    // Terminating (deletionTimestamp set): its slice endpoint turns ready=false, terminating=true;
    // out as soon as that slice arrives (the Pod's own event may come first: it moves nothing).
    const terminating = pod('late', 'v2', late);
    terminating.metadata.deletionTimestamp = '2024-01-01T00:00:00Z';
    c.api.apply(terminating);
    await waitFor(() => endpoints(c.umbra).join() === 'other', 5000);

    // No pod left: a local 503, not a hang.
    c.api.remove('Pod', 'default', 'other');
    c.api.remove('Pod', 'default', 'late');
    await waitFor(() => endpoints(c.umbra).length === 0, 5000);
    assert.equal((await get(c.umbra, '/nobody')).status, 503);
  } finally {
    await c.close();
    await Promise.all([slow.close(), other.close(), late.close()]);
  }
});

test('a dropped watch recovers without losing the update made while it was down', async () => {
  const [v1, v2] = await Promise.all([startEchoServer(), startEchoServer()]);
  const c = await startCluster([
    ...seed('service.yaml'),
    pod('httpbin-v1', 'v1', v1),
    pod('httpbin-v2', 'v2', v2),
    ...seed('route-v1.yaml'),
  ]);
  try {
    await get(c.umbra, '/before');
    assert.equal(v1.requests.length, 1);
    const kinds = WATCHED_KINDS.length;
    await waitFor(() => c.api.openWatches() === kinds, 5000);
    const listsBefore = c.api.calls('virtualservices', false).length;
    c.api.holdWatches();
    assert.equal(c.api.dropWatches(), kinds, 'every kind had its watch');
    // While Umbra is disconnected, the route is switched to v2.
    const vs = seed('route-v1.yaml')[0];
    (
      vs.spec as { http: { route: { destination: { subset: string } }[] }[] }
    ).http[0].route[0].destination.subset = 'v2';
    const applied = c.api.apply(vs) as Json;
    c.api.releaseWatches();
    await published(c.umbra, [{ kind: 'VirtualService', name: 'httpbin', rv: rvOf(applied) }]);
    assert.equal((await get(c.umbra, '/after')).status, 200);
    assert.equal(v2.requests.filter((r) => r.url === '/after').length, 1);
    assert.equal(v1.requests.filter((r) => r.url === '/after').length, 0);
    assert.equal(
      c.api.calls('virtualservices', false).length,
      listsBefore,
      'resumed from its resourceVersion, no relist',
    );
    const view = (await (await request(`${c.umbra.adminUrl}/kubernetes`)).body.json()) as {
      informers: { kind: string; restarts: number; synced: boolean }[];
    };
    assert.ok(view.informers.find((i) => i.kind === 'VirtualService')!.restarts >= 1);
    assert.ok(view.informers.every((i) => i.synced));
  } finally {
    await c.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('410 Gone while disconnected: Umbra relists and notices a pod deleted meanwhile', async () => {
  const [v1, v2] = await Promise.all([startEchoServer(), startEchoServer()]);
  const c = await startCluster([
    ...seed('service.yaml'),
    pod('httpbin-v1', 'v1', v1),
    pod('httpbin-v2', 'v2', v2),
  ]);
  try {
    assert.deepEqual(endpoints(c.umbra), ['httpbin-v1', 'httpbin-v2']);
    await waitFor(() => c.api.openWatches('pods') === 1, 5000);
    c.api.holdWatches();
    c.api.dropWatches();
    c.api.remove('Pod', 'default', 'httpbin-v1');
    c.api.compact();
    c.api.releaseWatches();
    await waitFor(() => endpoints(c.umbra).join() === 'httpbin-v2', 5000);
    assert.equal(c.api.calls('pods', false).length, 2, 'one relist after the 410');
    for (let i = 0; i < 3; i++) assert.equal((await get(c.umbra, `/g/${i}`)).status, 200);
    assert.equal(v2.requests.length, 3);
    assert.equal(v1.requests.length, 0);
  } finally {
    await c.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('an object with errors is ignored and reported; everything else keeps updating', async () => {
  const [v1, v2, v3] = await Promise.all([startEchoServer(), startEchoServer(), startEchoServer()]);
  const c = await startCluster([
    ...seed('service.yaml'),
    pod('httpbin-v1', 'v1', v1),
    pod('httpbin-v2', 'v2', v2),
  ]);
  try {
    // Schema error (what a missing validating webhook lets through) and a reference error.
    const [badMirror] = seed('mirror.yaml');
    badMirror.metadata.name = 'bad-percent';
    (
      badMirror.spec as { hosts: string[]; http: { mirrorPercentage: { value: number } }[] }
    ).http[0].mirrorPercentage.value = 101;
    (badMirror.spec as { hosts: string[] }).hosts = ['other-host'];
    c.api.apply(badMirror);
    const [routeToV1] = seed('route-v1.yaml');
    const vs = c.api.apply(routeToV1) as Json; // subset v1 has no DestinationRule yet: an error
    const p3 = c.api.apply(
      podObject('httpbin-v3', { labels: { app: 'httpbin', version: 'v3' }, ports: { http: v3.port } }),
    ) as Json;
    await waitFor(() => endpoints(c.umbra).includes('httpbin-v3'), 5000);
    assert.ok(p3);
    const issues = c.umbra.state.issues.map((i) => `${i.severity} ${i.resource} ${i.path}: ${i.message}`);
    assert.ok(
      issues.some((i) =>
        /^warning VirtualService default\/bad-percent spec\.http\[0\]\.mirrorPercentage\.value: object ignored: /.test(
          i,
        ),
      ),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => /^warning VirtualService default\/httpbin .*object ignored: subset "v1"/.test(i)),
      issues.join('\n'),
    );
    assert.equal(
      c.umbra.state.resources.find((r) => r.kind === 'VirtualService'),
      undefined,
    );
    // The missing DestinationRule arrives: the route becomes valid and is served.
    c.api.apply(seed('route-v1.yaml')[1]);
    await published(c.umbra, [{ kind: 'VirtualService', name: 'httpbin', rv: rvOf(vs) }]);
    for (let i = 0; i < 3; i++) await get(c.umbra, `/v1/${i}`);
    assert.equal(v1.requests.filter((r) => r.url.startsWith('/v1/')).length, 3);
  } finally {
    await c.close();
    await Promise.all([v1.close(), v2.close(), v3.close()]);
  }
});
