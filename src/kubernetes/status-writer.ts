// Writes Gateway API status (HTTPRoute parents, Gateway conditions) computed by translation back to
// the API server: a JSON merge patch on the status subresource, only when it differs from what the
// object shows, with the object's resourceVersion as precondition (409 → retried on the next event).
// Follows the Gateway API spec for RouteParentStatus (entries are owned per controllerName: other
// controllers' entries are kept) and metav1.Condition (lastTransitionTime moves only when status does).

import { isDeepStrictEqual } from 'node:util';
import { resourceKey, type Resource } from '../config/resource.js';
import type { ConfigState } from '../runtime/config-state.js';
import type { KubeObject } from './informer.js';
import { errorText, statusCodeOf, type KubeHttp } from './kube-http.js';
import { findKind, objectPath } from './kinds.js';
import { API_SERVER_SOURCE } from './to-resource.js';
import { CONTROLLER_NAME } from '../translate/gateway-api/status.js';
import { GATEWAY_GROUP } from '../config/schemas/gateway-api.js';

export { CONTROLLER_NAME };
const MERGE_PATCH = 'application/merge-patch+json';
/** Gateway API kinds whose status this controller writes. */
const STATUS_KINDS = new Set(['HTTPRoute', 'GRPCRoute', 'Gateway']);

type Json = Record<string, unknown>;
interface Condition extends Json {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

export interface StatusWriterOptions {
  readonly http: KubeHttp;
  /** The object as the informer last saw it. */
  readonly lookup: (kind: string, namespace: string, name: string) => KubeObject | undefined;
  readonly log: (line: string) => void;
  readonly controllerName?: string;
  readonly now?: () => Date;
}

export interface StatusWriterStats {
  /** Reconcile passes over all objects. */
  passes: number;
  writes: number;
  conflicts: number;
  failures: number;
  lastError?: string;
}

export class StatusWriter {
  readonly stats: StatusWriterStats = { passes: 0, writes: 0, conflicts: 0, failures: 0 };
  private readonly controller: string;
  /** What was last sent per object: "resourceVersion|status", to not resend before the watch catches up. */
  private readonly sent = new Map<string, string>();
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly o: StatusWriterOptions) {
    this.controller = o.controllerName ?? CONTROLLER_NAME;
  }

  /** Reconciles every status once; calls made while running coalesce into one more pass. */
  sync(state: ConfigState): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass(state);
      } while (this.again);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(state: ConfigState): Promise<void> {
    for (const r of state.resources) {
      if (r.source !== API_SERVER_SOURCE && r.source.file !== API_SERVER_SOURCE.file) continue;
      if (!STATUS_KINDS.has(r.kind) || !r.apiVersion.startsWith(`${GATEWAY_GROUP}/`)) continue;
      await this.reconcile(r, state.statuses.get(resourceKey(r)));
    }
    this.stats.passes++;
  }

  private async reconcile(r: Resource, desired: unknown): Promise<void> {
    const { namespace, name } = r.metadata;
    const observed = this.o.lookup(r.kind, namespace, name);
    // A newer generation is compiling: its status will come with that table.
    if (!observed || (observed.metadata.generation ?? 0) !== (r.metadata.generation ?? 0)) return;
    const before = (observed.status ?? {}) as Json;
    const next =
      r.kind === 'Gateway' ? this.gatewayStatus(before, desired) : this.routeStatus(before, desired);
    if (!next || sameStatus(before, next)) return;
    const key = resourceKey(r);
    const rv = observed.metadata.resourceVersion ?? '';
    const memo = `${rv}|${JSON.stringify(next)}`;
    if (this.sent.get(key) === memo) return;
    const kind = findKind(r.kind, GATEWAY_GROUP);
    if (!kind) return;
    try {
      await this.o.http.patch(
        objectPath(kind, namespace, name, 'status'),
        { metadata: { resourceVersion: rv }, status: next },
        MERGE_PATCH,
      );
      this.sent.set(key, memo);
      this.stats.writes++;
    } catch (e) {
      const code = statusCodeOf(e);
      if (code === 409) this.stats.conflicts++;
      else if (code !== 404) {
        this.stats.failures++;
        this.stats.lastError = errorText(e);
        this.o.log(`kubernetes: cannot write status of ${r.kind} ${namespace}/${name}: ${errorText(e)}`);
      }
    }
  }

  /** HTTPRoute: replace the parents this controller owns, keep every other controller's. */
  private routeStatus(before: Json, desired: unknown): Json | undefined {
    const old = Array.isArray(before.parents) ? (before.parents as Json[]) : [];
    const others = old.filter((p) => p?.controllerName !== this.controller);
    const mineBefore = old.filter((p) => p?.controllerName === this.controller);
    const want = isJson(desired) && Array.isArray(desired.parents) ? (desired.parents as Json[]) : undefined;
    if (!want)
      return mineBefore.length > 0 && desired === undefined ? { ...before, parents: others } : undefined;
    const mine = want
      .map((p): Json => ({ ...p, controllerName: p.controllerName ?? this.controller }))
      .filter((p) => p.controllerName === this.controller)
      .map((p) => {
        const prev = mineBefore.find((q) => isDeepStrictEqual(q.parentRef, p.parentRef));
        return { ...p, conditions: this.conditions(p.conditions, prev?.conditions) };
      });
    return { ...before, ...(desired as Json), parents: [...others, ...mine] };
  }

  /** Gateway: the whole status belongs to the Gateway's controller. */
  private gatewayStatus(before: Json, desired: unknown): Json | undefined {
    if (!isJson(desired)) return undefined;
    const next: Json = { ...before, ...desired };
    if (Array.isArray(desired.conditions))
      next.conditions = this.conditions(desired.conditions, before.conditions);
    if (Array.isArray(desired.listeners)) {
      const oldListeners = Array.isArray(before.listeners) ? (before.listeners as Json[]) : [];
      next.listeners = (desired.listeners as Json[]).map((l) => ({
        ...l,
        conditions: this.conditions(l.conditions, oldListeners.find((o) => o.name === l.name)?.conditions),
      }));
    }
    return next;
  }

  private conditions(want: unknown, had: unknown): Condition[] {
    const prev = Array.isArray(had) ? (had as Condition[]) : [];
    const stamp = (this.o.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
    return (Array.isArray(want) ? (want as Condition[]) : []).map((c) => {
      const old = prev.find((p) => p.type === c.type);
      const lastTransitionTime =
        old && old.status === c.status && old.lastTransitionTime
          ? old.lastTransitionTime
          : (c.lastTransitionTime ?? stamp);
      return { ...c, lastTransitionTime };
    });
  }
}

function isJson(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Equal as the API server would store them; the order of route parents does not matter. */
function sameStatus(a: Json, b: Json): boolean {
  const norm = (s: Json): Json =>
    Array.isArray(s.parents) ? { ...s, parents: [...(s.parents as Json[])].map(canonical).sort() } : s;
  return isDeepStrictEqual(JSON.parse(JSON.stringify(norm(a))), JSON.parse(JSON.stringify(norm(b))));
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isJson(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
