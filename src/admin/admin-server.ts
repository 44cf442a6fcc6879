// The admin API on its own port: readiness, config dump, clusters, and the kubectl-like resource
// endpoints behind `umbra apply/get/delete`. Every request passes admin-guard.ts first (Host,
// Origin, content type, token); writes are serialised and change the stored state only when the
// new configuration is accepted.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../runtime/node-http.js';
import { hasErrors, formatIssue, type ConfigIssue } from '../config/issues.js';
import { loadText } from '../config/load.js';
import { resourceKey, type Resource } from '../config/resource.js';
import type { Proxy } from '../proxy/proxy.js';
import type { AppliedStore } from '../runtime/applied-store.js';
import { plain } from '../runtime/applied-store.js';
import { redacted } from './redact.js';
import type { ConfigLoader } from '../runtime/config-loader.js';
import type { ConfigState } from '../runtime/config-state.js';
import { configDump, clustersView } from './views.js';
import { canonicalKind } from './resource-kinds.js';
import { guard, loopbackOnly } from './admin-guard.js';

export interface AdminContext {
  readonly state: ConfigState;
  readonly loader: ConfigLoader;
  readonly store: AppliedStore;
  readonly proxy: Proxy;
  readonly token?: string;
  /** Extra GET routes (metrics, dashboard) registered by other modules: path → handler. */
  readonly extraRoutes?: Map<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
  /** Called before each GET is answered: a multi-worker primary gathers its workers' counters here. */
  readonly beforeRead?: () => Promise<void>;
  /** Operational log: every accepted or refused change is logged, as file reloads are. */
  readonly log?: (line: string) => void;
  /** Stops this Umbra (drain, then exit): `POST /quitquitquit`, as Envoy's admin names it. */
  readonly onQuit?: () => void;
}

const MAX_BODY = 8 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startAdmin(ctx: AdminContext, host: string, port: number): Promise<Server> {
  if (!loopbackOnly(host) && !ctx.token)
    throw new Error(
      `admin API on ${host} is reachable from other hosts: set --admin-token, --admin-token-file or UMBRA_ADMIN_TOKEN so it is authenticated`,
    );
  let boundPort = port;
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    const refusal = guard(req, path, { host, port: boundPort, token: ctx.token });
    if (refusal) {
      req.resume();
      return send(res, refusal.status, { error: refusal.error });
    }
    handle(ctx, req, res).catch((err: Error) => send(res, 500, { error: err.message }));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const a = server.address();
  if (a && typeof a === 'object') boundPort = a.port;
  return server;
}

/** One write at a time per admin server: each one's admission sees the state the previous one left. */
const writeQueues = new WeakMap<AdminContext, Promise<unknown>>();
function serialised<T>(ctx: AdminContext, f: () => Promise<T>): Promise<T> {
  const p = (writeQueues.get(ctx) ?? Promise.resolve()).then(f, f);
  writeQueues.set(
    ctx,
    p.catch(() => undefined),
  );
  return p;
}

async function handle(ctx: AdminContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (method === 'GET') {
    await ctx.beforeRead?.();
    const extra = ctx.extraRoutes?.get(path);
    if (extra) return void (await extra(req, res));
    switch (path) {
      case '/ready':
        return ctx.state.ready
          ? send(res, 200, 'LIVE\n', 'text/plain')
          : send(res, 503, 'NOT READY\n', 'text/plain');
      case '/healthz':
        return send(res, 200, 'OK\n', 'text/plain');
      case '/config_dump':
        return send(res, 200, configDump(ctx.state, ctx.proxy));
      case '/clusters':
        return send(res, 200, clustersView(ctx.state, ctx.proxy));
      case '/apis/resources':
        return send(res, 200, listResources(ctx, url.searchParams));
    }
  }
  if (method === 'POST' && (path === '/apis/apply' || path === '/apis/delete')) {
    const input = parseInput(
      await readBody(req),
      req.headers['content-type'] ?? '',
      url.searchParams.get('source') ?? 'apply',
    );
    if ('error' in input) return send(res, 400, { error: input.error });
    const dryRun = url.searchParams.get('dryRun') === 'true';
    return serialised(ctx, () =>
      path === '/apis/apply' ? applyResources(ctx, input, dryRun, res) : deleteNamed(ctx, input, res),
    );
  }
  if (method === 'POST' && path === '/quitquitquit' && ctx.onQuit) {
    await readBody(req);
    ctx.log?.('umbra: stop requested through the admin API (umbra stop)');
    send(res, 200, { stopping: true, pid: process.pid });
    // After the answer is on its way: the drain closes this admin server too.
    res.once('finish', () => ctx.onQuit?.());
    return;
  }
  if (method === 'DELETE' && path.startsWith('/apis/resources/')) {
    const [kindName, namespace, name] = path
      .slice('/apis/resources/'.length)
      .split('/')
      .map(decodeURIComponent);
    return serialised(ctx, () => deleteResource(ctx, kindName, namespace, name, res));
  }
  send(res, 404, { error: `no admin endpoint ${method} ${path}` });
}

