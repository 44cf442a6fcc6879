// JSON views of what is being served, for /config_dump, /clusters and `umbra status`: the
// compiled table in proxy vocabulary, with the issues of the last load.

import type { Matcher } from '../model/matchers.js';
import type { Route, RouteMatch, RouteTable, VirtualHost } from '../model/route-table.js';
import type { Proxy } from '../proxy/proxy.js';
import type { ConfigState } from '../runtime/config-state.js';

function m(x: Matcher | undefined): string | undefined {
  return x ? `${x.kind}:${x.value}` : undefined;
}

function matchView(r: RouteMatch): Record<string, unknown> {
  return {
    path: m(r.path),
    method: m(r.method),
    authority: m(r.authority),
    scheme: m(r.scheme),
    port: r.port,
    headers: r.headers?.map((h) => `${h.name}=${m(h.value) ?? '*'}`),
    queryParams: r.queryParams?.map((h) => `${h.name}=${m(h.value) ?? '*'}`),
    withoutHeaders: r.withoutHeaders?.map((h) => `${h.name}=${m(h.value) ?? '*'}`),
  };
}

function routeView(r: Route): Record<string, unknown> {
  const a = r.action;
  return {
    name: r.name,
    origin: `${r.origin.kind} ${r.origin.namespace}/${r.origin.name} ${r.origin.path}`,
    match: matchView(r.match),
    action:
      a.kind === 'forward'
        ? {
            forward: a.backends.map((b) => ({ cluster: b.cluster ?? '(invalid)', weight: b.weight })),
            timeoutMs: a.timeoutMs || undefined,
            retry: a.retry,
            mirrors: a.mirrors.map((x) => ({
              name: x.name,
              cluster: x.cluster,
              percent: x.ppm / 10_000,
              authority: x.authority,
              policy: x.policy,
            })),
          }
        : a,
  };
}

function vhostsOf(table: RouteTable): { domains: string[]; vhost: VirtualHost }[] {
  const by = new Map<VirtualHost, string[]>();
  for (const [k, v] of table.hostIndex) by.set(v, [...(by.get(v) ?? []), k]);
  for (const w of table.wildcardHosts) by.set(w.vhost, [...(by.get(w.vhost) ?? []), `*${w.suffix}`]);
  return [...by.entries()].map(([vhost, domains]) => ({ vhost, domains }));
}

export function configDump(state: ConfigState, proxy: Proxy): unknown {
  const t = state.table;
  return {
    version: t.version,
    lastLoad: state.lastLoad,
    issues: state.issues,
    virtualHosts: vhostsOf(t).map(({ vhost, domains }) => ({
      name: vhost.name,
      domains,
      routes: vhost.routes.map(routeView),
    })),
    gatewayListeners: t.gatewayListeners.map((l) => ({
      name: l.name,
      address: l.address,
      port: l.port,
      hosts: [...l.hostIndex.keys()],
      // Which certificate serves which SNI name, and from which Secret — never the PEM itself.
      ...(l.tls
        ? {
            tls: {
              certificates: l.tls.certificates.map((c) => ({ hostname: c.hostname, source: c.source })),
            },
          }
        : {}),
    })),
    clusters: clustersView(state, proxy).clusters,
  };
}

/** Mirror name → the cluster its copies go to, over every route of the table. */
function mirrorClusters(table: RouteTable): Map<string, string> {
  const out = new Map<string, string>();
  const vhosts = new Set<VirtualHost>([
    ...table.hostIndex.values(),
    ...table.wildcardHosts.map((w) => w.vhost),
  ]);
  for (const l of table.gatewayListeners) for (const v of l.hostIndex.values()) vhosts.add(v);
  for (const v of vhosts)
    for (const r of v.routes)
      if (r.action.kind === 'forward') for (const m of r.action.mirrors) out.set(m.name, m.cluster);
  return out;
}

export function clustersView(state: ConfigState, proxy: Proxy): { clusters: unknown[]; mirrors: unknown[] } {
  const eps = new Map(proxy.upstreams.snapshot().map((s) => [s.key, s]));
  const mirrorTargets = mirrorClusters(state.table);
  const writer = proxy.mirrors;
  return {
    clusters: [...state.table.clusters.values()].map((c) => ({
      name: c.name,
      lb: c.lb.kind,
      endpoints: c.endpoints.map((e) => {
        const s = eps.get(`${c.name}|${e.address}:${e.port}`);
        return {
          address: `${e.address}:${e.port}`,
          workload: e.workload,
          labels: e.labels,
          health: s?.ejected ? 'ejected' : 'healthy',
          ejections: s?.ejections ?? 0,
          inFlight: s?.inFlight ?? 0,
          mirrorInFlight: s?.mirrorInFlight ?? 0,
        };
      }),
      // Mirrors whose copies go to this cluster, with their breaker (open: copies are being dropped).
      mirroredBy: [...mirrorTargets]
        .filter(([, cluster]) => cluster === c.name)
        .map(([name]) => ({
          mirror: name,
          breaker: writer.breakerState(name),
          inFlight: writer.counters.get(name)?.inFlight ?? 0,
        })),
    })),
    mirrors: [...writer.counters.entries()].map(([name, c]) => {
      const { latencyBuckets: _buckets, ...counters } = c;
      return { name, cluster: mirrorTargets.get(name), breaker: writer.breakerState(name), ...counters };
    }),
  };
}
