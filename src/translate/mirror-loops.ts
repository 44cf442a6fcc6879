// Loop protection at translation time: a mirror whose cluster has an endpoint that is one of Umbra's
// own listeners would copy every copy back into Umbra. Such a table is refused with a ConfigIssue.
// (At run time the x-umbra-mirror marker stops copies of copies; this stops the loop at its source.)

import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import type { Route, RouteTable, VirtualHost } from '../model/route-table.js';
import { issueAt } from './issue-at.js';

/** "address:port" in the form endpointKey gives (IPv6 without brackets, lower case). */
export function addressKey(address: string, port: number): string {
  const a = address.toLowerCase();
  return `${a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a}:${port}`;
}

const LOOPBACK_NAMES: Readonly<Record<string, readonly string[]>> = {
  localhost: ['127.0.0.1', '::1'],
  '127.0.0.1': ['localhost'],
  '::1': ['localhost'],
};

/** Every spelling of the same address:port, so "localhost:15001" matches a listener on 127.0.0.1. */
function spellings(address: string, port: number): string[] {
  const a = addressKey(address, port);
  const host = a.slice(0, a.lastIndexOf(':'));
  return [a, ...(LOOPBACK_NAMES[host] ?? []).map((h) => `${h}:${port}`)];
}

function allVirtualHosts(table: RouteTable): Set<VirtualHost> {
  const out = new Set<VirtualHost>(table.hostIndex.values());
  for (const w of table.wildcardHosts) out.add(w.vhost);
  for (const l of table.gatewayListeners) {
    for (const v of l.hostIndex.values()) out.add(v);
    for (const w of l.wildcardHosts) out.add(w.vhost);
    if (l.catchAll) out.add(l.catchAll);
  }
  return out;
}

/** Walks "spec.http[0]" into an object; undefined when the path does not lead anywhere. */
function at(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const part of path.split(/\.|(?=\[)/)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const idx = /^\[(\d+)\]$/.exec(part);
    cur = idx ? (cur as unknown[])[Number(idx[1])] : (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The field of a rule that names its mirrors, for the issue's line: Istio mirror/mirrors, Gateway API filters. */
function mirrorFieldPath(r: Resource, route: Route): string {
  const rulePath = route.origin.path.replace(/\.match(es)?\[\d+\]$/, '');
  const rule = at({ spec: r.spec }, rulePath);
  if (rule && typeof rule === 'object') {
    for (const f of ['mirror', 'mirrors', 'filters']) if (f in rule) return `${rulePath}.${f}`;
  }
  return rulePath;
}

/**
 * Reports (as errors) every mirror whose endpoints include one of `self` ("address:port" spellings
 * of Umbra's listeners, from the runtime) or one of this table's own gateway listeners.
 */
export function refuseSelfMirrors(
  table: RouteTable,
  resources: readonly Resource[],
  self: readonly string[],
  issues: ConfigIssue[],
): void {
  const own = new Set<string>();
  for (const s of self) {
    const colon = s.lastIndexOf(':');
    for (const k of spellings(s.slice(0, colon), Number(s.slice(colon + 1)))) own.add(k);
  }
  for (const l of table.gatewayListeners) for (const k of spellings(l.address, l.port)) own.add(k);
  if (own.size === 0) return;

  const reported = new Set<string>();
  for (const vhost of allVirtualHosts(table)) {
    for (const route of vhost.routes) {
      if (route.action.kind !== 'forward') continue;
      for (const m of route.action.mirrors) {
        const cluster = table.clusters.get(m.cluster);
        const hit = cluster?.endpoints.find((e) => spellings(e.address, e.port).some((k) => own.has(k)));
        if (!hit) continue;
        const o = route.origin;
        const key = `${o.kind}/${o.namespace}/${o.name}/${o.path}/${m.name}`;
        if (reported.has(key)) continue;
        reported.add(key);
        const message = `mirror ${m.name} would send copies to ${hit.address}:${hit.port} (${hit.workload}), which is Umbra's own listener: every copy would come back and be routed again`;
        const hint = 'point the mirror at the shadow workload, not at Umbra';
        const r = resources.find(
          (x) => x.kind === o.kind && x.metadata.namespace === o.namespace && x.metadata.name === o.name,
        );
        issues.push(
          r
            ? issueAt(r, mirrorFieldPath(r, route), 'error', message, hint)
            : {
                severity: 'error',
                resource: `${o.kind} ${o.namespace}/${o.name}`,
                path: o.path,
                message,
                hint,
              },
        );
      }
    }
  }
}
