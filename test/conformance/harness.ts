// A small conformance harness in the manner of the Gateway API conformance suite
// (kubernetes-sigs/gateway-api conformance/utils/http): a real Umbra, real echo backends declared by
// Service + WorkloadEntry, and table-driven cases — request in; expected status, backend, path,
// request and response headers, redirect Location; copies observed at the mirror backends.

import assert from 'node:assert/strict';
import { request } from 'undici';
import { MIRROR_MARKER } from '../../src/proxy/mirror.js';
import { startEchoServer, waitFor, type RecordedRequest, type TestServer } from '../helpers/servers.js';
import { startTestUmbra, workloadEntry, type TestUmbra } from '../helpers/umbra.js';

export const GATEWAY_CLASS = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: umbra}
spec: {controllerName: umbra.dev/gateway-controller}
---
`;

/** A Gateway named "same-namespace" (as in the conformance suite) with one HTTP listener. */
export function gatewayYaml(port: number, name = 'same-namespace'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}}
spec:
  gatewayClassName: umbra
  listeners: [{name: http, port: ${port}, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
---
`;
}

/** Service "name" on port 8080, backed by the test server through a WorkloadEntry. */
export function backendYaml(name: string, server: TestServer): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  ports: [{name: http, port: 8080}]
  selector: {app: ${name}}
---
${workloadEntry(name, server.port, { app: name })}---
`;
}

export interface Env {
  readonly umbra: TestUmbra;
  readonly backends: ReadonlyMap<string, TestServer>;
  close(): Promise<void>;
}

export async function startEnv(
  names: readonly string[],
  config: (backends: ReadonlyMap<string, TestServer>) => string,
  extra: Record<string, TestServer> = {},
): Promise<Env> {
  const backends = new Map<string, TestServer>(Object.entries(extra));
  for (const n of names) backends.set(n, await startEchoServer());
  const yaml = [...backends].map(([n, s]) => backendYaml(n, s)).join('') + config(backends);
  let umbra: TestUmbra;
  try {
    umbra = await startTestUmbra({ 'conformance.yaml': yaml });
  } catch (e) {
    // A configuration the test got wrong must fail the test, not leave servers holding it open.
    await Promise.all([...backends.values()].map((s) => s.close()));
    throw e;
  }
  return {
    umbra,
    backends,
    async close() {
      await umbra.close();
      await Promise.all([...backends.values()].map((s) => s.close()));
    },
  };
}

export interface ExpectedRequest {
  /** Path and query the backend saw; default: the request's. */
  readonly path?: string;
  readonly host?: string;
  readonly headers?: Record<string, string>;
  readonly absentHeaders?: readonly string[];
}

export interface Case {
  readonly name: string;
  readonly request: {
    readonly host?: string;
    readonly path: string;
    readonly method?: string;
    readonly headers?: Record<string, string>;
    readonly body?: string;
  };
  readonly status?: number;
  /**
   * Backend that must get the request (exactly once); undefined: no backend may get it; '*': not
   * checked (a timeout may fire before or after the request reaches the backend).
   */
  readonly backend?: string;
  readonly expected?: ExpectedRequest;
  readonly responseHeaders?: Record<string, string>;
  readonly absentResponseHeaders?: readonly string[];
  readonly location?: string;
  readonly mirroredTo?: readonly ({ readonly backend: string } & ExpectedRequest)[];
}

let seq = 0;

function byId(s: TestServer, id: string): RecordedRequest[] {
  return s.requests.filter((r) => r.headers['x-request-id'] === id);
}

/** Header values as a list: a header sent twice arrives joined with ", " by node. */
function values(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v.join(',') : v).split(',').map((s) => s.trim());
}

function checkRequest(what: string, rec: RecordedRequest, want: ExpectedRequest, defaultPath: string): void {
  assert.equal(rec.url, want.path ?? defaultPath, `${what}: path and query`);
  if (want.host !== undefined) assert.equal(rec.headers.host, want.host, `${what}: Host`);
  for (const [k, v] of Object.entries(want.headers ?? {}))
    assert.deepEqual(values(rec.headers[k.toLowerCase()]), values(v), `${what}: header ${k}`);
  for (const k of want.absentHeaders ?? [])
    assert.equal(rec.headers[k.toLowerCase()], undefined, `${what}: header ${k} must be absent`);
}

export async function send(base: string, r: Case['request'], id: string) {
  return request(`${base}${r.path}`, {
    method: (r.method ?? 'GET') as 'GET',
    headers: { host: r.host ?? 'example.org', 'x-request-id': id, ...r.headers },
    body: r.body,
  });
}

/** Runs one case against `base` (a listener URL) and checks everything it states. */
export async function runCase(env: Env, base: string, c: Case): Promise<void> {
  const id = `conformance-${++seq}`;
  const res = await send(base, c.request, id);
  const body = await res.body.text();
  assert.equal(res.statusCode, c.status ?? 200, `status; body: ${body}`);
  if (c.location !== undefined) assert.equal(res.headers.location, c.location, 'Location');
  for (const [k, v] of Object.entries(c.responseHeaders ?? {}))
    assert.deepEqual(values(res.headers[k.toLowerCase()]), values(v), `response header ${k}`);
  for (const k of c.absentResponseHeaders ?? [])
    assert.equal(res.headers[k.toLowerCase()], undefined, `response header ${k} must be absent`);

  const primaries = [...env.backends].flatMap(([name, s]) =>
    byId(s, id)
      .filter((r) => r.headers[MIRROR_MARKER] === undefined)
      .map((r) => ({ name, r })),
  );
  if (c.backend === '*') return;
  if (c.backend === undefined)
    assert.deepEqual(
      primaries.map((p) => p.name),
      [],
      'no backend may get this request',
    );
  else {
    assert.deepEqual(
      primaries.map((p) => p.name),
      [c.backend],
      'backend',
    );
    checkRequest('backend', primaries[0].r, c.expected ?? {}, c.request.path);
  }
  for (const m of c.mirroredTo ?? []) {
    const server = env.backends.get(m.backend)!;
    const copy = await waitFor(
      () => byId(server, id).find((r) => r.headers[MIRROR_MARKER] !== undefined),
      5000,
    );
    checkRequest(`mirror ${m.backend}`, copy, m, c.expected?.path ?? c.request.path);
  }
}
