// Gateway API Gateways that Umbra serves: those whose GatewayClass names Umbra's controller. Each
// HTTP or HTTPS (tls.mode Terminate) listener becomes part of a proxy listener on its address and
// port, HTTPS ones with their certificateRefs' Secrets chosen by SNI; HTTPRoutes attach to
// listeners as AllowedRoutes, sectionName/port and hostname intersection permit, and each request
// is served by the routes of the most specific listener for its host (listener isolation).
// Semantics: gateway_types.go and httproute_types.go, gateway.networking.k8s.io/v1.

import type { Resource } from '../../config/resource.js';
import {
  GATEWAY_GROUP,
  type GatewaySpec,
  type Listener,
  type ParentReference,
} from '../../config/schemas/gateway-api.js';
import type {
  GatewayListener,
  ServerCertificate,
  VirtualHost,
  WildcardHost,
} from '../../model/route-table.js';
import { issueAt } from '../issue-at.js';
import { secretCertificate } from '../tls-secrets.js';
import type { GatewayApiContext } from './context.js';
import { ANY_HOST, covers, intersectHostnames, specificity } from './hostnames.js';
import { compareKeys } from './precedence.js';
import { routesForPort, type CompiledRoute, type RouteEntry } from './rules.js';
import {
  ACCEPTED,
  condition,
  CONTROLLER_NAME,
  type Condition,
  type ListenerStatus,
  type RouteAcceptedReason,
  type Verdict,
} from './status.js';

/** Route kinds an HTTP listener admits (GRPCRoute needs h2c with prior knowledge, which Umbra serves). */
const ROUTE_KINDS = new Set(['HTTPRoute', 'GRPCRoute']);
const HTTP_LISTENER_KINDS = [...ROUTE_KINDS].map((kind) => ({ group: GATEWAY_GROUP, kind }));

interface ListenerState {
  readonly gateway: Resource<GatewaySpec>;
  readonly index: number;
  readonly spec: Listener;
  readonly address: string;
  /** Why it cannot be served, if it cannot (listener condition reason and message). */
  problem?: { reason: string; message: string };
  conflicted?: string;
  /** Why the listener conflicts (ListenerConditionReason): HostnameConflict or ProtocolConflict. */
  conflictReason?: string;
  /** HTTPS: the certificates of its certificateRefs that can be served. */
  certificates: ServerCertificate[];
  /** HTTPS: a certificateRef that cannot be used (ResolvedRefs=False with this reason). */
  refProblem?: { reason: 'InvalidCertificateRef' | 'RefNotPermitted'; message: string };
  /** Route kinds it accepts (empty when only unsupported kinds are listed). */
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
  readonly attachments: { route: CompiledRoute; hosts: string[] }[];
}

