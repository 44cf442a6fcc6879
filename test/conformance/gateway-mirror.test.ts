// Gateway API RequestMirror conformance, in the style of the upstream HTTPRouteRequestMirror,
// HTTPRouteRequestMultipleMirrors and HTTPRouteRequestPercentageMirror tests: copies observed at
// the mirror backends with the exact path and query, the headers of the filters listed before the
// mirror (and not of those after it), the body; and `percent: 20` (and fractions) over 500
// requests landing within the upstream suite's tolerance of ±5 % of the expected count.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MIRROR_MARKER } from '../../src/proxy/mirror.js';
import { freePort, waitFor } from '../helpers/servers.js';
import { GATEWAY_CLASS, gatewayYaml, runCase, send, startEnv, type Case, type Env } from './harness.js';

const modify = `{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}`;
const mirror = (backend: string, extra = '') =>
  `{type: RequestMirror, requestMirror: {backendRef: {name: ${backend}, port: 8080}${extra}}}`;
const v1 = 'backendRefs: [{name: infra-backend-v1, port: 8080}]';

const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: request-mirror}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{path: {value: /mirror}}], filters: [${mirror('mirrored-backend')}], ${v1}}
  - {matches: [{path: {value: /multi-mirror}}], filters: [${mirror('infra-backend-v2')}, ${mirror('infra-backend-v3')}], ${v1}}
  - {matches: [{path: {value: /multi-mirror-and-modify-request-headers}}], filters: [${modify}, ${mirror('infra-backend-v2')}, ${mirror('infra-backend-v3')}], ${v1}}
  - {matches: [{path: {value: /mirror-then-modify}}], filters: [${mirror('infra-backend-v2')}, ${modify}], ${v1}}
  - {matches: [{path: {value: /mirror-then-rewrite}}], filters: [${mirror('infra-backend-v2')}, {type: URLRewrite, urlRewrite: {hostname: rewritten.example, path: {type: ReplaceFullPath, replaceFullPath: /rewritten}}}], ${v1}}
  - {matches: [{path: {value: /rewrite-then-mirror}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}, ${mirror('infra-backend-v2')}], ${v1}}
  - {matches: [{path: {value: /percent-mirror}}], filters: [${mirror('infra-backend-v2', ', percent: 20')}], ${v1}}
  - {matches: [{path: {value: /percent-mirror-fraction}}], filters: [${mirror('infra-backend-v2', ', fraction: {numerator: 25, denominator: 50}')}], ${v1}}
  - {matches: [{path: {value: /percent-mirror-third}}], filters: [${mirror('infra-backend-v2', ', fraction: {numerator: 1, denominator: 3}')}], ${v1}}
  - {matches: [{path: {value: /percent-multi-mirror-and-modify-headers}}], filters: [${modify}, ${mirror('infra-backend-v2', ', percent: 35')}, ${mirror('infra-backend-v3', ', percent: 50')}], ${v1}}
---
`;

let env: Env;
let base: string;

before(async () => {
  const port = await freePort();
  env = await startEnv(
    ['infra-backend-v1', 'infra-backend-v2', 'infra-backend-v3', 'mirrored-backend'],
    () => GATEWAY_CLASS + gatewayYaml(port) + ROUTE,
  );
  base = `http://127.0.0.1:${port}`;
});

after(() => env?.close());

