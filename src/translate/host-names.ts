// Kubernetes-style service name resolution: a short name means a service in the referring
// resource's namespace ("httpbin" → "httpbin.default.svc.cluster.local"), as kube-dns search
// paths and Istio's host resolution do.

export const CLUSTER_DOMAIN = 'cluster.local';

/** Fully qualified name for a host written in a resource of `namespace`. */
export function qualifyHost(host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('*')) return h;
  const dots = h.split('.').length - 1;
  if (dots === 0) return `${h}.${namespace}.svc.${CLUSTER_DOMAIN}`;
  if (dots === 1) return `${h}.svc.${CLUSTER_DOMAIN}`; // name.namespace
  if (h.endsWith('.svc')) return `${h}.${CLUSTER_DOMAIN}`;
  return h;
}

/** Every name a client inside the namespace may use for a Kubernetes service. */
export function serviceAliases(name: string, namespace: string): string[] {
  return [
    name,
    `${name}.${namespace}`,
    `${name}.${namespace}.svc`,
    `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`,
  ];
}

export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}
