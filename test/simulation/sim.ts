// Helpers for the simulation suite: YAML in, a compiled RouteTable and its issues out, and small
// builders for services with workloads, so each test reads as "this config, this request → that".

import assert from 'node:assert/strict';
import type { ConfigIssue } from '../../src/config/issues.js';
import { loadText } from '../../src/config/load.js';
import type { Resource } from '../../src/config/resource.js';
import type { RouteTable } from '../../src/model/route-table.js';
import { simulate, type SimOptions, type SimRequest, type SimResult } from '../../src/proxy/simulate.js';
import { buildRouteTable } from '../../src/translate/build-table.js';
import { DEFAULT_MIRROR } from '../../src/translate/mirror-policies.js';

export interface Compiled {
  readonly table: RouteTable;
  readonly issues: ConfigIssue[];
  readonly resources: Resource[];
}

/** Loads and compiles YAML exactly as `umbra validate` does (load issues first, then translation's). */
export function compile(yaml: string, namespace = 'default'): Compiled {
  const loaded = loadText(yaml, 'sim.yaml');
  const built = buildRouteTable(loaded.resources, { namespace, mirrorDefaults: DEFAULT_MIRROR, version: 1 });
  return { table: built.table, issues: [...loaded.issues, ...built.issues], resources: loaded.resources };
}

/** Compiles and insists on no errors (warnings allowed). */
export function table(yaml: string): RouteTable {
  const c = compile(yaml);
  const errors = c.issues.filter((i) => i.severity === 'error');
  assert.deepEqual(errors, [], 'config has errors');
  return c.table;
}

/** A GET (or given method) to `url` with headers; `random` fixes every draw. */
export function sim(
  t: RouteTable,
  url: string,
  init: Omit<SimRequest, 'url'> = {},
  o: SimOptions = {},
): SimResult {
  return simulate(t, { ...init, url }, o);
}

/** Draws that repeat the given values in turn. */
export function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

export interface WorkloadSpec {
  readonly name: string;
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly port?: number;
}

/** A Service `name` (port 8000 → targetPort 80, or the given ports) and WorkloadEntries selected by app=name. */
export function service(
  name: string,
  workloads: readonly WorkloadSpec[],
  ports: readonly number[] = [8000],
): string {
  const docs = [
    `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app: ${name}
  ports:
${ports.map((p) => `  - name: http-${p}\n    port: ${p}\n    targetPort: 80`).join('\n')}
`,
  ];
  for (const w of workloads)
    docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${w.name}
spec:
  address: ${w.address}
  labels:
    app: ${name}
${Object.entries(w.labels)
  .map(([k, v]) => `    ${k}: ${v}`)
  .join('\n')}
`);
  return docs.join('---\n');
}

/** httpbin with v1 (10.0.0.1, 10.0.0.2) and v2 (10.0.0.3) workloads and a DestinationRule with both subsets. */
export const HTTPBIN = `${service('httpbin', [
  { name: 'v1a', address: '10.0.0.1', labels: { version: 'v1' } },
  { name: 'v1b', address: '10.0.0.2', labels: { version: 'v1' } },
  { name: 'v2a', address: '10.0.0.3', labels: { version: 'v2' } },
])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;

/** A VirtualService for `hosts` with the given `http:` rules (YAML, indented as list items under http). */
export function vs(name: string, hosts: readonly string[], http: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
spec:
  hosts: [${hosts.join(', ')}]
${extra}  http:
${http
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

export const V1 = 'outbound|8000|v1|httpbin.default.svc.cluster.local';
export const V2 = 'outbound|8000|v2|httpbin.default.svc.cluster.local';
export const ALL = 'outbound|8000||httpbin.default.svc.cluster.local';

export function issuesAt(c: Compiled, path: string): ConfigIssue[] {
  return c.issues.filter((i) => i.path === path);
}
