// The list+watch loop against the in-process API server: chunked lists, watch from the list's
// resourceVersion with bookmarks, a dropped connection resumed without losing the change made while
// it was down, 410 Gone answered by a relist (both as an ERROR event and as a plain 410), bookmarks
// that keep the resourceVersion fresh, a kind the server does not serve, and server-side timeouts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { Backoff } from '../../src/kubernetes/backoff.js';
import { Informer } from '../../src/kubernetes/informer.js';
import { KubeHttp } from '../../src/kubernetes/kube-http.js';
import { findKind, objectPath, WATCHED_KINDS } from '../../src/kubernetes/kinds.js';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { waitFor } from '../helpers/servers.js';
import { scratchDir } from '../helpers/scratch.js';

const SERVICES = WATCHED_KINDS.find((k) => k.kind === 'Service')!;

function service(name: string, port = 80, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', labels },
    spec: { ports: [{ name: 'http', port }], selector: { app: name } },
  };
}

interface Harness {
  api: FakeKubeApiServer;
  http: KubeHttp;
  informer: Informer;
  events: { content: boolean }[];
  logs: string[];
  close(): Promise<void>;
}

async function harness(
  opts: {
    pageSize?: number;
    watchTimeoutSeconds?: number;
    kind?: string;
    namespace?: string | null;
    notServedRetryMs?: number;
  } = {},
  setup?: (api: FakeKubeApiServer) => void,
): Promise<Harness> {
  const api = await FakeKubeApiServer.start();
  // These checks count resourceVersions of Services alone: no EndpointSlices written alongside.
  api.endpointController = false;
  setup?.(api);
  const dir = scratchDir('umbra-informer-');
  const kc = new KubeConfig();
  kc.loadFromFile(api.writeKubeconfig(dir));
  const events: { content: boolean }[] = [];
  const logs: string[] = [];
  const kind = opts.kind ? WATCHED_KINDS.find((k) => k.kind === opts.kind)! : SERVICES;
  const http = new KubeHttp(kc);
  const informer = new Informer({
    kind,
    namespace: opts.namespace === null ? undefined : (opts.namespace ?? 'default'),
    http,
    watch: new Watch(kc),
    log: (l) => logs.push(l),
    onEvent: (_k, content) => events.push({ content }),
    backoff: { initialMs: 20, maxMs: 200 },
    watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
    pageSize: opts.pageSize,
    notServedRetryMs: opts.notServedRetryMs,
  });
  informer.start();
  await informer.synced;
  return {
    api,
    http,
    informer,
    events,
    logs,
    async close() {
      await informer.stop();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const names = (i: Informer) => [...i.objects.values()].map((o) => o.metadata.name).sort();
const portOf = (i: Informer, name: string) =>
  (i.objects.get(`default/${name}`)?.spec as { ports: { port: number }[] }).ports[0].port;

test('lists in chunks, then watches from the list resourceVersion with bookmarks, and follows changes', async () => {
  const h = await harness({ pageSize: 2 }, (api) => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) api.apply(service(n));
    api.apply({ ...service('elsewhere'), metadata: { name: 'elsewhere', namespace: 'other' } });
  });
  try {
    assert.deepEqual(names(h.informer), ['a', 'b', 'c', 'd', 'e']);
    const lists = h.api.calls('services', false);
    assert.equal(lists.length, 3, 'five objects in pages of two');
    assert.equal(lists[0].query.get('limit'), '2');
    assert.ok(lists[1].query.get('continue'));
    assert.equal(lists[0].path, '/api/v1/namespaces/default/services');
    // List items come without apiVersion/kind; the informer fills them in.
    assert.equal(h.informer.objects.get('default/a')?.kind, 'Service');
    assert.equal(h.informer.objects.get('default/a')?.apiVersion, 'v1');

    await waitFor(() => h.api.openWatches('services') === 1, 5000);
    const w = h.api.calls('services', true)[0];
    assert.equal(w.query.get('resourceVersion'), h.api.resourceVersion);
    assert.equal(w.query.get('allowWatchBookmarks'), 'true');
    assert.ok(Number(w.query.get('timeoutSeconds')) >= 300);

    h.api.apply(service('f'));
    h.api.apply(service('a', 8080));
    h.api.remove('Service', 'default', 'b');
    await waitFor(() => names(h.informer).join() === 'a,c,d,e,f' && portOf(h.informer, 'a') === 8080, 5000);
    assert.equal(h.informer.resourceVersion, h.api.resourceVersion);
  } finally {
    await h.close();
  }
});

test('a dropped watch resumes from the last resourceVersion and gets the change made while it was down', async () => {
  const h = await harness({}, (api) => api.apply(service('httpbin', 8000)));
  try {
    await waitFor(() => h.api.openWatches('services') === 1, 5000);
    const seen = h.informer.resourceVersion;
    h.api.holdWatches();
    assert.equal(h.api.dropWatches(), 1);
    // Changed while no watch is open: only the server's history has it.
    h.api.apply(service('httpbin', 9000));
    h.api.apply(service('added-meanwhile'));
    await waitFor(() => h.api.calls('services', true).length === 2, 5000); // the reconnect is waiting
    h.api.releaseWatches();
    await waitFor(
      () => portOf(h.informer, 'httpbin') === 9000 && h.informer.objects.has('default/added-meanwhile'),
      5000,
    );
    const rewatch = h.api.calls('services', true)[1];
    assert.equal(rewatch.query.get('resourceVersion'), seen, 'resumed where it was, not from scratch');
    assert.equal(h.api.calls('services', false).length, 1, 'no relist was needed');
    assert.equal(h.informer.stats.restarts, 1);
    assert.ok(
      h.logs.some((l) => /Service watch failed: .*retrying in \d+ ms from resourceVersion/.test(l)),
      h.logs.join('\n'),
    );
  } finally {
    await h.close();
  }
});

for (const mode of ['event', 'status'] as const) {
  test(`410 Gone (${mode === 'event' ? 'ERROR event in the stream' : 'HTTP 410'}) relists, and deletions missed meanwhile are noticed`, async () => {
    const h = await harness({}, (api) => {
      api.goneMode = mode;
      api.apply(service('keep'));
      api.apply(service('doomed'));
    });
    try {
      await waitFor(() => h.api.openWatches('services') === 1, 5000);
      h.api.holdWatches();
      h.api.dropWatches();
      h.api.remove('Service', 'default', 'doomed');
      h.api.apply(service('newcomer'));
      h.api.compact();
      h.api.releaseWatches();
      await waitFor(() => names(h.informer).join() === 'keep,newcomer', 5000);
      assert.equal(h.informer.stats.gone, 1);
      assert.equal(h.api.calls('services', false).length, 2, 'one relist after the 410');
      assert.ok(
        h.logs.some((l) => l.includes('410 Gone')),
        h.logs.join('\n'),
      );
      // And it watches again from the relist's resourceVersion.
      await waitFor(() => h.api.openWatches('services') === 1, 5000);
      h.api.apply(service('after'));
      await waitFor(() => h.informer.objects.has('default/after'), 5000);
    } finally {
      await h.close();
    }
  });
}

test('bookmarks keep the resourceVersion fresh, so a reconnect after compaction needs no relist', async () => {
  const h = await harness({}, (api) => api.apply(service('quiet')));
  try {
    await waitFor(() => h.api.openWatches('services') === 1, 5000);
    const before = h.informer.resourceVersion;
    // Activity elsewhere in the cluster moves the resourceVersion; services see nothing of it.
    for (let i = 0; i < 5; i++) h.api.bumpElsewhere();
    assert.equal(h.api.bookmark(), 1, 'the watch asked for bookmarks');
    await waitFor(() => h.informer.resourceVersion === h.api.resourceVersion, 5000);
    assert.notEqual(h.informer.resourceVersion, before);
    assert.equal(h.informer.stats.bookmarks, 1);
    // History older than the bookmark is gone; the informer's resourceVersion is not older than that.
    h.api.holdWatches();
    h.api.dropWatches();
    h.api.compact();
    h.api.bumpElsewhere();
    h.api.releaseWatches();
    await waitFor(() => h.api.openWatches('services') === 1, 5000);
    assert.equal(h.api.calls('services', true)[1].query.get('resourceVersion'), h.informer.resourceVersion);
    assert.equal(h.informer.stats.gone, 0);
    assert.equal(h.api.calls('services', false).length, 1, 'no relist');
  } finally {
    await h.close();
  }
});

test('a kind the server does not serve (CRD missing) counts as synced and empty, and is picked up once served', async () => {
  const h = await harness({ kind: 'VirtualService', notServedRetryMs: 50 }, (api) =>
    api.notServed.add('virtualservices'),
  );
  try {
    assert.equal(h.informer.stats.synced, true);
    assert.equal(h.informer.stats.served, false);
    assert.equal(h.informer.objects.size, 0);
    assert.ok(
      h.logs.some((l) => l.includes('VirtualService is not served')),
      h.logs.join('\n'),
    );
    h.api.notServed.delete('virtualservices');
    h.api.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'httpbin', namespace: 'default' },
      spec: { hosts: ['httpbin'], http: [{ route: [{ destination: { host: 'httpbin' } }] }] },
    });
    await waitFor(() => h.informer.objects.has('default/httpbin'), 5000);
    assert.equal(h.informer.stats.served, true);
  } finally {
    await h.close();
  }
});

