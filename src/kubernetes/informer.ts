// One kind's list+watch loop against the API server, keeping an in-memory copy of its objects:
// paginated list, then a watch from the list's resourceVersion with bookmarks and a server-side
// timeout; a dropped watch resumes from the last resourceVersion seen, "410 Gone" relists, other
// failures retry with jittered backoff. Semantics: Kubernetes API concepts, "Efficient detection of
// changes" (watch, bookmarks, 410 Gone) and "Retrieving large results sets in chunks".

import type { Watch } from '@kubernetes/client-node';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { errorText, statusCodeOf, type KubeHttp } from './kube-http.js';
import { apiVersionOf, collectionPath, type WatchedKind } from './kinds.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    uid?: string;
    [k: string]: unknown;
  };
  status?: unknown;
  [k: string]: unknown;
}

interface ListPage {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[] | null;
}

export interface InformerOptions {
  readonly kind: WatchedKind;
  /** Undefined: all namespaces. */
  readonly namespace?: string;
  readonly http: KubeHttp;
  readonly watch: Pick<Watch, 'watch'>;
  readonly log: (line: string) => void;
  /** Called after every applied change; `content` is false when only status/resourceVersion moved. */
  readonly onEvent: (kind: WatchedKind, content: boolean) => void;
  readonly backoff?: BackoffOptions;
  /** Server-side watch timeout; each watch picks a value in [t, 2t) as client-go does. */
  readonly watchTimeoutSeconds?: number;
  /** A watch silent this long (no event, no bookmark) is restarted. Default: 2·timeout + 60 s. */
  readonly idleMs?: number;
  readonly pageSize?: number;
  /** Retry delay for a kind the server does not serve (404: CRD not installed). */
  readonly notServedRetryMs?: number;
  /** Trims objects before they are kept (drops what Umbra never reads). */
  readonly transform?: (o: KubeObject) => KubeObject;
}

export interface InformerStats {
  readonly kind: string;
  readonly path: string;
  synced: boolean;
  /** False while the server answers 404 for this kind. */
  served: boolean;
  resourceVersion: string;
  objects: number;
  lists: number;
  watches: number;
  /** Relists forced by 410 Gone. */
  gone: number;
  /** Watches restarted after an error or a dropped connection. */
  restarts: number;
  bookmarks: number;
  lastError?: string;
}

interface WatchEnd {
  readonly error?: unknown;
  readonly gone: boolean;
  readonly events: number;
  readonly durationMs: number;
}

export class Informer {
  /** Objects by "namespace/name" (cluster-scoped: "/name"). */
  objects = new Map<string, KubeObject>();
  readonly stats: InformerStats;
  readonly path: string;
  private rv = '';
  private stopped = false;
  private controller?: AbortController;
  private wake?: () => void;
  private loop?: Promise<void>;
  private readonly backoff: Backoff;
  /** Server-side filter of the kind (Secrets: only kubernetes.io/tls ones are ever read). */
  private readonly selector: { fieldSelector?: string };
  private readonly fingerprints = new Map<string, string>();
  private syncedResolve!: () => void;
  /** Resolves after the first successful list (or a 404: the kind is not served). */
  readonly synced: Promise<void>;

  constructor(private readonly o: InformerOptions) {
    this.path = collectionPath(o.kind, o.namespace);
    this.selector = o.kind.fieldSelector ? { fieldSelector: o.kind.fieldSelector } : {};
    this.backoff = new Backoff(o.backoff ?? DEFAULT_BACKOFF);
    this.stats = {
      kind: o.kind.kind,
      path: this.path,
      synced: false,
      served: true,
      resourceVersion: '',
      objects: 0,
      lists: 0,
      watches: 0,
      gone: 0,
      restarts: 0,
      bookmarks: 0,
    };
    this.synced = new Promise((ok) => (this.syncedResolve = ok));
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.wake?.();
    await this.loop;
  }

