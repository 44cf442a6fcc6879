// Simulation: DestinationRule traffic policy — load balancers (round robin, least request, random,
// consistent hash on header, cookie, source IP and query parameter, ring and Maglev), weights over
// many requests, and connection pool, outlier detection and TLS settings at top, port and subset level.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMaglev, buildRing, hashKey } from '../../src/model/consistent-hash.js';
import type { Cluster } from '../../src/model/route-table.js';
import { Upstreams } from '../../src/proxy/upstreams.js';
import { compile, draws, HTTPBIN, service, sim, table, V1, V2, vs } from './sim.js';

/** httpbin with four v1 endpoints and a DestinationRule whose top-level policy is `policy` (YAML). */
function withPolicy(policy: string, endpoints = 4): ReturnType<typeof table> {
  const eps = Array.from({ length: endpoints }, (_, i) => ({
    name: `w${i}`,
    address: `10.0.1.${i + 1}`,
    labels: { version: 'v1' },
  }));
  return table(`${service('httpbin', eps)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
${policy
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`);
}

const cluster = (
  t: ReturnType<typeof table>,
  name = 'outbound|8000||httpbin.default.svc.cluster.local',
): Cluster => t.clusters.get(name)!;

test('weights 90/10 over 2000 requests land within 3σ of 1800/200', () => {
  const t = table(
    `${HTTPBIN}---\n${vs(
      'httpbin',
      ['httpbin'],
      `- route:
  - destination: {host: httpbin, subset: v1}
    weight: 90
  - destination: {host: httpbin, subset: v2}
    weight: 10`,
    )}`,
  );
  let v1 = 0;
  let v2 = 0;
  for (let i = 0; i < 2000; i++) {
    const c = sim(t, 'http://httpbin:8000/').cluster;
    if (c === V1) v1++;
    else if (c === V2) v2++;
  }
  const sigma = Math.sqrt(2000 * 0.9 * 0.1); // ≈ 13.4
  assert.equal(v1 + v2, 2000);
  assert.ok(Math.abs(v1 - 1800) <= 3 * sigma, `v1 got ${v1}`);
});

test('round robin walks the endpoints in turn; random and least request pick among them', () => {
  const rr = withPolicy('loadBalancer: {simple: ROUND_ROBIN}');
  const cursors = new Map<string, { rr: number }>();
  const seen = Array.from({ length: 8 }, () => sim(rr, 'http://httpbin:8000/', {}, { cursors }).endpoint);
  assert.deepEqual(seen, [
    '10.0.1.1:80',
    '10.0.1.2:80',
    '10.0.1.3:80',
    '10.0.1.4:80',
    '10.0.1.1:80',
    '10.0.1.2:80',
    '10.0.1.3:80',
    '10.0.1.4:80',
  ]);
  const random = withPolicy('loadBalancer: {simple: RANDOM}');
  assert.equal(sim(random, 'http://httpbin:8000/', {}, { random: draws(0.99) }).endpoint, '10.0.1.4:80');
  assert.equal(cluster(random).lb.kind, 'random');
  assert.equal(cluster(withPolicy('loadBalancer: {simple: LEAST_REQUEST}')).lb.kind, 'least-request');
  assert.equal(cluster(withPolicy('loadBalancer: {simple: LEAST_CONN}')).lb.kind, 'least-request');
});

test('least request prefers the endpoint with fewer requests in flight (power of two choices)', () => {
  const t = withPolicy('loadBalancer: {simple: LEAST_REQUEST}', 2);
  const c = cluster(t);
  const u = new Upstreams();
  u.state(c, c.endpoints[0]).inFlight = 5;
  // Whenever both choices differ, the idle one wins; when they coincide either may come back.
  const counts = { idle: 0 };
  for (let i = 0; i < 400; i++) if (u.pick(c, undefined)!.address === '10.0.1.2') counts.idle++;
  assert.ok(counts.idle > 250, `idle endpoint picked ${counts.idle}/400`);
});

test('consistent hash on a header, a cookie, the source IP and a query parameter: one key, one endpoint', () => {
  const cases: [string, (key: string) => Parameters<typeof sim>[2]][] = [
    ['httpHeaderName: x-user', (k) => ({ headers: { 'x-user': k } })],
    ['httpCookie: {name: session, ttl: 0s}', (k) => ({ headers: { cookie: `a=1; session=${k}` } })],
    ['useSourceIp: true', (k) => ({ remoteAddress: `192.168.7.${k.slice(5)}` })],
    ['httpQueryParameterName: user', () => ({})],
  ];
  for (const [hash, reqOf] of cases) {
    const t = withPolicy(`loadBalancer:\n  consistentHash:\n    ${hash}`, 5);
    const endpoints = new Set<string>();
    const byKey = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const key = `user-${i % 40}`;
      const url = hash.startsWith('httpQuery')
        ? `http://httpbin:8000/x?user=${key}`
        : 'http://httpbin:8000/x';
      const r = sim(t, url, reqOf(key));
      const prev = byKey.get(key);
      if (prev) assert.equal(r.endpoint, prev, `${hash}: ${key} moved`);
      byKey.set(key, r.endpoint!);
      endpoints.add(r.endpoint!);
    }
    assert.ok(endpoints.size >= 3, `${hash}: keys spread over ${endpoints.size} endpoints`);
  }
});