/** What `umbra apply -f a -f b` sends: each file's text under its own name, so issues point at it. */
interface InputFile {
  readonly source: string;
  readonly text: string;
}

/**
 * A write's body: YAML (or one JSON resource / List) named by `?source=`, or JSON
 * `{"files": [{"source", "text"}, …]}` for several files applied as one change.
 */
function parseInput(body: string, contentType: string, source: string): InputFile[] | { error: string } {
  if (/^application\/json/i.test(contentType.trim())) {
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch (e) {
      return { error: `body is not JSON: ${(e as Error).message}` };
    }
    if (v !== null && typeof v === 'object' && Array.isArray((v as { files?: unknown }).files)) {
      const files = (v as { files: unknown[] }).files;
      const out: InputFile[] = [];
      for (const f of files) {
        const o = f as { source?: unknown; text?: unknown };
        if (typeof o?.source !== 'string' || typeof o?.text !== 'string')
          return { error: 'each of "files" needs a string "source" and a string "text"' };
        out.push({ source: o.source, text: o.text });
      }
      return out;
    }
  }
  return [{ source, text: body }];
}

function loadInput(input: readonly InputFile[]): { resources: Resource[]; issues: ConfigIssue[] } {
  const resources: Resource[] = [];
  const issues: ConfigIssue[] = [];
  for (const f of input) {
    const r = loadText(f.text, f.source);
    resources.push(...r.resources);
    issues.push(...r.issues);
  }
  return { resources, issues };
}

function describe(input: readonly InputFile[]): string {
  return input.map((f) => f.source).join(', ');
}