function labelsMatch(
  selector: NonNullable<Listener['allowedRoutes']['namespaces']['selector']>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export class GatewaySet {
  private readonly listeners: ListenerState[] = [];
  private readonly ours = new Set<Resource>();
  private readonly gatewayProblems = new Map<Resource, { reason: string; message: string }>();

  constructor(private readonly ctx: GatewayApiContext) {
    const ourClasses = new Set(
      ctx.classes.filter((c) => c.spec.controllerName === CONTROLLER_NAME).map((c) => c.metadata.name),
    );
    for (const gw of ctx.gateways) {
      if (!ourClasses.has(gw.spec.gatewayClassName)) {
        const known = ctx.classes.some((c) => c.metadata.name === gw.spec.gatewayClassName);
        ctx.build.issues.push(
          issueAt(
            gw,
            'spec.gatewayClassName',
            'warning',
            known
              ? `GatewayClass ${gw.spec.gatewayClassName} belongs to another controller; Umbra does not serve this Gateway`
              : `GatewayClass ${gw.spec.gatewayClassName} does not exist; Umbra does not serve this Gateway`,
            `Umbra serves Gateways whose GatewayClass has controllerName ${CONTROLLER_NAME}`,
          ),
        );
        continue;
      }
      this.ours.add(gw);
      this.addListeners(gw);
    }
    this.markConflicts();
  }

  private addListeners(gw: Resource<GatewaySpec>): void {
    const addrs = gw.spec.addresses ?? [];
    const ip = addrs.find((a) => a.type === 'IPAddress' && a.value);
    if (addrs.length > 0 && !ip)
      this.gatewayProblems.set(gw, {
        reason: 'UnsupportedAddress',
        message: 'only IPAddress addresses are supported by Umbra',
      });
    const address = ip?.value ?? '';
    gw.spec.listeners.forEach((spec, index) => {
      const kinds = spec.allowedRoutes.kinds;
      const l: ListenerState = {
        gateway: gw,
        index,
        spec,
        address,
        supportedKinds: kinds
          ? kinds.filter((k) => k.group === GATEWAY_GROUP && ROUTE_KINDS.has(k.kind))
          : HTTP_LISTENER_KINDS,
        attachedRoutes: 0,
        attachments: [],
        certificates: [],
      };
      if (spec.protocol !== 'HTTP' && spec.protocol !== 'HTTPS') {
        l.problem = {
          reason: 'UnsupportedProtocol',
          message: `protocol ${spec.protocol} is not supported by Umbra (HTTP and HTTPS only)`,
        };
        l.supportedKinds = [];
        this.ctx.build.issues.push(
          issueAt(
            gw,
            `spec.listeners[${index}].protocol`,
            'warning',
            l.problem.message,
            'the listener is not served',
          ),
        );
      } else if (this.gatewayProblems.has(gw))
        l.problem = { reason: 'Invalid', message: this.gatewayProblems.get(gw)!.message };
      else if (spec.protocol === 'HTTPS') this.resolveCertificates(l);
      this.listeners.push(l);
    });
  }

  /**
   * Loads an HTTPS listener's certificateRefs (GatewayTLSConfig): Secrets in the Gateway's namespace,
   * or in another one that a ReferenceGrant opens to Gateways of this namespace. The usable ones are
   * served; any unusable one is reported (ResolvedRefs=False), and with none the listener is not served.
   */
  private resolveCertificates(l: ListenerState): void {
    const gw = l.gateway;
    const refs = l.spec.tls?.certificateRefs ?? [];
    const problems: { reason: 'InvalidCertificateRef' | 'RefNotPermitted'; message: string; i: number }[] =
      [];
    if (refs.length === 0)
      problems.push({
        reason: 'InvalidCertificateRef',
        message: 'an HTTPS listener that terminates TLS needs tls.certificateRefs',
        i: -1,
      });
    refs.forEach((ref, i) => {
      const ns = ref.namespace ?? gw.metadata.namespace;
      if (ref.group !== '' || ref.kind !== 'Secret') {
        problems.push({
          reason: 'InvalidCertificateRef',
          message: `certificateRefs[${i}]: ${ref.kind}${ref.group ? `.${ref.group}` : ''} is not supported (Umbra reads core Secrets)`,
          i,
        });
        return;
      }
      if (ns !== gw.metadata.namespace && !this.secretGranted(gw.metadata.namespace, ns, ref.name)) {
        problems.push({
          reason: 'RefNotPermitted',
          message: `certificateRefs[${i}]: Secret ${ns}/${ref.name} is in another namespace and no ReferenceGrant there allows Gateways from ${gw.metadata.namespace}`,
          i,
        });
        return;
      }
      const c = secretCertificate(this.ctx.build.resources, ns, ref.name);
      if (!c.ok) {
        problems.push({ reason: 'InvalidCertificateRef', message: `certificateRefs[${i}]: ${c.message}`, i });
        return;
      }
      l.certificates.push({
        hostname: l.spec.hostname ?? ANY_HOST,
        source: `Secret ${ns}/${ref.name}`,
        certPem: c.certPem,
        keyPem: c.keyPem,
      });
    });
    if (problems.length === 0) return;
    l.refProblem = { reason: problems[0].reason, message: problems.map((p) => p.message).join('; ') };
    for (const p of problems)
      this.ctx.build.issues.push(
        issueAt(
          gw,
          p.i < 0
            ? `spec.listeners[${l.index}].tls`
            : `spec.listeners[${l.index}].tls.certificateRefs[${p.i}]`,
          'warning',
          p.message,
          l.certificates.length > 0
            ? 'the listener is served with its other certificates'
            : "the listener is not served (status ResolvedRefs=False); the Gateway's other listeners are",
        ),
      );
  }

  /** ReferenceGrant (v1beta1) in `to` letting Gateways of `from` use Secret `name`. */
  private secretGranted(from: string, to: string, name: string): boolean {
    return this.ctx.grants.some(
      (g) =>
        g.metadata.namespace === to &&
        g.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === 'Gateway' && f.namespace === from) &&
        g.spec.to.some(
          (t) => t.group === '' && t.kind === 'Secret' && (t.name === undefined || t.name === name),
        ),
    );
  }

  /**
   * Listeners sharing an address and port must agree on the protocol (a port is either TLS or
   * plain): the oldest Gateway's first listener sets it, the others are ProtocolConflict. Two
   * Gateways' listeners with the same hostname there: the older keeps it (HostnameConflict).
   */
  private markConflicts(): void {
    const protocolOf = new Map<string, ListenerState>();
    for (const l of this.listeners) {
      if (l.problem) continue;
      const key = `${l.address}|${l.spec.port}`;
      const first = protocolOf.get(key);
      if (!first) protocolOf.set(key, l);
      else if (first.spec.protocol !== l.spec.protocol) {
        l.conflicted = `port ${l.spec.port} is served as ${first.spec.protocol} by Gateway ${first.gateway.metadata.namespace}/${first.gateway.metadata.name} listener ${first.spec.name}`;
        l.conflictReason = 'ProtocolConflict';
        this.ctx.build.issues.push(
          issueAt(
            l.gateway,
            `spec.listeners[${l.index}].protocol`,
            'warning',
            l.conflicted,
            'the listener is not served',
          ),
        );
      }
    }
    const seen = new Map<string, ListenerState>();
    for (const l of this.listeners) {
      if (l.problem || l.conflicted) continue;
      const key = `${l.address}|${l.spec.port}|${l.spec.hostname ?? ''}`;
      const first = seen.get(key);
      if (first && first.gateway !== l.gateway) {
        l.conflictReason = 'HostnameConflict';
        l.conflicted = `Gateway ${first.gateway.metadata.namespace}/${first.gateway.metadata.name} listener ${first.spec.name} already serves hostname "${l.spec.hostname ?? '*'}" on port ${l.spec.port}`;
        this.ctx.build.issues.push(
          issueAt(
            l.gateway,
            `spec.listeners[${l.index}]`,
            'warning',
            l.conflicted,
            'the listener is not served',
          ),
        );
      } else if (!first) seen.set(key, l);
    }
  }

  private usable(l: ListenerState): boolean {
    return !l.problem && !l.conflicted && (l.spec.protocol !== 'HTTPS' || l.certificates.length > 0);
  }

  private namespaceLabels(ns: string): Record<string, string> {
    const r = this.ctx.namespaces.find((n) => n.metadata.name === ns);
    return { ...(r?.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns };
  }

  private allows(l: ListenerState, route: Resource): boolean {
    if (!l.supportedKinds.some((k) => k.kind === route.kind)) return false;
    const ns = l.spec.allowedRoutes.namespaces;
    if (ns.from === 'All') return true;
    if (ns.from === 'Same') return route.metadata.namespace === l.gateway.metadata.namespace;
    return (
      ns.selector !== undefined && labelsMatch(ns.selector, this.namespaceLabels(route.metadata.namespace))
    );
  }

  /**
   * Attaches a route to a Gateway parent. Returns the Accepted verdict, or undefined when the
   * Gateway is another controller's (then Umbra writes no status for that parent).
   */
  attach(route: CompiledRoute, ref: ParentReference): Verdict<RouteAcceptedReason> | undefined {
    const hr = route.resource;
    const ns = ref.namespace ?? hr.metadata.namespace;
    const gw = this.ctx.gateways.find((g) => g.metadata.namespace === ns && g.metadata.name === ref.name);
    if (!gw) return { ok: false, reason: 'NoMatchingParent', message: `Gateway ${ns}/${ref.name} not found` };
    if (!this.ours.has(gw)) return undefined;
    const candidates = this.listeners.filter(
      (l) =>
        l.gateway === gw &&
        (ref.sectionName === undefined || l.spec.name === ref.sectionName) &&
        (ref.port === undefined || l.spec.port === ref.port),
    );
    if (candidates.length === 0) {
      const what = [
        ref.sectionName !== undefined ? `named "${ref.sectionName}"` : '',
        ref.port !== undefined ? `on port ${ref.port}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      return {
        ok: false,
        reason: 'NoMatchingParent',
        message: `Gateway ${ns}/${ref.name} has no listener ${what}`,
      };
    }
    const allowed = candidates.filter((l) => this.usable(l) && this.allows(l, hr));
    if (allowed.length === 0) {
      const why = candidates.map((l) =>
        l.problem
          ? l.problem.message
          : l.conflicted
            ? 'conflicted'
            : !this.usable(l)
              ? (l.refProblem?.message ?? 'not served')
              : `allowedRoutes does not admit ${hr.kind}s from namespace ${hr.metadata.namespace}`,
      );
      return {
        ok: false,
        reason: 'NotAllowedByListeners',
        message: `no listener of Gateway ${ns}/${ref.name} admits this route: ${[...new Set(why)].join('; ')}`,
      };
    }
    const hostnames = hr.spec.hostnames ?? [];
    const matched = allowed
      .map((l) => ({ l, hosts: intersectHostnames(l.spec.hostname, hostnames) }))
      .filter((x) => x.hosts.length > 0);
    // attachedRoutes counts a route on the listeners it can serve: allowed there and with a hostname
    // in common (conformance GatewayWithAttachedRoutes, HTTPRouteListenerHostnameMatching), whether
    // or not its rules are all valid.
    for (const { l } of matched) l.attachedRoutes++;
    if (matched.length === 0)
      return {
        ok: false,
        reason: 'NoMatchingListenerHostname',
        message: `no listener hostname of Gateway ${ns}/${ref.name} intersects the route's hostnames`,
      };
    if (!route.accepted.ok) return route.accepted;
    // An HTTPRoute and a GRPCRoute whose hostnames intersect on one listener: exactly one is accepted,
    // the older (routes attach oldest first), GRPCRouteSpec.hostnames.
    for (const { l, hosts } of matched)
      for (const a of l.attachments)
        if (a.route.resource.kind !== hr.kind && a.hosts.some((h) => hosts.some((x) => hostsMeet(h, x))))
          return {
            ok: false,
            reason: 'NotAllowedByListeners',
            message: `${a.route.resource.kind} ${a.route.resource.metadata.namespace}/${a.route.resource.metadata.name} (older) already serves an intersecting hostname on listener ${l.spec.name}; HTTPRoutes and GRPCRoutes are not merged`,
          };
    for (const { l, hosts } of matched) l.attachments.push({ route, hosts });
    return ACCEPTED;
  }

  /** The most specific usable listener on this address and port whose hostname covers `h`. */
  private owner(group: readonly ListenerState[], h: string): ListenerState | undefined {
    let best: ListenerState | undefined;
    for (const l of group)
      if (
        covers(l.spec.hostname, h) &&
        (!best || specificity(l.spec.hostname) > specificity(best.spec.hostname))
      )
        best = l;
    return best;
  }

  /** One proxy listener per address and port, with a virtual host per served hostname. */
  proxyListeners(): GatewayListener[] {
    const groups = new Map<string, ListenerState[]>();
    for (const l of this.listeners) {
      if (!this.usable(l)) continue;
      const key = `${l.address}|${l.spec.port}`;
      groups.set(key, [...(groups.get(key) ?? []), l]);
    }
    const out: GatewayListener[] = [];
    for (const group of groups.values()) {
      const port = group[0].spec.port;
      const tls = group[0].spec.protocol === 'HTTPS';
      const byHost = new Map<string, Map<CompiledRoute, readonly RouteEntry[]>>();
      for (const l of group)
        for (const { route, hosts } of l.attachments)
          for (const h of hosts) {
            if (this.owner(group, h) !== l) continue; // a more specific listener serves this host
            let m = byHost.get(h);
            if (!m) byHost.set(h, (m = new Map()));
            m.set(route, route.entries);
          }
      const hostIndex = new Map<string, VirtualHost>();
      const wildcardHosts: WildcardHost[] = [];
      let catchAll: VirtualHost | undefined;
      for (const [h, routes] of byHost) {
        const entries = [...routes.values()].flat().sort((a, b) => compareKeys(a.key, b.key));
        const vhost: VirtualHost = { name: `gateway:${port}/${h}`, routes: routesForPort(entries, port) };
        if (h === ANY_HOST) catchAll = vhost;
        else if (h.startsWith('*.')) wildcardHosts.push({ suffix: h.slice(1), vhost });
        else hostIndex.set(`${h}:*`, vhost);
      }
      wildcardHosts.sort((a, b) => b.suffix.length - a.suffix.length);
      out.push({
        name: group
          .map((l) => `${l.gateway.metadata.namespace}/${l.gateway.metadata.name}/${l.spec.name}`)
          .join(','),
        address: group[0].address,
        port,
        hostIndex,
        wildcardHosts,
        catchAll,
        ...(tls ? { tls: { certificates: group.flatMap((l) => l.certificates) } } : {}),
      });
    }
    return out;
  }

  /** Status of every GatewayClass and Gateway Umbra owns. */
  writeStatuses(set: (r: Resource, status: unknown) => void): void {
    const now = this.ctx.now;
    for (const c of this.ctx.classes)
      if (c.spec.controllerName === CONTROLLER_NAME)
        set(c, {
          conditions: [condition(c, 'Accepted', true, 'Accepted', `Handled by ${CONTROLLER_NAME}`, now)],
        });
    for (const gw of this.ours) {
      const ls = this.listeners.filter((l) => l.gateway === gw);
      const served = ls.filter((l) => this.usable(l));
      const listeners: ListenerStatus[] = ls.map((l) => this.listenerStatus(l));
      const gp = this.gatewayProblems.get(gw);
      const conditions: Condition[] = gp
        ? [
            condition(gw, 'Accepted', false, gp.reason, gp.message, now),
            condition(gw, 'Programmed', false, 'AddressNotUsable', gp.message, now),
          ]
        : [
            served.length === ls.length
              ? condition(gw, 'Accepted', true, 'Accepted', 'Gateway is served by Umbra', now)
              : condition(
                  gw,
                  'Accepted',
                  served.length > 0,
                  'ListenersNotValid',
                  `${ls.length - served.length} of ${ls.length} listeners cannot be served`,
                  now,
                ),
            condition(
              gw,
              'Programmed',
              served.length > 0,
              served.length > 0 ? 'Programmed' : 'Invalid',
              served.length > 0 ? 'Listeners are programmed' : 'No listener can be served',
              now,
            ),
          ];
      const address = ls[0]?.address;
      set(gw, {
        ...(address ? { addresses: [{ type: 'IPAddress', value: address }] } : {}),
        conditions,
        listeners,
      });
    }
  }

  private listenerStatus(l: ListenerState): ListenerStatus {
    const now = this.ctx.now;
    const gw = l.gateway;
    const kindsOk =
      l.spec.allowedRoutes.kinds === undefined ||
      l.supportedKinds.length === l.spec.allowedRoutes.kinds.length;
    const conditions: Condition[] = [
      l.problem
        ? condition(gw, 'Accepted', false, l.problem.reason, l.problem.message, now)
        : condition(gw, 'Accepted', true, 'Accepted', 'Listener is valid', now),
      this.usable(l)
        ? condition(gw, 'Programmed', true, 'Programmed', `Served on ${l.address || '*'}:${l.spec.port}`, now)
        : condition(
            gw,
            'Programmed',
            false,
            'Invalid',
            l.problem?.message ?? l.conflicted ?? l.refProblem?.message ?? 'not served',
            now,
          ),
      l.refProblem
        ? condition(gw, 'ResolvedRefs', false, l.refProblem.reason, l.refProblem.message, now)
        : kindsOk
          ? condition(gw, 'ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', now)
          : condition(
              gw,
              'ResolvedRefs',
              false,
              'InvalidRouteKinds',
              'Umbra supports HTTPRoute and GRPCRoute only',
              now,
            ),
      l.conflicted
        ? condition(gw, 'Conflicted', true, l.conflictReason ?? 'HostnameConflict', l.conflicted, now)
        : condition(gw, 'Conflicted', false, 'NoConflicts', 'No conflicts', now),
    ];
    return {
      name: l.spec.name,
      supportedKinds: l.supportedKinds,
      attachedRoutes: l.attachedRoutes,
      conditions,
    };
  }
}

/** Two hostnames (already intersected with the listener's) that some request host could match both. */
function hostsMeet(a: string, b: string): boolean {
  return a === b || covers(a, b) || covers(b, a);
}
