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
            mirrors: a.mirrors.map((x) => ({ name: x.name, cluster: x.cluster, percent: x.ppm / 10_000, authority: x.authority, policy: x.policy })),
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
    virtualHosts: vhostsOf(t).map(({ vhost, domains }) => ({ name: vhost.name, domains, routes: vhost.routes.map(routeView) })),
    gatewayListeners: t.gatewayListeners.map((l) => ({ name: l.name, address: l.address, port: l.port, hosts: [...l.hostIndex.keys()] })),
    clusters: clustersView(state, proxy).clusters,
  };
}

export function clustersView(state: ConfigState, proxy: Proxy): { clusters: unknown[]; mirrors: unknown[] } {
  const eps = new Map(proxy.upstreams.snapshot().map((s) => [s.key, s]));
  return {
    clusters: [...state.table.clusters.values()].map((c) => ({
      name: c.name,
      lb: c.lb.kind,
      endpoints: c.endpoints.map((e) => {
        const s = eps.get(`${c.name}|${e.address}:${e.port}`);
        return { address: `${e.address}:${e.port}`, workload: e.workload, labels: e.labels, inFlight: s?.inFlight ?? 0, health: s?.ejected ? 'ejected' : 'healthy', ejections: s?.ejections ?? 0 };
      }),
    })),
    mirrors: [...proxy.mirrors.counters.entries()].map(([name, c]) => ({ name, breaker: proxy.mirrors.breakerState(name), ...c })),
  };
}