const headersIn = { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' };
const modified = {
  headers: {
    'X-Header-Add': 'header-val-1',
    'X-Header-Add-Append': 'append-val-1,header-val-2',
    'X-Header-Set': 'set-overwrites-values',
  },
  absentHeaders: ['X-Header-Remove'],
};

const cases: Case[] = [
  {
    name: 'one mirror: exact path and query, Host with -shadow',
    request: { path: '/mirror/a%20b?q=1&q=2&x=%2F' },
    backend: 'infra-backend-v1',
    expected: { host: 'example.org' },
    mirroredTo: [
      { backend: 'mirrored-backend', path: '/mirror/a%20b?q=1&q=2&x=%2F', host: 'example.org-shadow' },
    ],
  },
  {
    name: 'two mirrors',
    request: { path: '/multi-mirror' },
    backend: 'infra-backend-v1',
    mirroredTo: [{ backend: 'infra-backend-v2' }, { backend: 'infra-backend-v3' }],
  },
  {
    name: 'two mirrors after a header modifier: both copies carry the modification',
    request: { path: '/multi-mirror-and-modify-request-headers', headers: headersIn },
    backend: 'infra-backend-v1',
    expected: modified,
    mirroredTo: [
      { backend: 'infra-backend-v2', ...modified },
      { backend: 'infra-backend-v3', ...modified },
    ],
  },
  {
    name: 'a mirror listed before the header modifier: the copy has the original headers',
    request: { path: '/mirror-then-modify', headers: headersIn },
    backend: 'infra-backend-v1',
    expected: modified,
    mirroredTo: [
      { backend: 'infra-backend-v2', headers: headersIn, absentHeaders: ['X-Header-Set', 'X-Header-Add'] },
    ],
  },
  {
    name: 'a mirror listed before URLRewrite: the copy has the original path and Host',
    request: { path: '/mirror-then-rewrite/x?y=1' },
    backend: 'infra-backend-v1',
    expected: { path: '/rewritten?y=1', host: 'rewritten.example' },
    mirroredTo: [
      { backend: 'infra-backend-v2', path: '/mirror-then-rewrite/x?y=1', host: 'example.org-shadow' },
    ],
  },
  {
    name: 'a mirror listed after URLRewrite: the copy has the rewritten path',
    request: { path: '/rewrite-then-mirror/x?y=1' },
    backend: 'infra-backend-v1',
    expected: { path: '/new/x?y=1' },
    mirroredTo: [{ backend: 'infra-backend-v2', path: '/new/x?y=1' }],
  },
];

test('HTTPRoute RequestMirror on a Gateway listener', async (t) => {
  for (const c of cases) await t.test(c.name, () => runCase(env, base, c));
});

test('the copy carries the body', async () => {
  const body = 'x'.repeat(100_000);
  const res = await send(base, { path: '/mirror', method: 'POST', body }, 'mirror-body');
  assert.equal(res.statusCode, 200);
  await res.body.text();
  const server = env.backends.get('mirrored-backend')!;
  const copy = await waitFor(
    () => server.requests.find((r) => r.headers['x-request-id'] === 'mirror-body' && r.completed),
    5000,
  );
  assert.equal(copy.bodySha256, createHash('sha256').update(body).digest('hex'));
  assert.equal(copy.method, 'POST');
});

/** Sends `n` requests, 10 at a time as the upstream suite does, and waits for every copy to settle. */
async function load(path: string, n: number): Promise<void> {
  let next = 0;
  const failures: string[] = [];
  // Workers never throw: a failure stops them all, so none outlives the test.
  const worker = async () => {
    while (next < n && failures.length === 0) {
      const i = next++;
      try {
        const res = await send(base, { path, headers: headersIn }, `${path}-${i}`);
        const text = await res.body.text();
        if (res.statusCode !== 200) failures.push(`request ${i}: ${res.statusCode} ${text}`);
      } catch (e) {
        failures.push(`request ${i}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  assert.deepEqual(failures, [], 'every primary request succeeds');
  // Copies are fire-and-forget: wait until none is in flight any more.
  await waitFor(() => [...env.umbra.proxy.mirrors.counters.values()].every((c) => c.inFlight === 0), 10_000);
}

function copies(backend: string, path: string): number {
  return env.backends
    .get(backend)!
    .requests.filter((r) => r.url === path && r.headers[MIRROR_MARKER] !== undefined).length;
}

function withinTolerance(actual: number, total: number, percent: number): void {
  // HTTPRouteRequestPercentageMirror: expected ± 5 % of the expected count.
  const expected = (total * percent) / 100;
  assert.ok(
    actual >= expected * 0.95 && actual <= expected * 1.05,
    `${actual} copies; expected ${expected} ± 5 % (${expected * 0.95}…${expected * 1.05})`,
  );
}

test('percent: 20 over 500 requests lands within the tolerance', async () => {
  await load('/percent-mirror', 500);
  withinTolerance(copies('infra-backend-v2', '/percent-mirror'), 500, 20);
});

test('fraction 25/50 and 1/3 over 500 requests land within the tolerance', async () => {
  await load('/percent-mirror-fraction', 500);
  withinTolerance(copies('infra-backend-v2', '/percent-mirror-fraction'), 500, 50);
  await load('/percent-mirror-third', 500);
  withinTolerance(copies('infra-backend-v2', '/percent-mirror-third'), 500, 100 / 3);
});

test('two percentage mirrors after a header modifier: each within the tolerance, each copy modified', async () => {
  const path = '/percent-multi-mirror-and-modify-headers';
  await load(path, 500);
  withinTolerance(copies('infra-backend-v2', path), 500, 35);
  withinTolerance(copies('infra-backend-v3', path), 500, 50);
  for (const b of ['infra-backend-v2', 'infra-backend-v3'])
    for (const r of env.backends.get(b)!.requests.filter((x) => x.url === path)) {
      assert.equal(r.headers['x-header-set'], 'set-overwrites-values');
      assert.equal(r.headers['x-header-remove'], undefined);
    }
  assert.equal(
    env.backends.get('infra-backend-v1')!.requests.filter((r) => r.url === path).length,
    500,
    'the primary gets every request',
  );
});
