// Gateway listeners follow the table: applying a Gateway opens its port, changing the port moves
// the listener, deleting the Gateway closes it; a port that cannot be opened is reported and the
// rest keeps serving. Real sockets, real admin API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { request } from 'undici';
import { freePort, startEchoServer } from '../helpers/servers.js';
import { startTestUmbra, workloadEntry } from '../helpers/umbra.js';

const gateway = (port: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: umbra
  listeners: [{name: http, port: ${port}, protocol: HTTP}]
`;

const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-echo}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
`;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface GatewayStatus {
  conditions: Condition[];
  listeners: { name: string; conditions: Condition[] }[];
}

async function apply(adminUrl: string, yaml: string): Promise<void> {
  const res = await request(`${adminUrl}/apis/apply?source=test`, {
    method: 'POST',
    body: yaml,
    headers: { 'content-type': 'application/yaml' },
  });
  assert.equal(res.statusCode, 200, await res.body.text());
}

async function get(port: number): Promise<number | string> {
  try {
    const res = await request(`http://127.0.0.1:${port}/hello`, { headers: { host: 'edge.example' } });
    await res.body.text();
    return res.statusCode;
  } catch (e) {
    return (e as { code?: string }).code ?? 'error';
  }
}

test('a Gateway listener opens, moves and closes with the configuration', async () => {
  const echo = await startEchoServer();
  const umbra = await startTestUmbra({
    'base.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: umbra}
spec: {controllerName: umbra.dev/gateway-controller}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec: {ports: [{name: http, port: 80}], selector: {app: echo}}
---
${workloadEntry('echo', echo.port, { app: 'echo' })}`,
  });
  const blocker = createServer();
  try {
    const [p1, p2] = [await freePort(), await freePort()];
    assert.deepEqual([...umbra.gateways.bound.keys()], []);

    await apply(umbra.adminUrl, `${gateway(p1)}---\n${ROUTE}`);
    await umbra.gateways.settled();
    assert.equal(await get(p1), 200);
    assert.equal(echo.requests.at(-1)?.headers.host, 'edge.example');

    await apply(umbra.adminUrl, gateway(p2));
    await umbra.gateways.settled();
    assert.equal(await get(p2), 200);
    assert.equal(await get(p1), 'ECONNREFUSED');

    // A port someone else holds: reported, not fatal.
    const p3 = await freePort();
    await new Promise<void>((ok) => blocker.listen(p3, '127.0.0.1', ok));
    await apply(umbra.adminUrl, gateway(p3));
    await umbra.gateways.settled();
    assert.match(umbra.gateways.failed.get(`127.0.0.1:${p3}`) ?? '', /EADDRINUSE/);
    assert.ok(umbra.logs.some((l) => l.includes(`127.0.0.1:${p3}`) && /cannot listen/.test(l)));
    // …and in the Gateway's status, as `umbra get gateway edge -o yaml` shows it.
    const res = await request(`${umbra.adminUrl}/apis/resources?kind=Gateway&name=edge`);
    const { items } = (await res.body.json()) as { items: { status: GatewayStatus }[] };
    const programmed = (cs: Condition[]) => cs.find((c) => c.type === 'Programmed');
    assert.deepEqual(
      [
        programmed(items[0].status.listeners[0].conditions)?.status,
        programmed(items[0].status.listeners[0].conditions)?.reason,
      ],
      ['False', 'Invalid'],
    );
    assert.match(programmed(items[0].status.listeners[0].conditions)?.message ?? '', /EADDRINUSE/);
    assert.deepEqual(
      [programmed(items[0].status.conditions)?.status, programmed(items[0].status.conditions)?.reason],
      ['False', 'AddressNotUsable'],
    );
    assert.equal(await get(p2), 'ECONNREFUSED');

    const del = await request(`${umbra.adminUrl}/apis/resources/Gateway/default/edge`, { method: 'DELETE' });
    assert.equal(del.statusCode, 200, await del.body.text());
    await umbra.gateways.settled();
    assert.deepEqual([...umbra.gateways.bound.keys()], []);
    assert.deepEqual([...umbra.gateways.failed.keys()], []);
  } finally {
    blocker.close();
    await umbra.close();
    await echo.close();
  }
});
