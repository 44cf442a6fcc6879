// Finds the credentials to reach the API server: an explicit kubeconfig, then $KUBECONFIG, then the
// pod's service account (in-cluster), then ~/.kube/config — never client-node's silent fallback to
// http://localhost:8080.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(path?: string): { kc: KubeConfig; from: string } {
  const kc = new KubeConfig();
  let from: string;
  const home = join(homedir(), '.kube', 'config');
  if (path) {
    kc.loadFromFile(path);
    from = path;
  } else if (process.env.KUBECONFIG) {
    kc.loadFromDefault();
    from = `$KUBECONFIG (${process.env.KUBECONFIG})`;
  } else if (process.env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    from = 'in-cluster service account';
  } else if (existsSync(home)) {
    kc.loadFromFile(home);
    from = home;
  } else {
    throw new Error(
      'no Kubernetes credentials: pass --kubeconfig PATH, set KUBECONFIG, or run inside a pod with a service account',
    );
  }
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig from ${from} has no current context/cluster`);
  return { kc, from };
}