test('a watch ended by its server-side timeout is re-established from the same resourceVersion', async () => {
  const h = await harness({ watchTimeoutSeconds: 1 }, (api) => api.apply(service('a')));
  try {
    await waitFor(() => h.api.calls('services', true).length >= 2, 5000);
    const [first, second] = h.api.calls('services', true);
    assert.equal(second.query.get('resourceVersion'), first.query.get('resourceVersion'));
    assert.equal(h.api.calls('services', false).length, 1);
    assert.equal(h.informer.stats.restarts, 0, 'a timeout is not an error');
  } finally {
    await h.close();
  }
});

test('status-only changes are told apart from content changes (no recompile for a status write)', async () => {
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'default' },
    spec: { rules: [{}] },
  };
  const h = await harness({ kind: 'HTTPRoute' }, (api) => api.apply(route));
  try {
    await waitFor(() => h.api.openWatches('httproutes') === 1, 5000);
    h.events.length = 0;
    const kind = findKind('HTTPRoute', 'gateway.networking.k8s.io')!;
    await h.http.patch(
      objectPath(kind, 'default', 'r', 'status'),
      { status: { parents: [] } },
      'application/merge-patch+json',
    );
    await waitFor(() => h.events.length === 1, 5000);
    assert.deepEqual(h.events, [{ content: false }]);
    h.api.apply({ ...route, spec: { rules: [{}, {}] } });
    await waitFor(() => h.events.length === 2, 5000);
    assert.deepEqual(h.events[1], { content: true });
  } finally {
    await h.close();
  }
});

test('backoff doubles up to its cap, jitters within [d/2, d], and resets', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 1);
  assert.deepEqual(
    [b.next(), b.next(), b.next(), b.next(), b.next(), b.next()],
    [100, 200, 400, 800, 1000, 1000],
  );
  b.reset();
  assert.equal(b.next(), 100);
  const low = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
  assert.deepEqual([low.next(), low.next()], [50, 100]);
});
