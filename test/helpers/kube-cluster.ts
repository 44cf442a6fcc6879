// A real Umbra fed by the in-process API server (fake-kube-apiserver.ts), and what the Kubernetes
// tests ask of it: wait for object versions to be served, the endpoints a cluster sends to, a GET.

import { rmSync } from 'node:fs';
import { request } from 'undici';
import { FakeKubeApiServer } from './fake-kube-apiserver.js';
import { waitFor } from './servers.js';
import { startTestUmbra, type TestUmbra } from './umbra.js';
import { scratchDir } from './scratch.js';

type Json = Record<string, unknown> & { metadata: Record<string, unknown> };

export interface Cluster {
  api: FakeKubeApiServer;
  umbra: TestUmbra;
  close(): Promise<void>;
}

export async function startCluster(
  objects: Json[],
  prepare?: (api: FakeKubeApiServer) => void,
): Promise<Cluster> {
  const api = await FakeKubeApiServer.start();
  prepare?.(api);
  for (const o of objects) api.apply(o);
  const kubeconfigDir = scratchDir('umbra-kube-');
  const kubeconfig = api.writeKubeconfig(kubeconfigDir);
  const umbra = await startTestUmbra(
    {},
    { kubernetes: { kubeconfig, backoff: { initialMs: 20, maxMs: 200 }, notServedRetryMs: 100 } },
  );
  return {
    api,
    umbra,
    async close() {
      await umbra.close();
      await api.close();
      rmSync(kubeconfigDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the table in service was built from these object versions (or without them). */
export async function published(
  u: TestUmbra,
  objs: { kind: string; name: string; rv?: string }[],
): Promise<void> {
  await waitFor(
    () =>
      objs.every((o) => {
        const r = u.state.resources.find((x) => x.kind === o.kind && x.metadata.name === o.name);
        return o.rv === undefined ? r === undefined : r?.metadata.resourceVersion === o.rv;
      }),
    5000,
  );
}

/** Pods (by name) the table currently sends httpbin:8000 traffic to. */
export function endpoints(u: TestUmbra, service = 'httpbin', port = 8000): string[] {
  const c = [...u.state.table.clusters.values()].find(
    (x) => x.service.name === service && x.service.port === port && !x.subset,
  );
  return (c?.endpoints ?? []).map((e) => e.workload.split('/')[1]).sort();
}

export async function get(
  u: TestUmbra,
  path: string,
  host = 'httpbin:8000',
): Promise<{ status: number; body: string }> {
  const r = await request(`${u.proxyUrl}${path}`, { headers: { host } });
  return { status: r.statusCode, body: await r.body.text() };
}
