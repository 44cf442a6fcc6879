// `umbra status`: a short human summary of what a running Umbra serves — the config in service and
// the last load, routes with their mirrors, each mirror's counters and breaker, unhealthy endpoints.

import { PASSTHROUGH_PREFIX } from '../translate/endpoint-passthrough.js';
import type { ConfigIssue } from '../config/issues.js';

export interface DumpRoute {
  name: string;
  action: {
    forward?: { cluster: string; weight: number }[];
    mirrors?: { name: string; percent: number; cluster: string }[];
    kind?: string;
    status?: number;
  };
}
export interface ConfigDumpJson {
  version: number;
  issues?: ConfigIssue[];
  lastLoad?: { applied: boolean; version: number; issues: ConfigIssue[] };
  virtualHosts?: { name: string; routes: DumpRoute[] }[];
}
export interface MirrorJson {
  name: string;
  cluster?: string;
  considered: number;
  sent: number;
  skipped: number;
  inFlight: number;
  breaker: string;
  completed: Record<string, number>;
  dropped: Record<string, number>;
  failed: Record<string, number>;
  latencyMsSum: number;
  latencyCount: number;
  pairs: Record<string, Record<string, number>>;
}
export interface ClustersJson {
  clusters?: {
    name: string;
    endpoints: { address: string; health: string; inFlight: number; mirrorInFlight?: number }[];
  }[];
  mirrors?: MirrorJson[];
}

function counts(m: Record<string, number> | undefined): string {
  const parts = Object.entries(m ?? {})
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}=${v}`);
  return parts.join(' ') || '-';
}

function sum(m: Record<string, number> | undefined): number {
  return Object.values(m ?? {}).reduce((a, b) => a + b, 0);
}

function pct(v: number): string {
  return `${Number.isInteger(v) ? v : v.toFixed(2)}%`;
}

export function formatStatus(dump: ConfigDumpJson, clusters: ClustersJson): string {
  const out: string[] = [];
  const serving = dump.issues ?? [];
  const warnings = serving.filter((i) => i.severity === 'warning').length;
  out.push(
    `config v${dump.version} in service${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}`,
  );
  const last = dump.lastLoad;
  if (last && !last.applied) {
    const errors = last.issues.filter((i) => i.severity === 'error');
    out.push(
      `last load v${last.version} REJECTED (${errors.length} error${errors.length === 1 ? '' : 's'}), still serving v${dump.version}:`,
    );
    for (const i of errors.slice(0, 3))
      out.push(
        `  ${i.file ? `${i.file}${i.line ? `:${i.line}` : ''}: ` : ''}${i.resource} ${i.path}: ${i.message}`,
      );
    if (errors.length > 3) out.push(`  … ${errors.length - 3} more (umbra validate, or /config_dump)`);
  }

  out.push('routes:');
  // One passthrough host per endpoint (requests addressed to the endpoint itself): counted, not listed.
  const passthroughs = (dump.virtualHosts ?? []).filter((v) => v.name.startsWith(PASSTHROUGH_PREFIX));
  for (const vh of dump.virtualHosts ?? []) {
    if (vh.name.startsWith(PASSTHROUGH_PREFIX)) continue;
    for (const r of vh.routes) {
      const a = r.action;
      const to = a.forward
        ? a.forward
            .map((b) => (a.forward!.length > 1 ? `${b.cluster} (weight ${b.weight})` : b.cluster))
            .join(', ')
        : `${a.kind ?? 'local'}${a.status ? ` ${a.status}` : ''}`;
      out.push(`  ${vh.name} ${r.name} → ${to}`);
      for (const m of a.mirrors ?? []) out.push(`      mirror ${m.name} ${pct(m.percent)} → ${m.cluster}`);
    }
  }

  const mirrors = clusters.mirrors ?? [];
  if (mirrors.length > 0) out.push('mirrors:');
  for (const m of mirrors) {
    const latency =
      m.latencyCount > 0 ? `, mean latency ${(m.latencyMsSum / m.latencyCount).toFixed(1)} ms` : '';
    out.push(
      `  mirror ${m.name}: sent ${m.sent}, skipped ${m.skipped}, dropped ${sum(m.dropped)} (${counts(m.dropped)}) of ${m.considered}; in flight ${m.inFlight}, breaker ${m.breaker}`,
    );
    out.push(
      `      answered ${counts(m.completed)}${latency}; failed ${sum(m.failed)} (${counts(m.failed)})`,
    );
    const pairs = Object.entries(m.pairs ?? {}).flatMap(([p, row]) =>
      Object.entries(row).map(([c, n]) => `${p}→${c}=${n}`),
    );
    if (pairs.length > 0) out.push(`      primary→mirror status: ${pairs.join(' ')}`);
  }

  if (passthroughs.length > 0)
    out.push(`endpoint passthroughs: ${passthroughs.length} (requests addressed to an endpoint itself)`);
  const cs = (clusters.clusters ?? []).filter((c) => !c.name.startsWith(PASSTHROUGH_PREFIX));
  const eps = cs.flatMap((c) => c.endpoints.map((e) => ({ ...e, cluster: c.name })));
  const ejected = eps.filter((e) => e.health !== 'healthy');
  out.push(
    `clusters: ${cs.length}, endpoints: ${eps.length}${ejected.length ? `, ejected: ${ejected.map((e) => `${e.address} (${e.cluster})`).join(', ')}` : ', all healthy'}`,
  );
  return out.join('\n') + '\n';
}
