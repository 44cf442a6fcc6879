// Pools and endpoint state looked up by object identity on the request path must behave as the
// keyed maps behind them: the same pool and state across table swaps that keep an endpoint, and
// never a pool that a swap has closed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { buildRouteTable, DEFAULT_BUILD } from '../../src/translate/build-table.js';
import { Upstreams } from '../../src/proxy/upstreams.js';
import type { RouteTable } from '../../src/model/route-table.js';
import { twoVersionService, routeToV1 } from '../helpers/mesh-yaml.js';

function table(v1Port: number, version: number): RouteTable {
  const { resources } = loadText(`${twoVersionService(v1Port, 18082)}---\n${routeToV1()}`, 'mesh.yaml');
  return buildRouteTable(resources, { ...DEFAULT_BUILD, version }).table;
}

function v1(t: RouteTable) {
  const c = [...t.clusters.values()].find((x) => x.subset === 'v1')!;
  return { c, e: c.endpoints[0] };
}

test('pool and state: same objects on every request and across swaps that keep the endpoint', async () => {
  const u = new Upstreams();
  const t1 = table(18081, 1);
  const a = v1(t1);
  const pool = u.pool(a.c, a.e);
  const st = u.state(a.c, a.e);
  assert.equal(u.pool(a.c, a.e), pool);
  assert.equal(u.state(a.c, a.e), st);
  assert.equal(st.hostPort, `127.0.0.1:18081`);
  st.ejections = 2;

  const t2 = table(18081, 2);
  const b = v1(t2);
  assert.notEqual(b.c, a.c);
  u.retain(t2);
  assert.equal(u.pool(b.c, b.e), pool, 'a swap that keeps the endpoint keeps its warm pool');
  assert.equal(u.state(b.c, b.e), st, 'and its outlier state');
  assert.equal(u.state(b.c, b.e).ejections, 2);
  await u.close();
});

test('a request still on an old table never gets a pool the swap closed', async () => {
  const u = new Upstreams();
  const old = v1(table(18081, 1));
  const closed = u.pool(old.c, old.e);
  u.retain(table(18091, 2)); // v1 moved: its old pool is closed
  assert.equal(closed.closed, true);
  const again = u.pool(old.c, old.e);
  assert.notEqual(again, closed);
  assert.equal(again.closed, false);
  await u.close();
});
