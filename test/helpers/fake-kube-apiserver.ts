// An in-process stand-in for the Kubernetes API server (no real one can run here): an HTTP server on
// 127.0.0.1 speaking list and watch the way kube-apiserver does — resourceVersions, chunked lists
// (limit/continue), watch events ADDED/MODIFIED/DELETED/BOOKMARK, "410 Gone" for a resourceVersion
// older than the compacted history, merge patches on the status subresource (recorded) — plus knobs
// tests need: drop every watch connection, hold new watches back, compact history, send bookmarks.
// Like a cluster's kube-controller-manager it keeps EndpointSlices for Services with a selector
// (fake-endpoint-controller.ts), so endpoints reach Umbra the way they do in Kubernetes.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENDPOINT_CONTROLLER, desiredSlices } from './fake-endpoint-controller.js';

type Json = Record<string, unknown>;

export interface FakeKind {
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** The kinds this fake serves (its own table, written from the Kubernetes/Istio/Gateway API docs). */
export const FAKE_KINDS: readonly FakeKind[] = [
  { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true },
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true },
  {
    kind: 'EndpointSlice',
    group: 'discovery.k8s.io',
    version: 'v1',
    plural: 'endpointslices',
    namespaced: true,
  },
  {
    kind: 'VirtualService',
    group: 'networking.istio.io',
    version: 'v1',
    plural: 'virtualservices',
    namespaced: true,
  },
  {
    kind: 'DestinationRule',
    group: 'networking.istio.io',
    version: 'v1',
    plural: 'destinationrules',
    namespaced: true,
  },
  {
    kind: 'WorkloadEntry',
    group: 'networking.istio.io',
    version: 'v1',
    plural: 'workloadentries',
    namespaced: true,
  },
  {
    kind: 'ServiceEntry',
    group: 'networking.istio.io',
    version: 'v1',
    plural: 'serviceentries',
    namespaced: true,
  },
  {
    kind: 'HTTPRoute',
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    namespaced: true,
  },
  {
    kind: 'GRPCRoute',
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'grpcroutes',
    namespaced: true,
  },
  {
    kind: 'Gateway',
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'gateways',
    namespaced: true,
  },
  {
    kind: 'GatewayClass',
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'gatewayclasses',
    namespaced: false,
  },
  {
    kind: 'MirrorPolicy',
    group: 'umbra.dev',
    version: 'v1alpha1',
    plural: 'mirrorpolicies',
    namespaced: true,
  },
  { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', namespaced: true },
  { kind: 'Gateway', group: 'networking.istio.io', version: 'v1', plural: 'gateways', namespaced: true },
  {
    kind: 'ReferenceGrant',
    group: 'gateway.networking.k8s.io',
    version: 'v1beta1',
    plural: 'referencegrants',
    namespaced: true,
  },
];

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly watch: boolean;
  readonly body?: string;
}

export interface RecordedPatch {
  readonly path: string;
  readonly contentType: string;
  readonly body: Json;
}

interface Stored {
  readonly kind: FakeKind;
  obj: Json & { metadata: Json };
}

interface Change {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly kind: FakeKind;
  readonly obj: Json & { metadata: Json };
}

interface Watcher {
  readonly kind: FakeKind;
  readonly namespace?: string;
  /** `fieldSelector` of the request ("type=kubernetes.io/tls"): equality on top-level or dotted fields. */
  readonly fieldSelector?: string;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
  timer?: NodeJS.Timeout;
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Json = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function status(code: number, reason: string, message: string): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** kube-apiserver field selectors, as far as tests use them: `a.b=v`, `a==v`, `a!=v`, comma-joined. */
function fieldsMatch(obj: Json, selector: string | null | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(term.trim());
    if (!m) return false;
    let v: unknown = obj;
    for (const seg of m[1].split('.')) v = isObj(v) ? v[seg] : undefined;
    const equal = String(v ?? '') === m[3];
    return m[2] === '!=' ? !equal : equal;
  });
}

function apiVersionOf(k: FakeKind): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

