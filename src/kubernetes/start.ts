// Starts the Kubernetes source for `umbra run --kubernetes`: credentials, informers, and the wait for
// every kind's first list, so the first table is built from the whole cluster state, never a part.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadKubeConfig } from './kube-config.js';
import { KubernetesSource, type KubernetesOptions } from './kube-source.js';

export async function startKubernetesSource(
  o: KubernetesOptions,
  defaultNamespace: string,
  log: (line: string) => void,
): Promise<KubernetesSource> {
  const { kc, from } = loadKubeConfig(o.kubeconfig);
  // One namespace unless told otherwise: the one Umbra's clients live in (-n), like a sidecar's own.
  const namespace = o.allNamespaces ? undefined : (o.watchNamespace ?? defaultNamespace);
  const source = new KubernetesSource(kc, { ...o, namespace }, log);
  log(
    `kubernetes: watching ${namespace === undefined ? 'all namespaces' : `namespace ${namespace}`} at ${source.http.server} (credentials: ${from})`,
  );
  source.start();
  try {
    await source.waitForSync();
  } catch (e) {
    await source.close();
    throw e;
  }
  return source;
}

/** GET /kubernetes on the admin port: each informer's sync state, resourceVersion and errors. */
export function kubernetesAdminRoutes(
  source: KubernetesSource,
): Map<string, (req: IncomingMessage, res: ServerResponse) => void> {
  return new Map([
    [
      '/kubernetes',
      (_req: IncomingMessage, res: ServerResponse) => {
        const body = JSON.stringify(source.view(), null, 2) + '\n';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
    ],
  ]);
}
