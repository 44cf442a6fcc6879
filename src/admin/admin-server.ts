// The admin API on its own port: readiness, config dump, clusters, and the kubectl-like resource
// endpoints behind `umbra apply/get/delete`. Write endpoints need a token off loopback.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { hasErrors, type ConfigIssue } from '../config/issues.js';
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

function isLoopback(addr: string): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === 'localhost' || addr.startsWith('127.');
}

export function authorised(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const h = req.headers.authorization ?? '';
  const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function startAdmin(ctx: AdminContext, host: string, port: number): Promise<Server> {
  if (!isLoopback(host) && !ctx.token)
    throw new Error(
      `admin API on ${host} is reachable from other hosts: set --admin-token (or UMBRA_ADMIN_TOKEN) so writes are authenticated`,
    );
  const server = createServer((req, res) => {
    handle(ctx, req, res).catch((err: Error) => send(res, 500, { error: err.message }));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  return server;
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
  if (method === 'POST' && path === '/apis/apply') {
    if (!authorised(req, ctx.token)) return send(res, 401, { error: 'admin token required' });
    return applyResources(
      ctx,
      await readBody(req),
      url.searchParams.get('source') ?? 'apply',
      url.searchParams.get('dryRun') === 'true',
      res,
    );
  }
  if (method === 'DELETE' && path.startsWith('/apis/resources/')) {
    if (!authorised(req, ctx.token)) return send(res, 401, { error: 'admin token required' });
    const [kindName, namespace, name] = path
      .slice('/apis/resources/'.length)
      .split('/')
      .map(decodeURIComponent);
    return deleteResource(ctx, kindName, namespace, name, res);
  }
  send(res, 404, { error: `no admin endpoint ${method} ${path}` });
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
      const status = statuses.get(resourceKey(r));
      return {
        ...redacted(r.kind, plain(r)),
        ...(status !== undefined ? { status } : {}),
        source: ctx.store.has(resourceKey(r)) ? 'applied' : r.source.file,
      };
    });
  return { items };
}

async function applyResources(
  ctx: AdminContext,
  text: string,
  source: string,
  dryRun: boolean,
  res: ServerResponse,
): Promise<void> {
  const loaded = loadText(text, source);
  if (hasErrors(loaded.issues)) return send(res, 422, { applied: false, issues: loaded.issues });
  if (loaded.resources.length === 0)
    return send(res, 422, {
      applied: false,
      issues: [{ severity: 'error', resource: source, path: '', message: 'no resources in input' }],
    });
  // Admission: compile the whole candidate set; any error refuses the change and nothing moves.
  const files = await ctx.loader.readFiles();
  const stored = ctx.store.with(loaded.resources);
  const candidate = ctx.loader.merge(files.resources, stored);
  const { issues } = ctx.loader.compile(candidate, files.issues);
  const relevant: ConfigIssue[] = [...loaded.issues, ...issues];
  if (hasErrors(issues)) return send(res, 422, { applied: false, issues: relevant });
  const results = loaded.resources.map((r) => {
    const before = ctx.state.resources.find((x) => resourceKey(x) === resourceKey(r));
    const verb = !before
      ? 'created'
      : JSON.stringify(plain(before)) === JSON.stringify(plain(r))
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
  ctx.store.replace(stored);
  const r = await ctx.loader.reload(stored);
  send(res, r.applied ? 200 : 422, { applied: r.applied, results, issues: r.issues });
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
  const key = resourceKey(found);
  if (!ctx.store.has(key))
    return send(res, 409, {
      error: `${kind} ${namespace}/${name} comes from ${found.source.file}; edit or remove it there`,
    });
  const stored = ctx.store.without(key);
  ctx.store.replace(stored);
  const r = await ctx.loader.reload(stored);
  send(res, r.applied ? 200 : 422, {
    deleted: { kind, namespace, name },
    applied: r.applied,
    issues: r.issues,
  });
}