export class FakeKubeApiServer {
  readonly token = 'fake-token-for-tests';
  readonly requests: ApiRequest[] = [];
  readonly patches: RecordedPatch[] = [];
  /** Plurals answered with 404, as when a CRD is not installed. */
  readonly notServed = new Set<string>();
  /** How a too-old watch is refused: an ERROR event in a 200 stream (kube-apiserver) or a plain 410. */
  goneMode: 'event' | 'status' = 'event';
  /** Keep EndpointSlices for selector Services as kube-controller-manager does (on by default). */
  endpointController = true;
  url = '';
  private server!: Server;
  private rv = 1000;
  /** Events up to this resourceVersion are forgotten: a watch from an older one gets 410. */
  private compactedAt = 0;
  private uid = 0;
  private readonly objects = new Map<string, Stored>();
  private readonly changes: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private held: (() => void)[] | undefined;

  static async start(): Promise<FakeKubeApiServer> {
    const f = new FakeKubeApiServer();
    f.server = createServer((req, res) => f.handle(req, res));
    f.server.on('connection', (s: Socket) => {
      f.sockets.add(s);
      s.on('close', () => f.sockets.delete(s));
    });
    await new Promise<void>((ok) => f.server.listen(0, '127.0.0.1', ok));
    f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    return f;
  }

  /** A kubeconfig pointing at this server (plain HTTP needs insecure-skip-tls-verify in client-node). */
  writeKubeconfig(dir: string, namespace = 'default'): string {
    const path = join(dir, 'kubeconfig');
    const cfg = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'tester', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester', namespace } }],
      'current-context': 'fake',
    };
    writeFileSync(path, JSON.stringify(cfg, null, 2));
    return path;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  // ------------------------------------------------------------------------------------------
  // Objects

  /** Creates or replaces an object (kubectl apply); generation moves when anything but status/metadata does. */
  apply(input: Json): Json {
    const kind = this.kindOf(input);
    const meta = (input.metadata ?? {}) as Json;
    const namespace = kind.namespaced ? String(meta.namespace ?? 'default') : undefined;
    const key = this.key(kind, namespace, String(meta.name));
    const prev = this.objects.get(key);
    const { status: _ignored, ...body } = input;
    const obj = structuredClone(body) as Json & { metadata: Json };
    obj.apiVersion = apiVersionOf(kind);
    obj.kind = kind.kind;
    const specOf = (o: Json) =>
      JSON.stringify(
        Object.entries(o).filter(([k]) => !['metadata', 'status', 'apiVersion', 'kind'].includes(k)),
      );
    const prevGen = Number(prev?.obj.metadata.generation ?? 0);
    obj.metadata = {
      ...obj.metadata,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: prev?.obj.metadata.uid ?? `uid-${++this.uid}`,
      creationTimestamp:
        prev?.obj.metadata.creationTimestamp ??
        new Date(Date.UTC(2024, 0, 1, 0, 0, this.uid)).toISOString().replace(/\.\d+Z$/, 'Z'),
      generation: prev && specOf(prev.obj) === specOf(obj) ? prevGen : prevGen + 1,
      resourceVersion: String(++this.rv),
    };
    if (prev?.obj.status !== undefined) obj.status = prev.obj.status;
    if (input.status !== undefined && kind.kind === 'Pod') obj.status = structuredClone(input.status);
    this.objects.set(key, { kind, obj });
    this.emit(prev ? 'MODIFIED' : 'ADDED', kind, obj);
    if (kind.kind === 'Service' || kind.kind === 'Pod') this.reconcileSlices(namespace ?? 'default');
    return obj;
  }

  /** The endpoint controller's pass over one namespace: slices written only when they change. */
  reconcileSlices(namespace: string): void {
    if (!this.endpointController) return;
    const inNs = (k: string) =>
      [...this.objects.values()]
        .filter((s) => s.kind.kind === k && s.obj.metadata.namespace === namespace)
        .map((s) => s.obj);
    const want = desiredSlices(inNs('Service'), inNs('Pod'));
    const wanted = new Set(want.map((w) => String((w.metadata as Json).name)));
    for (const w of want) {
      const prev = this.get('EndpointSlice', namespace, String((w.metadata as Json).name));
      const same = (o: Json) => JSON.stringify([o.endpoints, o.ports, (o.metadata as Json).labels]);
      if (!prev || same(prev) !== same(w)) this.apply(w);
    }
    for (const s of inNs('EndpointSlice')) {
      const labels = (s.metadata.labels ?? {}) as Record<string, string>;
      if (
        labels['endpointslice.kubernetes.io/managed-by'] === ENDPOINT_CONTROLLER &&
        !wanted.has(String(s.metadata.name))
      )
        this.remove('EndpointSlice', namespace, String(s.metadata.name));
    }
  }

