// Cross-resource analysis in the spirit of `istioctl analyze`: problems no single document shows —
// rules hidden behind earlier ones, subsets that select nothing, hosts that lead nowhere, resources
// defined twice. Each finding names the resource, the field and what to do. Translation reports the
// rest as it meets it (undefined subsets, unresolved hosts and mirrors, all-zero weights, one
// VirtualService per host); buildRouteTable runs these checks and removes repeated findings.

import type { ConfigIssue } from '../config/issues.js';
import { resourceId, resourceKey, type Resource } from '../config/resource.js';
import { compileRegex } from '../model/matchers.js';
import { qualifyHost } from './host-names.js';
import { issueAt } from './issue-at.js';
import type { HttpMatch, StringMatch, VirtualServiceView } from './istio-routes.js';
import type { ServiceRegistry } from './service-registry.js';

/**
 * The same kind/namespace/name in two places: the last one is used (as the loader does when it
 * merges files), and each earlier one is reported where it stands.
 */
export function dropDuplicates(resources: readonly Resource[], issues: ConfigIssue[]): Resource[] {
  const last = new Map<string, Resource>();
  for (const r of resources) last.set(resourceKey(r), r);
  if (last.size === resources.length) return [...resources];
  for (const r of resources) {
    const winner = last.get(resourceKey(r))!;
    if (winner === r) continue;
    const where =
      winner.source.file === r.source.file ? `later in ${winner.source.file}` : `in ${winner.source.file}`;
    issues.push(
      issueAt(
        r,
        'metadata.name',
        'warning',
        `${resourceId(r)} is defined again ${where}; this definition is ignored`,
        'keep one definition per kind, namespace and name',
      ),
    );
  }
  const keep = new Set(last.values());
  return resources.filter((r) => keep.has(r));
}

/** One finding per severity, resource, field and message (translation runs once per service port). */
export function dedupeIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.severity}|${i.resource}|${i.file ?? ''}|${i.path}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

interface DestinationRuleView {
  host: string;
  subsets?: { name: string; labels?: Record<string, string> }[];
}
interface ServiceEntryView {
  hosts: string[];
  resolution?: string;
  endpoints?: unknown[];
  workloadSelector?: unknown;
}

/** Every check that needs the whole resource set; findings go to `issues`. */
export function analyze(
  resources: readonly Resource[],
  registry: ServiceRegistry,
  issues: ConfigIssue[],
): void {
  for (const r of resources) {
    if (r.kind === 'VirtualService') unreachableRules(r, issues);
    else if (r.kind === 'DestinationRule') destinationRule(r, registry, issues);
    else if (r.kind === 'ServiceEntry') serviceEntry(r, issues);
    else if (r.kind === 'MirrorPolicy') mirrorPolicyTargets(r, resources, registry, issues);
  }
  unusedDelegates(resources, issues);
}

// ---------------------------------------------------------------------------------------------
// MirrorPolicies: a target that names nothing leaves the mirror with the defaults — with
// credentials the policy meant to strip — so it must not pass silently.

interface MirrorPolicyTargetsView {
  targetRefs: { kind: string; name: string; sectionName?: string }[];
}

function mirrorPolicyTargets(
  p: Resource,
  resources: readonly Resource[],
  registry: ServiceRegistry,
  issues: ConfigIssue[],
): void {
  const ns = p.metadata.namespace;
  (p.spec as MirrorPolicyTargetsView).targetRefs.forEach((ref, i) => {
    let problem: string | undefined;
    if (ref.kind === 'DestinationRule') {
      const dr = resources.find(
        (r) => r.kind === 'DestinationRule' && r.metadata.namespace === ns && r.metadata.name === ref.name,
      );
      const subsets = (dr?.spec as DestinationRuleView | undefined)?.subsets ?? [];
      if (!dr) problem = `no DestinationRule ${ns}/${ref.name}`;
      else if (ref.sectionName !== undefined && !subsets.some((s) => s.name === ref.sectionName))
        problem = `DestinationRule ${ns}/${ref.name} has no subset "${ref.sectionName}"`;
    } else if (
      ref.kind === 'ServiceEntry' &&
      resources.some(
        (r) => r.kind === 'ServiceEntry' && r.metadata.namespace === ns && r.metadata.name === ref.name,
      )
    ) {
      // Names the ServiceEntry object (GEP-713): attaches to each of its hosts.
    } else {
      const svc = registry.resolve(ref.name, ns);
      const kindOf = svc?.origin.kind;
      if (!svc || svc.namespace !== ns || (kindOf !== undefined && kindOf !== ref.kind))
        problem = `no ${ref.kind} ${ns}/${ref.name}`;
    }
    if (problem)
      issues.push(
        issueAt(
          p,
          `spec.targetRefs[${i}]`,
          'warning',
          `${problem}: this target matches no mirror, which keeps the defaults (headers are not removed)`,
          "name the DestinationRule (and subset) or Service that the mirror destination uses, in the policy's namespace",
        ),
      );
  });
}

