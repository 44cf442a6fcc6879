// Requests addressed to a known endpoint itself ("10.1.2.3:8080", a pod's IP and port) go to that
// endpoint and nowhere else, bypassing the routes of its Service — as Istio's sidecar passes them
// through, and as GAMMA separates a Service's frontend (its names) from its backends (GEP-1324).
// Only endpoints the registry knows get such a host: Umbra never becomes an open proxy.

import { isIP } from 'node:net';
import type { VirtualHost } from '../model/route-table.js';
import { singleClusterRoute } from './single-cluster-route.js';
import type { ClusterBuilder } from './clusters.js';
import type { MeshService } from './service-registry.js';

/** Names of passthrough virtual hosts and clusters start with this (views may set them apart). */
export const PASSTHROUGH_PREFIX = 'passthrough|';

/** "address:port" as a client writes it in the Host header (IPv6 in brackets). */
function authorityOf(address: string, port: number): string {
  return `${isIP(address) === 6 ? `[${address.toLowerCase()}]` : address}:${port}`;
}

/**
 * Adds a virtual host for each endpoint address:port of every service, unless the name is taken
 * already (a service VIP or a VirtualService host wins) or is one of Umbra's own listeners (a loop).
 * Only IP endpoints count: a DNS name belongs to a ServiceEntry, whose host already routes.
 */
export function addEndpointPassthrough(
  services: readonly MeshService[],
  clusters: ClusterBuilder,
  hostIndex: Map<string, VirtualHost>,
  selfAddresses: readonly string[],
): void {
  const self = new Set(selfAddresses.map((a) => a.toLowerCase()));
  for (const svc of services)
    for (const [port, endpoints] of svc.endpoints)
      for (const e of endpoints) {
        if (isIP(e.address) === 0) continue;
        const key = authorityOf(e.address, e.port);
        if (hostIndex.has(key) || self.has(key) || self.has(`${e.address}:${e.port}`)) continue;
        const cluster = clusters.passthrough(svc, port, e);
        const route = singleClusterRoute('passthrough', svc, cluster);
        const vhost: VirtualHost = { name: `${PASSTHROUGH_PREFIX}${key}`, routes: [route] };
        hostIndex.set(key, vhost);
        // "10.1.2.3" alone means port 80 to an HTTP client.
        if (e.port === 80 && !hostIndex.has(key.slice(0, key.lastIndexOf(':'))))
          hostIndex.set(key.slice(0, key.lastIndexOf(':')), vhost);
      }
}