  /** Replaces an object's status as another controller would (a MODIFIED event, generation unchanged). */
  setStatus(kindName: string, namespace: string | undefined, name: string, value: unknown): void {
    const kind = FAKE_KINDS.find((k) => k.kind === kindName)!;
    const stored = this.objects.get(
      this.key(kind, kind.namespaced ? (namespace ?? 'default') : undefined, name),
    );
    if (!stored) throw new Error(`fake API server: no ${kindName} ${namespace}/${name}`);
    stored.obj = {
      ...stored.obj,
      status: structuredClone(value),
      metadata: { ...stored.obj.metadata, resourceVersion: String(++this.rv) },
    };
    this.emit('MODIFIED', kind, stored.obj);
  }

  remove(kindName: string, namespace: string | undefined, name: string): boolean {
    const kind = FAKE_KINDS.find((k) => k.kind === kindName);
    if (!kind) throw new Error(`fake API server: unknown kind ${kindName}`);
    const key = this.key(kind, kind.namespaced ? (namespace ?? 'default') : undefined, name);
    const prev = this.objects.get(key);
    if (!prev) return false;
    this.objects.delete(key);
    const obj = { ...prev.obj, metadata: { ...prev.obj.metadata, resourceVersion: String(++this.rv) } };
    this.emit('DELETED', kind, obj);
    if (kind.kind === 'Service' || kind.kind === 'Pod') this.reconcileSlices(namespace ?? 'default');
    return true;
  }

  get(
    kindName: string,
    namespace: string | undefined,
    name: string,
  ): (Json & { metadata: Json }) | undefined {
    const kind = FAKE_KINDS.find((k) => k.kind === kindName)!;
    return this.objects.get(this.key(kind, kind.namespaced ? (namespace ?? 'default') : undefined, name))
      ?.obj;
  }

  // ------------------------------------------------------------------------------------------
  // Failure knobs