function ref(r: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${r.kind.toLowerCase()}/${r.metadata.namespace}/${r.metadata.name}`;
}

function listResources(ctx: AdminContext, q: URLSearchParams): unknown {
  const kindArg = q.get('kind');
  const kind = kindArg ? canonicalKind(kindArg) : undefined;
  if (kindArg && !kind) return { error: `unknown kind "${kindArg}"`, items: [] };
  const name = q.get('name');
  const ns = q.get('namespace');
  const statuses = ctx.state.statuses;
  const items = ctx.state.resources
    .filter(
      (r) =>
        (!kind || r.kind === kind) &&
        (!name || r.metadata.name === name) &&
        (!ns || ns === '*' || r.metadata.namespace === ns),
    )
    .map((r) => {
      const key = resourceKey(r);
      const status = statuses.get(key);
      return {
        ...redacted(r.kind, plain(r)),
        ...(status !== undefined ? { status } : {}),
        ...origin(ctx, r),
      };
    });
  return { items, stateFile: ctx.store.file };
}

/** Where a served resource comes from: a file (and line), the API server, or `umbra apply`. */
function origin(ctx: AdminContext, r: Resource): { source: string; origin: Record<string, unknown> } {
  const key = resourceKey(r);
  if (ctx.store.has(key)) {
    const o = ctx.store.origin(key);
    return {
      source: `applied${o ? ` from ${o.source}` : ''}`,
      origin: { type: 'applied', from: o?.source, at: o?.at, stateFile: ctx.store.file },
    };
  }
  if (r.source.file === 'api-server') return { source: 'api-server', origin: { type: 'kubernetes' } };
  const line = r.source.lineOf('')?.line;
  return {
    source: r.source.file,
    origin: { type: 'file', file: r.source.file, ...(line !== undefined ? { line } : {}) },
  };
}

function refuse(ctx: AdminContext, what: string, issues: readonly ConfigIssue[]): void {
  ctx.state.refused();
  const errors = issues.filter((i) => i.severity === 'error');
  ctx.log?.(
    `umbra: ${what} refused (${errors.length} error${errors.length === 1 ? '' : 's'}); nothing changed:`,
  );
  for (const i of errors.slice(0, 10)) ctx.log?.(`  ${formatIssue(i)}`);
}

async function applyResources(
  ctx: AdminContext,
  input: readonly InputFile[],
  dryRun: boolean,
  res: ServerResponse,
): Promise<void> {
  const source = describe(input);
  const loaded = loadInput(input);
  if (loaded.resources.length === 0 && !hasErrors(loaded.issues))
    loaded.issues.push({ severity: 'error', resource: source, path: '', message: 'no resources in input' });
  if (hasErrors(loaded.issues)) {
    if (!dryRun) refuse(ctx, `apply of ${source}`, loaded.issues);
    return send(res, 422, { applied: false, issues: loaded.issues });
  }
  // Admission: compile the whole candidate set; any error refuses the change and nothing moves.
  const files = await ctx.loader.readFiles();
  const stored = ctx.store.with(loaded.resources);
  const candidate = ctx.loader.merge(files.resources, stored);
  const { issues } = ctx.loader.compile(candidate, files.issues);
  const relevant: ConfigIssue[] = [...loaded.issues, ...issues];
  if (hasErrors(issues)) {
    if (!dryRun) refuse(ctx, `apply of ${source}`, issues);
    return send(res, 422, { applied: false, issues: relevant });
  }
  const results = loaded.resources.map((r) => {
    const before = ctx.state.resources.find((x) => resourceKey(x) === resourceKey(r));
    const verb = !before
      ? 'created'
      : JSON.stringify(plain(before)) === JSON.stringify(plain(r)) && ctx.store.has(resourceKey(r))
        ? 'unchanged'
        : 'configured';
    return {
      apiVersion: r.apiVersion,
      kind: r.kind,
      namespace: r.metadata.namespace,
      name: r.metadata.name,
      result: verb,
    };
  });
  if (dryRun) return send(res, 200, { applied: false, dryRun: true, results, issues: relevant });
  // Each resource's origin is the file it came from (its issues already name that file).
  const sources = new Map(loaded.resources.map((x) => [resourceKey(x), x.source.file]));
  // Persisted only once the whole set compiled: a refusal leaves the files as they were.
  const r = await ctx.loader.reload(stored, () => ctx.store.replace(stored, sources));
  if (r.applied) {
    const v = ctx.state.table.version;
    for (const x of results)
      if (x.result !== 'unchanged')
        ctx.log?.(
          `config v${v}: ${x.kind.toLowerCase()}/${x.namespace}/${x.name} ${x.result} (apply of ${source})`,
        );
  }
  send(res, r.applied ? 200 : 422, { applied: r.applied, results, issues: r.issues });
}

/** Deletes applied resources by identity; those from files are refused (edit the file instead). */
async function deleteKeys(
  ctx: AdminContext,
  targets: readonly Resource[],
  what: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const fileOwned = targets.filter((r) => !ctx.store.has(resourceKey(r)));
  if (fileOwned.length > 0) {
    const r = fileOwned[0];
    return {
      status: 409,
      body: {
        error: `${r.kind} ${r.metadata.namespace}/${r.metadata.name} comes from ${r.source.file}; edit or remove it there`,
      },
    };
  }
  let stored = ctx.store.all();
  const keys = new Set(targets.map(resourceKey));
  stored = stored.filter((r) => !keys.has(resourceKey(r)));
  const r = await ctx.loader.reload(stored, () => ctx.store.replace(stored));
  if (!r.applied) {
    ctx.log?.(`umbra: ${what} refused; the stored state is unchanged`);
    return {
      status: 422,
      body: {
        error: `${what} refused: the configuration without it has errors`,
        applied: false,
        issues: r.issues,
      },
    };
  }
  const v = ctx.state.table.version;
  for (const t of targets) ctx.log?.(`config v${v}: ${ref(t)} deleted`);
  return {
    status: 200,
    body: {
      deleted: targets.map((t) => ({ kind: t.kind, namespace: t.metadata.namespace, name: t.metadata.name })),
      applied: true,
      issues: r.issues,
    },
  };
}

async function deleteResource(
  ctx: AdminContext,
  kindName: string,
  namespace: string,
  name: string,
  res: ServerResponse,
): Promise<void> {
  const kind = canonicalKind(kindName ?? '');
  if (!kind) return send(res, 404, { error: `unknown kind "${kindName}"` });
  const found: Resource | undefined = ctx.state.resources.find(
    (r) => r.kind === kind && r.metadata.name === name && r.metadata.namespace === namespace,
  );
  if (!found) return send(res, 404, { error: `${kind} ${namespace}/${name} not found` });
  const out = await deleteKeys(ctx, [found], `delete of ${ref(found)}`);
  if (out.status === 200) out.body.deleted = { kind, namespace, name };
  send(res, out.status, out.body);
}

/** `umbra delete -f FILE`: the resources the files name, deleted as one change. */
async function deleteNamed(
  ctx: AdminContext,
  input: readonly InputFile[],
  res: ServerResponse,
): Promise<void> {
  const loaded = loadInput(input);
  if (hasErrors(loaded.issues)) return send(res, 422, { applied: false, issues: loaded.issues });
  const served = new Map(ctx.state.resources.map((r) => [resourceKey(r), r]));
  const found: Resource[] = [];
  const notFound: { kind: string; namespace: string; name: string }[] = [];
  for (const r of loaded.resources) {
    const s = served.get(resourceKey(r));
    if (s) found.push(s);
    else notFound.push({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name });
  }
  if (found.length === 0) return send(res, 404, { error: 'none of the resources is served', notFound });
  const out = await deleteKeys(ctx, found, `delete of ${describe(input)}`);
  send(res, out.status, { ...out.body, notFound });
}
