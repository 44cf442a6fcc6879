// Gateway API match precedence (HTTPRouteRule, gateway.networking.k8s.io/v1): across all rules of
// all routes on one parent, an Exact path beats a PathPrefix, a longer prefix beats a shorter one,
// then a method match, then more header matches, then more query-param matches; remaining ties go
// to the oldest route, then to "{namespace}/{name}" in alphabetical order, then to list order.
// The data plane takes the first matching route, so sorting by this key realises the rule.
// RegularExpression paths are ranked after prefixes (implementation-specific, as in Istio).

import type { Resource } from '../../config/resource.js';

export interface PrecedenceKey {
  /** 3 Exact, 2 PathPrefix, 1 RegularExpression. */
  readonly pathRank: number;
  readonly pathLength: number;
  readonly hasMethod: boolean;
  readonly headers: number;
  readonly queryParams: number;
  readonly created: string;
  readonly id: string;
  readonly rule: number;
  readonly match: number;
}

export function compareKeys(a: PrecedenceKey, b: PrecedenceKey): number {
  return (
    b.pathRank - a.pathRank ||
    b.pathLength - a.pathLength ||
    Number(b.hasMethod) - Number(a.hasMethod) ||
    b.headers - a.headers ||
    b.queryParams - a.queryParams ||
    compareText(a.created, b.created) ||
    compareText(a.id, b.id) ||
    a.rule - b.rule ||
    a.match - b.match
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Oldest first, then "{namespace}/{name}": the order conflicts between resources are settled in. */
export function byAge(a: Resource, b: Resource): number {
  return (
    compareText(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? '') ||
    compareText(resourceName(a), resourceName(b))
  );
}

export function resourceName(r: Resource): string {
  return `${r.metadata.namespace}/${r.metadata.name}`;
}