  /** Cuts every open watch connection abruptly (no terminating chunk), like a network failure. */
  dropWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) {
      clearTimeout(w.timer);
      this.watchers.delete(w);
      w.res.socket?.destroy();
    }
    return n;
  }

  /** New watch requests wait until release(): what changes meanwhile is only in the history. */
  holdWatches(): void {
    this.held ??= [];
  }

  releaseWatches(): void {
    const h = this.held ?? [];
    this.held = undefined;
    for (const f of h) f();
  }

  /** Forgets history: a watch from any resourceVersion older than now gets 410 Gone. */
  compact(): void {
    this.compactedAt = this.rv;
    this.changes.length = 0;
  }

  /** Sends a BOOKMARK with the current resourceVersion to watches that allowed bookmarks. */
  bookmark(): number {
    let n = 0;
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      n++;
      this.send(w.res, {
        type: 'BOOKMARK',
        object: {
          kind: w.kind.kind,
          apiVersion: apiVersionOf(w.kind),
          metadata: { resourceVersion: String(this.rv) },
        },
      });
    }
    return n;
  }

  /** Moves the resourceVersion on without touching `plural` (an unrelated change elsewhere). */
  bumpElsewhere(): void {
    this.rv++;
  }

  openWatches(plural?: string): number {
    return [...this.watchers].filter((w) => !plural || w.kind.plural === plural).length;
  }

  /** Recorded list (watch=false) or watch requests for a plural. */
  calls(plural: string, watch: boolean): ApiRequest[] {
    return this.requests.filter(
      (r) => r.method === 'GET' && r.watch === watch && r.path.endsWith(`/${plural}`),
    );
  }

  async close(): Promise<void> {
    this.releaseWatches();
    for (const w of this.watchers) clearTimeout(w.timer);
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  // ------------------------------------------------------------------------------------------
  // HTTP

  private kindOf(o: Json): FakeKind {
    const k = FAKE_KINDS.find((x) => x.kind === o.kind && apiVersionOf(x) === o.apiVersion);
    if (!k) throw new Error(`fake API server: unknown ${String(o.apiVersion)} ${String(o.kind)}`);
    return k;
  }

  private key(kind: FakeKind, namespace: string | undefined, name: string): string {
    return `${kind.group}/${kind.plural}/${namespace ?? ''}/${name}`;
  }

  private emit(type: Change['type'], kind: FakeKind, obj: Change['obj']): void {
    const change: Change = { rv: this.rv, type, kind, obj: structuredClone(obj) };
    this.changes.push(change);
    for (const w of this.watchers)
      if (this.matches(w, change)) this.send(w.res, { type, object: change.obj });
  }

  private matches(
    w: { kind: FakeKind; namespace?: string; fieldSelector?: string },
    c: { kind: FakeKind; obj: { metadata: Json } },
  ): boolean {
    return (
      c.kind === w.kind &&
      (w.namespace === undefined || c.obj.metadata.namespace === w.namespace) &&
      fieldsMatch(c.obj, w.fieldSelector)
    );
  }

  private send(res: ServerResponse, event: Json): void {
    if (!res.destroyed && !res.writableEnded) res.write(`${JSON.stringify(event)}\n`);
  }

  private reply(res: ServerResponse, code: number, body: Json): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] and /apis/GROUP/VERSION/... */
  private route(
    path: string,
  ): { kind: FakeKind; namespace?: string; name?: string; sub?: string } | undefined {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group = '';
    let version: string;
    let rest: string[];
    if (parts[0] === 'api') [version, rest] = [parts[1], parts.slice(2)];
    else if (parts[0] === 'apis') [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
    else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
    const kind = FAKE_KINDS.find((k) => k.group === group && k.version === version && k.plural === rest[0]);
    if (!kind) return undefined;
    return { kind, namespace, name: rest[1], sub: rest[2] };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
      this.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        watch,
        body,
      });
      if (req.headers.authorization !== `Bearer ${this.token}`)
        return this.reply(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      const r = this.route(url.pathname);
      if (!r || this.notServed.has(r.kind.plural))
        return this.reply(
          res,
          404,
          status(404, 'NotFound', 'the server could not find the requested resource'),
        );
      if (req.method === 'GET' && !r.name && watch) {
        const go = () => this.watch(r.kind, r.namespace, url.searchParams, res);
        if (this.held) this.held.push(go);
        else go();
        return;
      }
      if (req.method === 'GET' && !r.name) return this.list(r.kind, r.namespace, url.searchParams, res);
      if (req.method === 'GET' && r.name) {
        const s = this.objects.get(this.key(r.kind, r.namespace, r.name));
        return s
          ? this.reply(res, 200, s.obj)
          : this.reply(res, 404, status(404, 'NotFound', `${r.kind.plural} "${r.name}" not found`));
      }
      if (req.method === 'PATCH' && r.name && r.sub === 'status')
        return this.patchStatus(r.kind, r.namespace, r.name, req.headers['content-type'] ?? '', body, res);
      this.reply(
        res,
        405,
        status(405, 'MethodNotAllowed', `${req.method} is not supported by the fake API server`),
      );
    });
  }

  private list(kind: FakeKind, namespace: string | undefined, q: URLSearchParams, res: ServerResponse): void {
    const all = [...this.objects.values()]
      .filter((s) =>
        this.matches(
          { kind, namespace, fieldSelector: q.get('fieldSelector') ?? undefined },
          { kind: s.kind, obj: s.obj },
        ),
      )
      .map((s) => s.obj)
      .sort((a, b) =>
        `${String(a.metadata.namespace)}/${String(a.metadata.name)}`.localeCompare(
          `${String(b.metadata.namespace)}/${String(b.metadata.name)}`,
        ),
      );
    let offset = 0;
    let rv = this.rv;
    const cont = q.get('continue');
    if (cont) {
      const t = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { offset: number; rv: number };
      if (t.rv < this.compactedAt)
        return this.reply(res, 410, status(410, 'Expired', 'The provided continue parameter is too old'));
      offset = t.offset;
      rv = t.rv;
    }
    const limit = Number(q.get('limit') ?? 0) || all.length;
    const page = all.slice(offset, offset + limit);
    const next =
      offset + limit < all.length
        ? Buffer.from(JSON.stringify({ offset: offset + limit, rv })).toString('base64url')
        : undefined;
    // Like kube-apiserver, list items carry no apiVersion/kind.
    const items = page.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
    this.reply(res, 200, {
      kind: `${kind.kind}List`,
      apiVersion: apiVersionOf(kind),
      metadata: { resourceVersion: String(rv), ...(next ? { continue: next } : {}) },
      items,
    });
  }

  private watch(
    kind: FakeKind,
    namespace: string | undefined,
    q: URLSearchParams,
    res: ServerResponse,
  ): void {
    if (res.destroyed) return;
    const from = q.get('resourceVersion') ?? '';
    const fromN = Number(from);
    if (from && from !== '0' && fromN < this.compactedAt) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.compactedAt})`);
      if (this.goneMode === 'status') return this.reply(res, 410, gone);
      res.writeHead(200, { 'content-type': 'application/json' });
      this.send(res, { type: 'ERROR', object: gone });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const w: Watcher = {
      kind,
      namespace,
      fieldSelector: q.get('fieldSelector') ?? undefined,
      bookmarks: q.get('allowWatchBookmarks') === 'true',
      res,
    };
    if (!from || from === '0') {
      for (const s of this.objects.values())
        if (this.matches(w, { kind: s.kind, obj: s.obj })) this.send(res, { type: 'ADDED', object: s.obj });
    } else {
      for (const c of this.changes)
        if (c.rv > fromN && this.matches(w, c)) this.send(res, { type: c.type, object: c.obj });
    }
    this.watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0)
      w.timer = setTimeout(() => {
        this.watchers.delete(w);
        res.end();
      }, timeout * 1000);
    res.on('close', () => {
      clearTimeout(w.timer);
      this.watchers.delete(w);
    });
  }

  private patchStatus(
    kind: FakeKind,
    namespace: string | undefined,
    name: string,
    contentType: string,
    body: string | undefined,
    res: ServerResponse,
  ): void {
    const stored = this.objects.get(this.key(kind, namespace, name));
    if (!stored) return this.reply(res, 404, status(404, 'NotFound', `${kind.plural} "${name}" not found`));
    let patch: Json;
    try {
      patch = JSON.parse(body ?? '') as Json;
    } catch {
      return this.reply(res, 400, status(400, 'BadRequest', 'body is not JSON'));
    }
    this.patches.push({
      path: `${kind.group ? `/apis/${kind.group}/${kind.version}` : '/api/v1'}/namespaces/${namespace}/${kind.plural}/${name}/status`,
      contentType,
      body: patch,
    });
    if (!contentType.startsWith('application/merge-patch+json'))
      return this.reply(
        res,
        415,
        status(415, 'UnsupportedMediaType', `this test server expects a merge patch, got ${contentType}`),
      );
    const want = isObj(patch.metadata) ? patch.metadata.resourceVersion : undefined;
    if (want !== undefined && want !== stored.obj.metadata.resourceVersion)
      return this.reply(
        res,
        409,
        status(
          409,
          'Conflict',
          'the object has been modified; please apply your changes to the latest version and try again',
        ),
      );
    // The status subresource ignores everything but status.
    const obj = {
      ...stored.obj,
      status: mergePatch(stored.obj.status, patch.status),
      metadata: { ...stored.obj.metadata, resourceVersion: String(++this.rv) },
    };
    stored.obj = obj;
    this.emit('MODIFIED', kind, obj);
    this.reply(res, 200, obj);
  }
}

// ---------------------------------------------------------------------------------------------
// Object builders

/** A Running, Ready pod at `ip` with named container ports. */
export function podObject(
  name: string,
  o: {
    labels: Record<string, string>;
    ports: Record<string, number>;
    ip?: string;
    ready?: boolean;
    namespace?: string;
  },
): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: o.namespace ?? 'default', labels: o.labels },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'example/app',
          ports: Object.entries(o.ports).map(([n, p]) => ({ name: n, containerPort: p, protocol: 'TCP' })),
        },
      ],
    },
    status: {
      phase: 'Running',
      podIP: o.ip ?? '127.0.0.1',
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

/**
 * The seed's Service reaches its pods on targetPort 80; the pods of these tests are echo servers on
 * ephemeral loopback ports, so the Service names the pods' container port "http" instead (as a
 * Deployment that names its port would allow). Everything else of the object is kept.
 */
export function onNamedTargetPort<T extends Json>(obj: T): T {
  if (obj.kind !== 'Service') return obj;
  const spec = obj.spec as { ports?: { name?: string; targetPort?: unknown }[] };
  return {
    ...obj,
    spec: { ...spec, ports: (spec.ports ?? []).map((p) => ({ ...p, targetPort: p.name ?? 'http' })) },
  };
}