test('a generated hash cookie (httpCookie with a ttl) is set on the response and pins later requests', () => {
  const t = withPolicy(
    'loadBalancer:\n  consistentHash:\n    httpCookie: {name: sticky, ttl: 60s, path: /}',
    5,
  );
  const first = sim(t, 'http://httpbin:8000/', { remoteAddress: '203.0.113.9' });
  const setCookie = first.responseHeaderOps
    ?.flatMap((o) => o.add ?? [])
    .find(([k]) => k === 'set-cookie')?.[1];
  assert.match(setCookie ?? '', /^sticky="[0-9a-f]{16}"; Max-Age=60; Path=\/; HttpOnly$/);
  const value = /"([0-9a-f]+)"/.exec(setCookie!)![1];
  for (let i = 0; i < 5; i++)
    assert.equal(
      sim(t, 'http://httpbin:8000/', { headers: { cookie: `sticky=${value}` }, remoteAddress: `10.9.9.${i}` })
        .endpoint,
      first.endpoint,
    );
});

test('ring and Maglev tables: keys keep their endpoint when another endpoint goes or comes', () => {
  const ids = Array.from({ length: 6 }, (_, i) => `10.0.0.${i + 1}:80`);
  for (const build of [(x: string[]) => buildRing(x, 1024), (x: string[]) => buildMaglev(x, 65537)]) {
    const before = build(ids);
    const without = build(ids.filter((_, i) => i !== 2));
    const withMore = build([...ids, '10.0.0.99:80']);
    let moved = 0;
    let movedOnAdd = 0;
    const keys = 3000;
    const counts = new Array<number>(ids.length).fill(0);
    for (let k = 0; k < keys; k++) {
      const h = hashKey(`key-${k}`);
      const a = ids[before.lookup(h)];
      counts[before.lookup(h)]++;
      const b = ids.filter((_, i) => i !== 2)[without.lookup(h)];
      if (a !== ids[2] && a !== b) moved++;
      if ([...ids, '10.0.0.99:80'][withMore.lookup(h)] !== a) movedOnAdd++;
    }
    // A ring rebuilt without an endpoint moves none of the other endpoints' keys; Maglev moves few.
    if (before.kind === 'ring') assert.equal(moved, 0, 'ring: keys of surviving endpoints stay put');
    else assert.ok(moved <= keys * 0.05, `maglev: ${moved} keys of surviving endpoints moved`);
    // One endpoint in seven joins: about 1/7 of the keys move to it, few others move.
    assert.ok(movedOnAdd < keys * 0.25, `${before.kind}: ${movedOnAdd} keys moved on add`);
    // Even spread: every endpoint gets between half and twice its fair share.
    for (const c of counts) assert.ok(c > keys / 12 && c < keys / 3, `${before.kind}: share ${c}`);
  }
});

test('an ejected endpoint hands its keys to the next endpoint on the ring; the others keep theirs', () => {
  const t = withPolicy(
    'loadBalancer:\n  consistentHash: {httpHeaderName: x-user}\noutlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 100}',
    4,
  );
  const c = cluster(t);
  const u = new Upstreams();
  const home = new Map<string, string>();
  for (let i = 0; i < 100; i++) home.set(`u${i}`, u.pick(c, `u${i}`)!.address);
  const victim = c.endpoints[1];
  u.record(c, u.state(c, victim), 503);
  for (const [key, addr] of home) {
    const now = u.pick(c, key)!.address;
    if (addr === victim.address) assert.notEqual(now, victim.address);
    else assert.equal(now, addr, `${key} moved though its endpoint is healthy`);
  }
});

