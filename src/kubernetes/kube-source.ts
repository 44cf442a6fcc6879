// Umbra's configuration from the API server: one informer per watched kind, the objects turned into
// Resources (Pods into Workloads) for the config loader, a reload scheduled on every change (the
// same debounced compile-and-swap as file changes), and Gateway API status written back.

import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import type { ConfigState } from '../runtime/config-state.js';
import type { Workload } from '../translate/service-registry.js';
import type { BackoffOptions } from './backoff.js';
import { Informer, keyOf, type InformerStats, type KubeObject } from './informer.js';
import { errorText, KubeHttp } from './kube-http.js';
import { WATCHED_KINDS, type WatchedKind } from './kinds.js';
import { podWorkload, trimPod } from './pods.js';
import { StatusWriter, type StatusWriterStats } from './status-writer.js';
import { toResource, type Converted } from './to-resource.js';

export interface KubernetesOptions {
  /** Path of a kubeconfig; otherwise $KUBECONFIG, the pod's service account, or ~/.kube/config. */
  readonly kubeconfig?: string;
  /** Watch this namespace only (default: Umbra's --namespace). */
  readonly watchNamespace?: string;
  readonly allNamespaces?: boolean;
  /** Kinds to watch (default: all of WATCHED_KINDS). */
  readonly kinds?: readonly string[];
  /** Status write-back (HTTPRoute/Gateway); default true. */
  readonly writeStatus?: boolean;
  readonly controllerName?: string;
  /** How often statuses are reconciled even without events (default 5 min). */
  readonly resyncMs?: number;
  readonly watchTimeoutSeconds?: number;
  readonly idleMs?: number;
  readonly backoff?: BackoffOptions;
  /** How long startup waits for every kind's first list (default 60 s). */
  readonly syncTimeoutMs?: number;
  readonly pageSize?: number;
  readonly notServedRetryMs?: number;
}

export interface FeedSnapshot {
  readonly resources: readonly Resource[];
  readonly issues: readonly ConfigIssue[];
  readonly workloads: readonly Workload[];
}

export interface KubernetesView {
  readonly server: string;
  readonly namespace: string;
  readonly informers: readonly InformerStats[];
  readonly status?: StatusWriterStats;
}

export class KubernetesSource {
  readonly http: KubeHttp;
  readonly informers: Informer[];
  private readonly statusWriter?: StatusWriter;
  private changeListener?: () => void;
  private statusTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private state?: ConfigState;
  private readonly converted = new WeakMap<KubeObject, Converted>();
  private readonly workloads = new WeakMap<KubeObject, Workload>();
  private closed = false;

  constructor(
    kc: KubeConfig,
    private readonly o: KubernetesOptions & { readonly namespace?: string },
    private readonly log: (line: string) => void,
  ) {
    this.http = new KubeHttp(kc);
    const watch = new Watch(kc);
    const kinds = o.kinds ? WATCHED_KINDS.filter((k) => o.kinds!.includes(k.kind)) : WATCHED_KINDS;
    this.informers = kinds.map(
      (kind) =>
        new Informer({
          kind,
          namespace: o.namespace,
          http: this.http,
          watch,
          log,
          onEvent: (k, content) => this.onEvent(k, content),
          backoff: o.backoff,
          watchTimeoutSeconds: o.watchTimeoutSeconds,
          idleMs: o.idleMs,
          pageSize: o.pageSize,
          notServedRetryMs: o.notServedRetryMs,
          transform: kind.role === 'workload' ? trimPod : dropManagedFields,
        }),
    );
    if (o.writeStatus !== false)
      this.statusWriter = new StatusWriter({
        http: this.http,
        lookup: (kind, ns, name) => this.lookup(kind, ns, name),
        log,
        controllerName: o.controllerName,
      });
  }

  start(): void {
    for (const i of this.informers) i.start();
  }

  /** Resolves once every kind has been listed once; rejects after `timeoutMs` naming what is missing. */
  async waitForSync(timeoutMs = this.o.syncTimeoutMs ?? 60_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => {
        const missing = this.informers
          .filter((i) => !i.stats.synced)
          .map((i) => `${i.stats.kind} (${i.stats.lastError ?? 'no answer'})`);
        fail(
          new Error(
            `could not list from the API server at ${this.http.server} within ${timeoutMs} ms: ${missing.join('; ')}`,
          ),
        );
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.all(this.informers.map((i) => i.synced)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Called (many times; the loader debounces) whenever an object's content changes. */
  onChange(cb: () => void): void {
    this.changeListener = cb;
  }

  /** Status write-back after every swap, after status-relevant events, and every resync period. */
  attach(state: ConfigState): void {
    this.state = state;
    if (!this.statusWriter) return;
    state.on('swap', () => this.scheduleStatus(0));
    this.resyncTimer = setInterval(() => this.scheduleStatus(0), this.o.resyncMs ?? 300_000);
    this.resyncTimer.unref();
    if (state.ready) this.scheduleStatus(0);
  }

  /** The objects as configuration: resources, their validation issues, and pods as workloads. */
  snapshot(): FeedSnapshot {
    const resources: Resource[] = [];
    const issues: ConfigIssue[] = [];
    const workloads: Workload[] = [];
    for (const inf of this.informers) {
      const workload = inf.stats.kind === 'Pod';
      for (const obj of inf.objects.values()) {
        if (workload) {
          let w = this.workloads.get(obj);
          if (!w) this.workloads.set(obj, (w = podWorkload(obj)));
          workloads.push(w);
          continue;
        }
        let c = this.converted.get(obj);
        if (!c) this.converted.set(obj, (c = toResource(obj)));
        if (c.resource) resources.push(c.resource);
        issues.push(...c.issues);
      }
    }
    return { resources, issues, workloads };
  }

  view(): KubernetesView {
    return {
      server: this.http.server,
      namespace: this.o.namespace ?? '*',
      informers: this.informers.map((i) => ({ ...i.stats })),
      status: this.statusWriter ? { ...this.statusWriter.stats } : undefined,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.statusTimer);
    clearInterval(this.resyncTimer);
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private lookup(kind: string, namespace: string, name: string): KubeObject | undefined {
    // Only Gateway is ambiguous: the Gateway API one is listed before Istio's (kinds.ts).
    return this.informers
      .find((i) => i.stats.kind === kind)
      ?.objects.get(keyOf({ metadata: { namespace, name } }));
  }

  private onEvent(kind: WatchedKind, content: boolean): void {
    if (this.closed) return;
    if (content) this.changeListener?.();
    // Someone else may have rewritten a status Umbra owns: reconcile (content changes wait for the swap).
    else if (kind.writesStatus) this.scheduleStatus(100);
  }

  private scheduleStatus(delayMs: number): void {
    if (!this.statusWriter || !this.state || this.closed) return;
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => {
      const state = this.state;
      if (!state?.ready || this.closed) return;
      this.statusWriter!.sync(state).catch((e: unknown) =>
        this.log(`kubernetes: status write-back failed: ${errorText(e)}`),
      );
    }, delayMs);
    this.statusTimer.unref();
  }
}

function dropManagedFields(o: KubeObject): KubeObject {
  if (!o.metadata.managedFields) return o;
  const { managedFields: _mf, ...metadata } = o.metadata;
  return { ...o, metadata: metadata as KubeObject['metadata'] };
}