// ---------------------------------------------------------------------------------------------
// DestinationRules: a host that names no service, subsets that select no endpoint

function destinationRule(dr: Resource, registry: ServiceRegistry, issues: ConfigIssue[]): void {
  const spec = dr.spec as DestinationRuleView;
  const svc = registry.resolve(spec.host, dr.metadata.namespace);
  if (!svc) {
    if (!spec.host.startsWith('*'))
      issues.push(
        issueAt(
          dr,
          'spec.host',
          'warning',
          `host "${spec.host}" (${qualifyHost(spec.host, dr.metadata.namespace)}) does not resolve to any Service or ServiceEntry; this DestinationRule applies to nothing`,
          'check the name and namespace, or declare the host with a ServiceEntry',
        ),
      );
    return;
  }
  const all = [...svc.endpoints.values()].flat();
  (spec.subsets ?? []).forEach((s, i) => {
    const labels = s.labels ?? {};
    if (all.some((e) => Object.entries(labels).every(([k, v]) => e.labels[k] === v))) return;
    const sel = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    issues.push(
      issueAt(
        dr,
        `spec.subsets[${i}].labels`,
        'warning',
        `subset "${s.name}" selects no endpoint of ${svc.fqdn} (${sel || 'no labels'}); requests routed to it are answered 503 (no healthy upstream)`,
        all.length === 0
          ? `${svc.fqdn} has no endpoints at all: declare its workloads (WorkloadEntry)`
          : 'check the labels on the WorkloadEntries',
      ),
    );
  });
}

function serviceEntry(se: Resource, issues: ConfigIssue[]): void {
  const spec = se.spec as ServiceEntryView;
  if (
    spec.resolution === 'STATIC' &&
    !(spec.endpoints && spec.endpoints.length > 0) &&
    !spec.workloadSelector
  )
    issues.push(
      issueAt(
        se,
        'spec.resolution',
        'warning',
        'resolution STATIC without endpoints or workloadSelector: its hosts resolve to no endpoint (requests get 503)',
        'list the endpoints, or use resolution: DNS to dial the host name',
      ),
    );
}

function unusedDelegates(resources: readonly Resource[], issues: ConfigIssue[]): void {
  const used = new Set<string>();
  const delegates: Resource[] = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const spec = r.spec as VirtualServiceView;
    if (!spec.hosts || spec.hosts.length === 0) delegates.push(r);
    for (const rule of spec.http ?? [])
      if (rule.delegate) used.add(`${rule.delegate.namespace ?? r.metadata.namespace}/${rule.delegate.name}`);
  }
  for (const d of delegates)
    if (!used.has(`${d.metadata.namespace}/${d.metadata.name}`))
      issues.push(
        issueAt(
          d,
          'spec.hosts',
          'warning',
          'a VirtualService without hosts only routes as a delegate, and no rule delegates to this one',
          'add hosts, or reference it from a root rule with delegate: {name, namespace}',
        ),
      );
}

// ---------------------------------------------------------------------------------------------
// Rules that can never match: an earlier rule of the same VirtualService takes all their requests