test('connection pool, outlier detection and TLS settings; port-level and subset policies override the top level', () => {
  const c = compile(`${service('httpbin', [{ name: 'a', address: '10.0.0.1', labels: { version: 'v1' } }])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin-policy
spec:
  host: httpbin.default.svc.cluster.local
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 2s, tcpKeepalive: {time: 30s}}
      http: {http1MaxPendingRequests: 5, http2MaxRequests: 50, maxRequestsPerConnection: 3, maxRetries: 4, idleTimeout: 90s}
    outlierDetection:
      consecutive5xxErrors: 7
      consecutiveGatewayErrors: 2
      interval: 5s
      baseEjectionTime: 1m
      maxEjectionPercent: 50
      minHealthPercent: 20
      splitExternalLocalOriginErrors: true
      consecutiveLocalOriginFailures: 3
    tls: {mode: SIMPLE, sni: api.internal, caCertificates: /etc/ca.pem, subjectAltNames: [api.internal]}
    portLevelSettings:
    - port: {number: 8000}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        consistentHash:
          httpHeaderName: x-user
          maglev: {tableSize: 251}
  - name: v2
    labels: {version: v2}
`);
  assert.deepEqual(
    c.issues.filter((i) => i.severity === 'error'),
    [],
  );
  const all = c.table.clusters.get('outbound|8000||httpbin.default.svc.cluster.local')!;
  assert.deepEqual(all.pool, {
    maxConnections: 10,
    maxPendingRequests: 5,
    maxRequestsPerConnection: 3,
    idleTimeoutMs: 90_000,
    connectTimeoutMs: 2000,
    maxRequests: 50,
    maxRetries: 4,
    tcpKeepaliveMs: 30_000,
  });
  assert.deepEqual(all.outlier, {
    consecutive5xx: 7,
    consecutiveGatewayErrors: 2,
    intervalMs: 5000,
    baseEjectionMs: 60_000,
    maxEjectionPercent: 50,
    minHealthPercent: 20,
    splitLocalOriginErrors: true,
    consecutiveLocalOriginFailures: 3,
  });
  assert.deepEqual(all.tls, {
    mode: 'SIMPLE',
    sni: 'api.internal',
    insecureSkipVerify: undefined,
    caCertificates: '/etc/ca.pem',
    subjectAltNames: ['api.internal'],
  });
  assert.equal(all.lb.kind, 'random', 'port-level loadBalancer');
  // The subset's own loadBalancer wins; the rest is inherited from the top level.
  const v1 =
    compile(`${HTTPBIN.replace(/---\napiVersion: networking.istio.io\/v1\nkind: DestinationRule[\s\S]*$/, '')}---
${vs('httpbin', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v1}`)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 10}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        consistentHash:
          httpHeaderName: x-user
          maglev: {tableSize: 251}
`).table.clusters.get(V1)!;
  assert.equal(v1.lb.kind, 'hash');
  assert.equal(v1.lb.kind === 'hash' && v1.lb.table?.kind, 'maglev');
  assert.equal(v1.lb.kind === 'hash' && v1.lb.table?.size, 251);
  assert.equal(v1.pool.maxConnections, 10);
  assert.deepEqual(
    v1.endpoints.map((e) => e.address),
    ['10.0.0.1', '10.0.0.2'],
  );
});

test('a subset with no endpoints routes to 503 UH; an undefined subset is an error naming the defined ones', () => {
  const c = compile(
    `${HTTPBIN}---\n${vs('httpbin', ['httpbin'], `- route:\n  - destination: {host: httpbin, subset: v3}`)}`,
  );
  const e = c.issues.find(
    (i) => i.severity === 'error' && i.path === 'spec.http[0].route[0].destination.subset',
  );
  assert.ok(e);
  assert.match(e.message, /subset "v3" of httpbin\.default\.svc\.cluster\.local is not defined/);
  assert.equal(e.hint, 'defined subsets: v1, v2');
});

test('the deprecated outlierDetection.consecutiveErrors counts gateway errors only, as istiod applies it', () => {
  const outlierOf = (od: string) => {
    const c =
      compile(`${service('httpbin', [{ name: 'a', address: '10.0.0.1', labels: { version: 'v1' } }])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    outlierDetection: ${od}
`);
    assert.deepEqual(
      c.issues.filter((i) => i.severity === 'error'),
      [],
    );
    const o = c.table.clusters.get('outbound|8000||httpbin.default.svc.cluster.local')!.outlier!;
    return { issues: c.issues, fivexx: o.consecutive5xx, gateway: o.consecutiveGatewayErrors };
  };
  const old = outlierOf('{consecutiveErrors: 3}');
  assert.deepEqual([old.fivexx, old.gateway], [0, 3]);
  const warning = old.issues.find((i) => i.path.endsWith('outlierDetection.consecutiveErrors'));
  assert.match(warning?.message ?? '', /^deprecated: counts gateway errors/);
  // The newer fields win when both are given.
  const both = outlierOf('{consecutiveErrors: 3, consecutive5xxErrors: 4, consecutiveGatewayErrors: 6}');
  assert.deepEqual([both.fivexx, both.gateway], [4, 6]);
});
