// `umbra apply`, `get`, `delete` and `status`: kubectl-like commands against a running Umbra.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { CONFIG_EXTENSIONS } from '../config/load.js';
import { stringify } from 'yaml';
import { formatIssue, type ConfigIssue } from '../config/issues.js';
import { canonicalKind } from '../admin/resource-kinds.js';
import { formatStatus, type ClustersJson, type ConfigDumpJson } from './status-summary.js';
import { adminCall, readToken, type ResourceItem } from './admin-client.js';

/** One file's text as the admin API's multi-file apply takes it. */
interface InputFile {
  source: string;
  text: string;
}

/**
 * What `-f` names, kubectl's way: `-` is standard input, a directory gives its .yaml/.yml/.json
 * files (sorted; with -R those of its subdirectories too), anything else is read as a file.
 */
export function readInputs(paths: readonly string[], recursive = false): InputFile[] {
  const out: InputFile[] = [];
  let stdinRead = false;
  const visit = (p: string, top: boolean) => {
    if (p === '-') {
      if (stdinRead) throw new Error('-f - (standard input) can be given once');
      stdinRead = true;
      out.push({ source: 'stdin', text: readFileSync(0, 'utf8') });
      return;
    }
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`the path "${p}" does not exist`);
    }
    if (st.isDirectory()) {
      if (!top && !recursive) return;
      const names = readdirSync(p).sort();
      const before = out.length;
      for (const n of names) {
        const child = join(p, n);
        if (statSync(child).isDirectory()) visit(child, false);
        else if (CONFIG_EXTENSIONS.includes(extname(n).toLowerCase())) visit(child, false);
      }
      if (top && out.length === before)
        throw new Error(
          `no .yaml, .yml or .json files in ${p}${recursive ? '' : ' (-R reads subdirectories)'}`,
        );
      return;
    }
    out.push({ source: p, text: readFileSync(p, 'utf8') });
  };
  for (const p of paths) visit(p, true);
  return out;
}

function printIssues(issues: ConfigIssue[] | undefined, stream: NodeJS.WriteStream): void {
  for (const i of issues ?? []) stream.write(`${formatIssue(i)}\n`);
}

interface WriteFlags {
  admin: string;
  token?: string;
  tokenFile?: string;
}

export async function applyCommand(
  f: WriteFlags & { file: string[]; recursive?: boolean; dryRun?: boolean },
): Promise<void> {
  const files = readInputs(f.file, f.recursive);
  const { status, json } = await adminCall(
    f.admin,
    'POST',
    `/apis/apply${f.dryRun ? '?dryRun=true' : ''}`,
    JSON.stringify({ files }),
    readToken(f.token, f.tokenFile, '--token'),
    'application/json',
  );
  if (status !== 200) {
    process.stderr.write(
      `error: the change was refused${status === 401 ? ' (admin token required)' : ''}; nothing was applied:\n`,
    );
    printIssues(json.issues, process.stderr);
    if (json.error) process.stderr.write(`${json.error}\n`);
    process.exitCode = 1;
    return;
  }
  for (const r of json.results ?? [])
    process.stdout.write(`${kindRef(r)} ${r.result}${f.dryRun ? ' (dry run)' : ''}\n`);
  printIssues(
    (json.issues as ConfigIssue[] | undefined)?.filter((i) => i.severity !== 'info'),
    process.stderr,
  );
}

/** kubectl's "virtualservice.networking.istio.io/httpbin" form. */
export function kindRef(r: { apiVersion: string; kind: string; name: string }): string {
  const group = r.apiVersion.includes('/') ? `.${r.apiVersion.split('/')[0]}` : '';
  return `${r.kind.toLowerCase()}${group}/${r.name}`;
}

