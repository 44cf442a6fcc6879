// Gateway API status as Umbra writes it: conditions with the spec's types and reasons, one
// RouteParentStatus per parent Umbra serves, Gateway listener status and GatewayClass acceptance
// (gateway.networking.k8s.io/v1 shared_types.go, gateway_types.go, gatewayclass_types.go).

import type { Resource } from '../../config/resource.js';

/** The controllerName a GatewayClass must carry for Umbra to serve its Gateways. */
export const CONTROLLER_NAME = 'umbra.dev/gateway-controller';

export type RouteAcceptedReason =
  | 'Accepted'
  | 'NotAllowedByListeners'
  | 'NoMatchingListenerHostname'
  | 'NoMatchingParent'
  | 'UnsupportedValue';
export type RouteResolvedRefsReason = 'ResolvedRefs' | 'RefNotPermitted' | 'InvalidKind' | 'BackendNotFound';

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

/** A condition about `r`, observed at `now` (one timestamp per table build). */
export function condition(
  r: Resource,
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  now: string,
): Condition {
  const c: Condition = { type, status: ok ? 'True' : 'False', reason, message, lastTransitionTime: now };
  return r.metadata.generation !== undefined ? { ...c, observedGeneration: r.metadata.generation } : c;
}

/** A verdict on one condition: True with its positive reason, or False with why. */
export interface Verdict<R extends string> {
  readonly ok: boolean;
  readonly reason: R;
  readonly message: string;
}

export const ACCEPTED: Verdict<RouteAcceptedReason> = {
  ok: true,
  reason: 'Accepted',
  message: 'Route was valid and is served by Umbra',
};
export const REFS_RESOLVED: Verdict<RouteResolvedRefsReason> = {
  ok: true,
  reason: 'ResolvedRefs',
  message: 'All references resolved',
};

export interface ParentRefEcho {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface RouteParentStatus {
  readonly parentRef: ParentRefEcho;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

export function routeParentStatus(
  route: Resource,
  parentRef: ParentRefEcho,
  accepted: Verdict<RouteAcceptedReason>,
  refs: Verdict<RouteResolvedRefsReason>,
  now: string,
): RouteParentStatus {
  return {
    parentRef,
    controllerName: CONTROLLER_NAME,
    conditions: [
      condition(route, 'Accepted', accepted.ok, accepted.reason, accepted.message, now),
      condition(route, 'ResolvedRefs', refs.ok, refs.reason, refs.message, now),
    ],
  };
}

export interface ListenerStatus {
  readonly name: string;
  readonly supportedKinds: readonly { group: string; kind: string }[];
  readonly attachedRoutes: number;
  readonly conditions: readonly Condition[];
}
