// `umbra apply`, `get`, `delete` and `status`: kubectl-like commands against a running Umbra.

import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { formatIssue, type ConfigIssue } from '../config/issues.js';
import { canonicalKind } from '../admin/resource-kinds.js';
import { formatStatus, type ClustersJson, type ConfigDumpJson } from './status-summary.js';
import { adminCall, type ResourceItem } from './admin-client.js';

function readInput(file: string): string {
  return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
}

function printIssues(issues: ConfigIssue[] | undefined, stream: NodeJS.WriteStream): void {
  for (const i of issues ?? []) stream.write(`${formatIssue(i)}\n`);
}

export async function applyCommand(f: {
  file: string;
  admin: string;
  token?: string;
  dryRun?: boolean;
}): Promise<void> {
  const text = readInput(f.file);
  const source = f.file === '-' ? 'stdin' : f.file;
  const { status, json } = await adminCall(
    f.admin,
    'POST',
    `/apis/apply?source=${encodeURIComponent(source)}${f.dryRun ? '&dryRun=true' : ''}`,
    text,
    f.token,
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
  f: { namespace: string; allNamespaces?: boolean; output: string; admin: string },
): Promise<void> {
  const kind = canonicalKind(kindArg);
  if (!kind) throw new Error(`unknown resource type "${kindArg}"`);
  const q = new URLSearchParams({ kind, namespace: f.allNamespaces ? '*' : f.namespace });
  if (name) q.set('name', name);
  const { json } = await adminCall(f.admin, 'GET', `/apis/resources?${q}`);
  const items: ResourceItem[] = json.items ?? [];
  if (name && items.length === 0) {
    process.stderr.write(`Error from server (NotFound): ${kind} "${name}" not found\n`);
    process.exitCode = 1;
    return;
  }
  const strip = (it: ResourceItem) => {
    const { source: _source, ...rest } = it;
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
  const rows = [
    ['NAMESPACE', 'NAME', 'SOURCE'],
    ...items.map((i) => [i.metadata.namespace, i.metadata.name, i.source]),
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

export async function deleteCommand(
  kindArg: string,
  names: string[],
  f: { namespace: string; admin: string; token?: string },
): Promise<void> {
  const kind = canonicalKind(kindArg);
  if (!kind) throw new Error(`unknown resource type "${kindArg}"`);
  for (const name of names) {
    const { status, json } = await adminCall(
      f.admin,
      'DELETE',
      `/apis/resources/${kind}/${encodeURIComponent(f.namespace)}/${encodeURIComponent(name)}`,
      undefined,
      f.token,
    );
    if (status === 200) process.stdout.write(`${kind.toLowerCase()} "${name}" deleted\n`);
    else {
      process.stderr.write(`error: ${json.error ?? 'delete failed'}\n`);
      printIssues(json.issues, process.stderr);
      process.exitCode = 1;
    }
  }
}

export async function statusCommand(f: { admin: string }): Promise<void> {
  const [dump, clusters] = await Promise.all([
    adminCall(f.admin, 'GET', '/config_dump'),
    adminCall(f.admin, 'GET', '/clusters'),
  ]);
  process.stdout.write(
    formatStatus(dump.json as unknown as ConfigDumpJson, clusters.json as unknown as ClustersJson),
  );
}