export async function getCommand(
  kindArg: string,
  name: string | undefined,
  f: {
    namespace: string;
    allNamespaces?: boolean;
    output: string;
    admin: string;
    token?: string;
    tokenFile?: string;
  },
): Promise<void> {
  const kind = canonicalKind(kindArg);
  if (!kind) throw new Error(`unknown resource type "${kindArg}"`);
  const q = new URLSearchParams({ kind, namespace: f.allNamespaces ? '*' : f.namespace });
  if (name) q.set('name', name);
  const { status, json } = await adminCall(
    f.admin,
    'GET',
    `/apis/resources?${q}`,
    undefined,
    readToken(f.token, f.tokenFile, '--token'),
  );
  if (status !== 200) throw new Error(json.error ?? `the admin API answered ${status}`);
  const items: ResourceItem[] = json.items ?? [];
  if (name && items.length === 0) {
    process.stderr.write(`Error from server (NotFound): ${kind} "${name}" not found\n`);
    process.exitCode = 1;
    return;
  }
  const strip = (it: ResourceItem) => {
    const { source: _source, origin: _origin, ...rest } = it;
    return rest;
  };
  if (f.output === 'json') {
    process.stdout.write(
      JSON.stringify(
        name ? strip(items[0]) : { apiVersion: 'v1', kind: 'List', items: items.map(strip) },
        null,
        2,
      ) + '\n',
    );
    return;
  }
  if (f.output === 'yaml') {
    process.stdout.write(
      name ? stringify(strip(items[0])) : items.map((i) => stringify(strip(i))).join('---\n'),
    );
    return;
  }
  if (items.length === 0) {
    process.stderr.write(`No resources found in ${f.allNamespaces ? 'any' : f.namespace} namespace.\n`);
    return;
  }
  const wide = f.output === 'wide';
  const rows = [
    wide ? ['NAMESPACE', 'NAME', 'KIND', 'SOURCE', 'DETAIL'] : ['NAMESPACE', 'NAME', 'SOURCE'],
    ...items.map((i) =>
      wide
        ? [i.metadata.namespace, i.metadata.name, i.kind, i.source ?? '', originDetail(i.origin)]
        : [i.metadata.namespace, i.metadata.name, i.source ?? ''],
    ),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  for (const r of rows)
    process.stdout.write(
      r
        .map((v, c) => String(v).padEnd(widths[c] + 3))
        .join('')
        .trimEnd() + '\n',
    );
}

/** Where a resource's origin is, in one cell of `get -o wide`. */
function originDetail(o: ResourceItem['origin']): string {
  if (!o) return '';
  if (o.type === 'applied') return `applied ${o.at ?? '?'}; stored in ${o.stateFile ?? '?'}`;
  if (o.type === 'file') return o.line !== undefined ? `${o.file}:${o.line}` : String(o.file);
  return String(o.type);
}

export async function deleteCommand(
  kindArg: string | undefined,
  names: string[],
  f: WriteFlags & { namespace: string; file?: string[]; recursive?: boolean },
): Promise<void> {
  const token = readToken(f.token, f.tokenFile, '--token');
  if (f.file?.length) {
    if (kindArg) throw new Error('delete: give -f FILE or KIND NAME…, not both');
    const { status, json } = await adminCall(
      f.admin,
      'POST',
      '/apis/delete',
      JSON.stringify({ files: readInputs(f.file, f.recursive) }),
      token,
      'application/json',
    );
    const deleted = (json.deleted as { kind: string; name: string }[] | undefined) ?? [];
    if (status === 200)
      for (const d of deleted) process.stdout.write(`${d.kind.toLowerCase()} "${d.name}" deleted\n`);
    for (const n of (json.notFound as { kind: string; name: string }[] | undefined) ?? [])
      process.stderr.write(`Error from server (NotFound): ${n.kind.toLowerCase()} "${n.name}" not found\n`);
    if (status !== 200) {
      process.stderr.write(`error: ${json.error ?? 'delete failed'}; nothing was deleted\n`);
      printIssues(json.issues, process.stderr);
    }
    if (status !== 200 || (json.notFound as unknown[] | undefined)?.length) process.exitCode = 1;
    return;
  }
  if (!kindArg || names.length === 0) throw new Error('delete: give KIND NAME… or -f FILE');
  const kind = canonicalKind(kindArg);
  if (!kind) throw new Error(`unknown resource type "${kindArg}"`);
  for (const name of names) {
    const { status, json } = await adminCall(
      f.admin,
      'DELETE',
      `/apis/resources/${kind}/${encodeURIComponent(f.namespace)}/${encodeURIComponent(name)}`,
      undefined,
      token,
    );
    if (status === 200) process.stdout.write(`${kind.toLowerCase()} "${name}" deleted\n`);
    else {
      process.stderr.write(`error: ${json.error ?? 'delete failed'}\n`);
      printIssues(json.issues, process.stderr);
      process.exitCode = 1;
    }
  }
}

/** `umbra stop`: asks the Umbra behind an admin address to drain and exit, then waits until it has. */
export async function stopCommand(f: WriteFlags & { wait: string }): Promise<void> {
  const { status, json } = await adminCall(
    f.admin,
    'POST',
    '/quitquitquit',
    '{}',
    readToken(f.token, f.tokenFile, '--token'),
    'application/json',
  );
  if (status !== 200) throw new Error(json.error ?? `the admin API answered ${status}`);
  const pid = Number(json.pid);
  const deadline = Date.now() + Number(f.wait);
  // Gone when its pid no longer exists (signal 0 probes without signalling).
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) {
    process.stderr.write(`umbra (pid ${pid}) is still draining after ${f.wait} ms\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`umbra (pid ${pid}) stopped\n`);
}

export async function statusCommand(f: {
  admin: string;
  output?: string;
  token?: string;
  tokenFile?: string;
}): Promise<void> {
  const token = readToken(f.token, f.tokenFile, '--token');
  const [dump, clusters] = await Promise.all([
    adminCall(f.admin, 'GET', '/config_dump', undefined, token),
    adminCall(f.admin, 'GET', '/clusters', undefined, token),
  ]);
  for (const r of [dump, clusters])
    if (r.status !== 200) throw new Error(r.json.error ?? `the admin API answered ${r.status}`);
  if (f.output === 'json') {
    process.stdout.write(JSON.stringify({ config: dump.json, clusters: clusters.json }, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    formatStatus(dump.json as unknown as ConfigDumpJson, clusters.json as unknown as ClustersJson),
  );
}
