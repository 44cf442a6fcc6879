// VirtualService delegation (Istio `http[].delegate`): a root rule hands its traffic to the rules
// of a host-less "delegate" VirtualService. Merge rules follow istio pilot/pkg/model/virtualservice.go:
// each delegate match must narrow one of the root's matches; unset delegate fields inherit the root's.

import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import { issueAt } from './issue-at.js';
import type { HttpMatch, IstioHttpRule, StringMatch, VirtualServiceView } from './istio-routes.js';

/** One rule as routed: merged when it came through a delegate, with the resource it is read from. */
export interface ExpandedRule {
  readonly rule: IstioHttpRule;
  /** Destinations resolve in this resource's namespace, and issues point into it. */
  readonly resource: Resource;
  /** "spec.http[i]" inside `resource`. */
  readonly path: string;
  readonly index: number;
}

/** Delegates by "namespace/name"; only VirtualServices without hosts can be delegates. */
export function delegateIndex(resources: readonly Resource[]): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const hosts = (r.spec as VirtualServiceView).hosts;
    if (!hosts || hosts.length === 0) out.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
  }
  return out;
}

/** The rules of a VirtualService in order, delegate rules spliced in where their root rule was. */
export function expandRules(
  vs: Resource,
  delegates: ReadonlyMap<string, Resource> | undefined,
  issues: ConfigIssue[],
): ExpandedRule[] {
  const out: ExpandedRule[] = [];
  ((vs.spec as VirtualServiceView).http ?? []).forEach((rule, ri) => {
    const path = `spec.http[${ri}]`;
    if (!rule.delegate) {
      out.push({ rule, resource: vs, path, index: ri });
      return;
    }
    const ns = rule.delegate.namespace ?? vs.metadata.namespace;
    const target = delegates?.get(`${ns}/${rule.delegate.name}`);
    if (!target) {
      // Istio drops just this rule when its delegate is missing.
      issues.push(
        issueAt(
          vs,
          `${path}.delegate`,
          'warning',
          `delegate VirtualService ${ns}/${rule.delegate.name} not found (or it has hosts); this rule routes nothing`,
          'a delegate is a VirtualService without hosts',
        ),
      );
      return;
    }
    ((target.spec as VirtualServiceView).http ?? []).forEach((leaf, li) => {
      const leafPath = `spec.http[${li}]`;
      if (leaf.delegate) {
        issues.push(
          issueAt(
            target,
            `${leafPath}.delegate`,
            'warning',
            'a delegate cannot delegate again (one level only); this rule is ignored',
          ),
        );
        return;
      }
      const merged = mergeRule(rule, leaf);
      if (!merged) {
        issues.push(
          issueAt(
            target,
            `${leafPath}.match`,
            'warning',
            `its matches are not narrower than the root's (${vs.metadata.namespace}/${vs.metadata.name} ${path}.match); the rule is ignored`,
            'a delegate match must be a subset of a root match: same or longer prefix, equal exact values, no regex on both sides',
          ),
        );
        return;
      }
      out.push({ rule: merged, resource: target, path: leafPath, index: li });
    });
  });
  return out;
}

function mergeRule(root: IstioHttpRule, leaf: IstioHttpRule): IstioHttpRule | undefined {
  const match = mergeMatches(root.match ?? [], leaf.match ?? []);
  if (!match) return undefined;
  return {
    ...leaf,
    match,
    name:
      leaf.name === undefined ? root.name : root.name !== undefined ? `${root.name}-${leaf.name}` : leaf.name,
    rewrite: leaf.rewrite ?? root.rewrite,
    timeout: leaf.timeout ?? root.timeout,
    retries: leaf.retries ?? root.retries,
    fault: leaf.fault ?? root.fault,
    mirror: leaf.mirror ?? (leaf.mirrors ? undefined : root.mirror),
    mirrorPercent: leaf.mirrorPercent ?? root.mirrorPercent,
    mirrorPercentage: leaf.mirrorPercentage ?? root.mirrorPercentage,
    mirrors: leaf.mirrors ?? (leaf.mirror ? undefined : root.mirrors),
    corsPolicy: leaf.corsPolicy ?? root.corsPolicy,
    headers: leaf.headers ?? root.headers,
  };
}

/** Every leaf match must narrow at least one root match; each such pair becomes one match. */
function mergeMatches(root: HttpMatch[], leaf: HttpMatch[]): HttpMatch[] | undefined {
  if (root.length === 0) return leaf;
  if (leaf.length === 0) return root;
  const out: HttpMatch[] = [];
  for (const l of leaf) {
    let found = false;
    for (const r of root) {
      if (conflicts(r, l)) continue;
      out.push(mergeMatch(r, l));
      found = true;
    }
    if (!found) return undefined;
  }
  return out.length > 0 ? out : undefined;
}

function mergeMatch(r: HttpMatch, l: HttpMatch): HttpMatch {
  const maps = (a?: Record<string, StringMatch>, b?: Record<string, StringMatch>) =>
    a || b ? { ...a, ...b } : undefined;
  return {
    ...l,
    name: l.name === undefined ? r.name : r.name !== undefined ? `${r.name}-${l.name}` : l.name,
    uri: l.uri ?? r.uri,
    scheme: l.scheme ?? r.scheme,
    method: l.method ?? r.method,
    authority: l.authority ?? r.authority,
    headers: maps(r.headers, l.headers),
    withoutHeaders: maps(r.withoutHeaders, l.withoutHeaders),
    queryParams: maps(r.queryParams, l.queryParams),
    port: l.port ?? r.port,
    sourceLabels: r.sourceLabels || l.sourceLabels ? { ...r.sourceLabels, ...l.sourceLabels } : undefined,
    sourceNamespace: l.sourceNamespace ?? r.sourceNamespace,
    gateways: l.gateways ?? r.gateways,
  };
}

function conflicts(r: HttpMatch, l: HttpMatch): boolean {
  if (
    stringConflict(r.uri, l.uri) ||
    stringConflict(r.scheme, l.scheme) ||
    stringConflict(r.method, l.method) ||
    stringConflict(r.authority, l.authority)
  )
    return true;
  for (const [k, v] of Object.entries(l.headers ?? {})) if (stringConflict(r.headers?.[k], v)) return true;
  // As Istio does: a leaf's withoutHeaders is checked against the root's headers.
  for (const [k, v] of Object.entries(l.withoutHeaders ?? {}))
    if (stringConflict(r.headers?.[k], v)) return true;
  for (const [k, v] of Object.entries(l.queryParams ?? {}))
    if (stringConflict(r.queryParams?.[k], v)) return true;
  if (Boolean(r.ignoreUriCase) !== Boolean(l.ignoreUriCase)) return true;
  return r.port !== undefined && l.port !== undefined && r.port !== l.port;
}

/** A leaf value conflicts unless it is no wider than the root's (regexes never compare). */
function stringConflict(r: StringMatch | undefined, l: StringMatch | undefined): boolean {
  if (!r || !l) return false;
  if (r.regex !== undefined || l.regex !== undefined) return true;
  if (r.exact !== undefined) return l.prefix !== undefined || l.exact !== r.exact;
  if (r.prefix !== undefined) {
    if (l.prefix !== undefined) return !l.prefix.startsWith(r.prefix);
    if (l.exact !== undefined) return !l.exact.startsWith(r.prefix);
  }
  return true;
}