  get resourceVersion(): string {
    return this.rv;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.rv) await this.relist();
        if (this.stopped) break;
        const end = await this.watchOnce();
        if (this.stopped) break;
        // A watch that ran a while or delivered something was healthy: reconnect at once.
        if (end.events > 0 || end.durationMs >= 5_000) this.backoff.reset();
        if (end.gone || statusCodeOf(end.error) === 410) {
          this.stats.gone++;
          this.o.log(
            `kubernetes: ${this.o.kind.kind} watch from resourceVersion ${this.rv} expired (410 Gone); relisting`,
          );
          this.rv = '';
          continue;
        }
        if (end.error !== undefined) throw end.error;
        // A clean end is the server-side timeout: watch again from where we are, unless the
        // server keeps closing at once (then back off rather than spin).
        if (end.events === 0 && end.durationMs < 1_000) await this.sleep(this.backoff.next());
      } catch (e) {
        if (this.stopped) break;
        const code = statusCodeOf(e);
        if (code === 410) {
          this.stats.gone++;
          this.rv = '';
          continue;
        }
        if (code === 404) {
          this.notServed(e);
          await this.sleep(this.o.notServedRetryMs ?? 30_000);
          continue;
        }
        this.stats.restarts++;
        const delay = this.backoff.next();
        const msg = errorText(e);
        if (this.stats.lastError !== msg || this.backoff.failures <= 1)
          this.o.log(
            `kubernetes: ${this.o.kind.kind} ${this.rv ? 'watch' : 'list'} failed: ${msg}; retrying in ${delay} ms${this.rv ? ` from resourceVersion ${this.rv}` : ''}`,
          );
        this.stats.lastError = msg;
        await this.sleep(delay);
      }
    }
  }

  /** The server does not serve this kind (its CRD is not installed): no objects, retried later. */
  private notServed(e: unknown): void {
    if (this.stats.served)
      this.o.log(
        `kubernetes: ${this.o.kind.kind} is not served by the API server (${errorText(e)}); treating it as empty and retrying`,
      );
    this.stats.served = false;
    this.stats.lastError = errorText(e);
    this.rv = '';
    if (this.objects.size > 0) {
      this.objects = new Map();
      this.fingerprints.clear();
      this.stats.objects = 0;
      this.o.onEvent(this.o.kind, true);
    }
    this.markSynced();
  }

  private markSynced(): void {
    if (this.stats.synced) return;
    this.stats.synced = true;
    this.syncedResolve();
  }

  private async relist(): Promise<void> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = (await this.o.http.get(this.path, {
        limit: String(this.o.pageSize ?? 500),
        continue: cont,
        ...this.selector,
      })) as ListPage;
      for (const item of page?.items ?? []) items.push(item);
      rv = page?.metadata?.resourceVersion ?? rv;
      cont = page?.metadata?.continue || undefined;
    } while (cont && !this.stopped);
    this.stats.lists++;
    const next = new Map<string, KubeObject>();
    let changed = items.length !== this.objects.size;
    for (const raw of items) {
      const obj = this.prepare(raw);
      const key = keyOf(obj);
      next.set(key, obj);
      if (this.remember(key, obj)) changed = true;
    }
    for (const key of this.fingerprints.keys()) if (!next.has(key)) this.fingerprints.delete(key);
    this.objects = next;
    this.rv = rv;
    this.stats.resourceVersion = rv;
    this.stats.objects = next.size;
    this.stats.served = true;
    this.stats.lastError = undefined;
    this.backoff.reset();
    const first = !this.stats.synced;
    this.markSynced();
    if (changed || first) this.o.onEvent(this.o.kind, true);
  }

  /** Records the object's fingerprint; true when its content differs from the last one seen. */
  private remember(key: string, obj: KubeObject): boolean {
    const fp = fingerprint(obj, this.o.kind.role === 'resource');
    const changed = this.fingerprints.get(key) !== fp;
    this.fingerprints.set(key, fp);
    return changed;
  }

  private prepare(raw: KubeObject): KubeObject {
    // List items from the API server carry no apiVersion/kind; watch events do.
    const obj: KubeObject = {
      ...raw,
      apiVersion: raw.apiVersion ?? apiVersionOf(this.o.kind),
      kind: raw.kind ?? this.o.kind.kind,
    };
    return this.o.transform ? this.o.transform(obj) : obj;
  }

  private watchOnce(): Promise<WatchEnd> {
    const started = Date.now();
    const base = this.o.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(base * (1 + Math.random()));
    const idleMs = this.o.idleMs ?? 2 * base * 1000 + 60_000;
    this.stats.watches++;
    return new Promise<WatchEnd>((resolve) => {
      let events = 0;
      let gone = false;
      let finished = false;
      let ctrl: AbortController | undefined;
      let idle: NodeJS.Timeout | undefined;
      const finish = (error?: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(idle);
        if (this.controller === ctrl) this.controller = undefined;
        resolve({ error: error ?? undefined, gone, events, durationMs: Date.now() - started });
      };
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          ctrl?.abort();
          finish(new Error(`watch silent for ${idleMs} ms`));
        }, idleMs);
        idle.unref();
      };
      const onEvent = (type: string, obj: KubeObject & { code?: number; message?: string }) => {
        if (finished || this.stopped) return;
        arm();
        events++;
        if (type === 'ERROR') {
          // The server ends the watch after an ERROR event; 410 means our resourceVersion is too old.
          if (obj?.code === 410) gone = true;
          else this.stats.lastError = `watch error event: ${obj?.message ?? JSON.stringify(obj)}`;
          return;
        }
        const rv = obj?.metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          this.stats.bookmarks++;
        } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
          this.apply(type, obj);
        }
        if (rv) {
          this.rv = rv;
          this.stats.resourceVersion = rv;
        }
      };
      arm();
      this.o.watch
        .watch(
          this.path,
          { resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds, ...this.selector },
          onEvent,
          (err: unknown) => finish(err ?? undefined),
        )
        .then((c) => {
          ctrl = c;
          if (!finished) this.controller = c;
          if (finished || this.stopped) c.abort();
        })
        .catch((e: unknown) => finish(e));
    });
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: KubeObject): void {
    if (!raw?.metadata?.name) return;
    const obj = this.prepare(raw);
    const key = keyOf(obj);
    if (type === 'DELETED') {
      if (!this.objects.delete(key)) return;
      this.fingerprints.delete(key);
      this.stats.objects = this.objects.size;
      this.o.onEvent(this.o.kind, true);
      return;
    }
    this.objects.set(key, obj);
    this.stats.objects = this.objects.size;
    this.o.onEvent(this.o.kind, this.remember(key, obj));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((ok) => {
      if (this.stopped) return ok();
      const t = setTimeout(() => {
        this.wake = undefined;
        ok();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        ok();
      };
    });
  }
}

export function keyOf(o: { metadata: { namespace?: string; name: string } }): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * What a change must touch to matter for translation: everything but resourceVersion and
 * managedFields, and (for configuration kinds) but status — so Umbra's own status writes do not
 * trigger recompiles. Pods keep status: readiness and IP live there.
 */
function fingerprint(o: KubeObject, ignoreStatus: boolean): string {
  const { resourceVersion: _rv, managedFields: _mf, ...meta } = o.metadata;
  const { status, metadata: _m, apiVersion: _a, kind: _k, ...rest } = o;
  return canonical([meta, rest, ignoreStatus ? null : (status ?? null)]);
}

/** JSON with object keys sorted: list items and watch events order their fields differently. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