function unreachableRules(vs: Resource, issues: ConfigIssue[]): void {
  const rules = (vs.spec as VirtualServiceView).http ?? [];
  const earlier: { match?: HttpMatch; path: string }[] = [];
  rules.forEach((rule, j) => {
    const blocks: (HttpMatch | undefined)[] = rule.match && rule.match.length > 0 ? rule.match : [undefined];
    const hidden = blocks.map((b) => earlier.find((e) => covers(e.match, b)));
    if (hidden.every((h) => h !== undefined)) {
      const by = hidden[0]!.path;
      issues.push(
        issueAt(
          vs,
          `spec.http[${j}]`,
          'warning',
          `this rule never matches: ${by} before it takes every request it would match`,
          `move it above ${by}, or narrow ${by}`,
        ),
      );
    } else
      hidden.forEach((h, k) => {
        if (h)
          issues.push(
            issueAt(
              vs,
              `spec.http[${j}].match[${k}]`,
              'warning',
              `this match block never matches: ${h.path} before it takes every request it would match`,
              'remove it or move the rule up',
            ),
          );
      });
    blocks.forEach((b, k) =>
      earlier.push({ match: b, path: b ? `spec.http[${j}].match[${k}]` : `spec.http[${j}]` }),
    );
  });
}

/** Whether every request that `b` matches is matched by `a` (undefined: a block without conditions). */
export function covers(a: HttpMatch | undefined, b: HttpMatch | undefined): boolean {
  if (!a) return true;
  // Conditions Umbra does not model (source labels, gateways) narrow `a` under Istio: never assume.
  const raw = a as Record<string, unknown>;
  if (
    raw.sourceLabels !== undefined ||
    raw.sourceNamespace !== undefined ||
    (raw.gateways !== undefined && !(raw.gateways as string[]).every((g) => g === 'mesh'))
  )
    return false;
  const bb: HttpMatch = b ?? {};
  if (a.port !== undefined && a.port !== bb.port) return false;
  // Case: a case-insensitive `a` covers more; a case-sensitive `a` cannot cover a case-insensitive `b`.
  const aUri = a.uri?.prefix === '/' ? undefined : a.uri;
  if (aUri && bb.ignoreUriCase && !a.ignoreUriCase) return false;
  if (!stringCovers(aUri, bb.uri, Boolean(a.ignoreUriCase))) return false;
  if (
    !stringCovers(a.method, bb.method) ||
    !stringCovers(a.authority, bb.authority) ||
    !stringCovers(a.scheme, bb.scheme)
  )
    return false;
  for (const [k, m] of Object.entries(a.headers ?? {})) {
    if (k.startsWith('@')) return false;
    const other = bb.headers?.[k] ?? bb.headers?.[k.toLowerCase()];
    if (!other || !stringCovers(presence(m), presence(other))) return false;
  }
  for (const [k, m] of Object.entries(a.queryParams ?? {})) {
    const other = bb.queryParams?.[k];
    if (!other || !stringCovers(presence(m), presence(other))) return false;
  }
  // `a` excludes some requests by header: `b` must exclude at least those.
  for (const [k, m] of Object.entries(a.withoutHeaders ?? {})) {
    const other = bb.withoutHeaders?.[k];
    if (!other || JSON.stringify(other) !== JSON.stringify(m)) return false;
  }
  return true;
}

/** A presence-only match ({} or regex "*") as "no value condition". */
function presence(m: StringMatch): StringMatch | undefined {
  return m.exact === undefined && m.prefix === undefined && (m.regex === undefined || m.regex === '*')
    ? undefined
    : m;
}

function stringCovers(a: StringMatch | undefined, b: StringMatch | undefined, ignoreCase = false): boolean {
  if (!a) return true;
  if (a.prefix === '' || a.regex === '.*') return true;
  if (!b) return false;
  const norm = (s: string) => (ignoreCase ? s.toLowerCase() : s);
  if (a.exact !== undefined) return b.exact !== undefined && norm(b.exact) === norm(a.exact);
  if (a.prefix !== undefined) {
    const p = norm(a.prefix);
    return (
      (b.exact !== undefined && norm(b.exact).startsWith(p)) ||
      (b.prefix !== undefined && norm(b.prefix).startsWith(p))
    );
  }
  if (a.regex !== undefined) {
    if (b.regex === a.regex) return true;
    if (b.exact === undefined) return false;
    try {
      return compileRegex(a.regex).matches(b.exact);
    } catch {
      return false;
    }
  }
  return false;
}
