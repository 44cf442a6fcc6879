// Kubernetes-style service name resolution: a short name means a service in the referring
// resource's namespace ("httpbin" → "httpbin.default.svc.cluster.local"), as kube-dns search
// paths and Istio's host resolution do.

import { isIP } from 'node:net';

export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * The name a host written in a resource of `namespace` stands for, as istiod resolves it
 * (config.ResolveShortnameToFQDN): a name without a dot is a service of that namespace; a name
 * with a dot ("mirror400.test", "httpbin.default", "example.com"), an IP address and a wildcard
 * are taken literally — so a ServiceEntry's "example.com" is never read as service.namespace.
 */
export function qualifyHost(host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('*') || h.includes('.') || isIP(h) !== 0) return h;
  return `${h}.${namespace}.svc.${CLUSTER_DOMAIN}`;
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
