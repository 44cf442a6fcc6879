// Status write-back to the API server: the statuses translation leaves in state.statuses are sent as
// merge patches on the status subresource of HTTPRoutes and Gateways, with Umbra's controller name,
// only when they change, keeping other controllers' route parents and unchanged transition times,
// and restored when someone else overwrites them.
// Translation of Gateway API status is another module's job; this file registers a small stand-in
// route source that reports "Accepted" for every HTTPRoute parent and Gateway it sees.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { resourceKey } from '../../src/config/resource.js';
import { CONTROLLER_NAME } from '../../src/kubernetes/status-writer.js';
import { registerRouteSource } from '../../src/translate/build-table.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { scratchDir } from '../helpers/scratch.js';

type Json = Record<string, unknown>;
interface Parent {
  parentRef: Json;
  controllerName: string;
  conditions: {
    type: string;
    status: string;
    reason: string;
    observedGeneration?: number;
    lastTransitionTime: string;
  }[];
}

const accepted = (generation: number | undefined) => [
  {
    type: 'Accepted',
    status: 'True',
    reason: 'Accepted',
    message: 'accepted by the test stand-in',
    observedGeneration: generation,
    lastTransitionTime: new Date().toISOString(),
  },
];

registerRouteSource((ctx) => {
  for (const r of ctx.resources) {
    const key = resourceKey(r);
    if (ctx.statuses.has(key)) continue;
    if (r.kind === 'HTTPRoute') {
      const refs = (r.spec as { parentRefs?: Json[] }).parentRefs ?? [];
      ctx.statuses.set(key, {
        parents: refs.map((parentRef) => ({
          parentRef,
          controllerName: CONTROLLER_NAME,
          conditions: accepted(r.metadata.generation),
        })),
      });
    } else if (r.kind === 'Gateway' && r.apiVersion.startsWith('gateway.networking.k8s.io/')) {
      const listeners = (r.spec as { listeners?: { name: string }[] }).listeners ?? [];
      ctx.statuses.set(key, {
        conditions: accepted(r.metadata.generation),
        listeners: listeners.map((l) => ({
          name: l.name,
          attachedRoutes: 0,
          supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
          conditions: accepted(r.metadata.generation),
        })),
      });
    }
  }
  return { routesFor: () => undefined, gatewayListeners: [] };
});

const seed = (f: string): Json[] =>
  parseAllDocuments(readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8')).map((d) => d.toJS() as Json);

test('HTTPRoute and Gateway status is written back once per change, as a merge patch, keeping what is not ours', async () => {
  const api = await FakeKubeApiServer.start();
  const dir = scratchDir('umbra-status-');
  for (const o of [...seed('service.yaml'), ...seed('gateway-api-route-v1.yaml')]) api.apply(o);
  api.apply({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'edge', namespace: 'default' },
    spec: { gatewayClassName: 'umbra', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] },
  });
  // Another mesh implementation already reports on the same route.
  const foreign = {
    parentRef: { group: '', kind: 'Service', name: 'httpbin', port: 8000 },
    controllerName: 'example.com/other-mesh',
    conditions: [
      {
        type: 'Accepted',
        status: 'False',
        reason: 'NotAllowed',
        message: '',
        lastTransitionTime: '2024-01-01T00:00:00Z',
      },
    ],
  };
  api.setStatus('HTTPRoute', 'default', 'httpbin', { parents: [foreign] });
  const umbra = await startTestUmbra(
    {},
    { kubernetes: { kubeconfig: api.writeKubeconfig(dir), backoff: { initialMs: 20, maxMs: 200 } } },
  );
  const statusView = async () =>
    (
      (await (await request(`${umbra.adminUrl}/kubernetes`)).body.json()) as {
        status: { passes: number; writes: number };
      }
    ).status;
  try {
    await waitFor(() => api.patches.length === 2, 5000);
    const routePatch = api.patches.find((p) => p.path.endsWith('/httproutes/httpbin/status'))!;
    assert.equal(
      routePatch.path,
      '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/httpbin/status',
    );
    assert.equal(routePatch.contentType, 'application/merge-patch+json');
    assert.ok((routePatch.body.metadata as Json).resourceVersion, 'sent with a resourceVersion precondition');
    const parents = (api.get('HTTPRoute', 'default', 'httpbin')!.status as { parents: Parent[] }).parents;
    assert.deepEqual(
      parents.map((p) => p.controllerName).sort(),
      [CONTROLLER_NAME, 'example.com/other-mesh'].sort(),
    );
    const ours = parents.find((p) => p.controllerName === CONTROLLER_NAME)!;
    assert.deepEqual(ours.parentRef, { group: '', kind: 'Service', name: 'httpbin', port: 8000 });
    assert.equal(ours.conditions[0].type, 'Accepted');
    assert.equal(ours.conditions[0].observedGeneration, 1);
    assert.deepEqual(
      parents.find((p) => p.controllerName !== CONTROLLER_NAME),
      foreign,
      "the other controller's entry is untouched",
    );
    const gw = api.get('Gateway', 'default', 'edge')!.status as {
      conditions: Json[];
      listeners: { name: string }[];
    };
    assert.equal(gw.conditions[0].type, 'Accepted');
    assert.equal(gw.listeners[0].name, 'http');
    const firstTransition = ours.conditions[0].lastTransitionTime;

    // Unrelated changes recompile, but an unchanged status is not written again.
    const passes = (await statusView()).passes;
    const version = umbra.state.table.version;
    api.apply({
      ...seed('service.yaml')[0],
      metadata: { name: 'httpbin', labels: { app: 'httpbin', touched: 'yes' } },
    });
    await waitFor(() => umbra.state.table.version > version, 5000);
    await waitFor(async () => (await statusView()).passes > passes, 5000);
    assert.equal(api.patches.length, 2, 'no write when nothing changed');

    // A new generation of the route: a new status, with the transition time kept (still True).
    const route = seed('gateway-api-route-v1.yaml').find((o) => o.kind === 'HTTPRoute')!;
    (route.spec as { rules: Json[] }).rules.push({
      matches: [{ path: { type: 'PathPrefix', value: '/v2' } }],
      backendRefs: [{ name: 'httpbin-v2', port: 80 }],
    });
    api.apply(route);
    await waitFor(() => api.patches.length === 3, 5000);
    const after = (api.get('HTTPRoute', 'default', 'httpbin')!.status as { parents: Parent[] }).parents.find(
      (p) => p.controllerName === CONTROLLER_NAME,
    )!;
    assert.equal(after.conditions[0].observedGeneration, 2);
    assert.equal(after.conditions[0].lastTransitionTime, firstTransition);

    // Someone wipes the status: Umbra puts its entry back (and leaves the other controller's alone).
    api.setStatus('HTTPRoute', 'default', 'httpbin', { parents: [foreign] });
    await waitFor(() => api.patches.length === 4, 5000);
    const restored = (api.get('HTTPRoute', 'default', 'httpbin')!.status as { parents: Parent[] }).parents;
    assert.equal(restored.length, 2);
    assert.equal((await statusView()).writes, 4);
  } finally {
    await umbra.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
