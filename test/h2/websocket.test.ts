// WebSocket through Umbra: a `ws` client is upgraded (101) through a routed service and exchanges
// messages with a `ws` server; the copy is never mirrored; a WebSocket to no route gets a clear 404.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startTestUmbra, workloadEntry } from '../helpers/umbra.js';

async function wsServer(name: string): Promise<{ port: number; hosts: string[]; close(): Promise<void> }> {
  const http = createServer((_req, res) => res.end(`${name} plain\n`));
  const wss = new WebSocketServer({ server: http });
  const hosts: string[] = [];
  wss.on('connection', (socket, req) => {
    hosts.push(String(req.headers.host));
    socket.on('message', (data) => socket.send(`${name}:${data.toString()}`));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    port: (http.address() as AddressInfo).port,
    hosts,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        http.close(() => r());
      }),
  };
}

test('a WebSocket client is upgraded through Umbra and exchanges messages; the copy is not mirrored', async () => {
  const v1 = await wsServer('v1');
  const v2 = await wsServer('v2');
  const umbra = await startTestUmbra({
    'service.yaml': `apiVersion: v1
kind: Service
metadata: {name: chat}
spec:
  selector: {app: chat}
  ports: [{name: http, port: 8000}]
`,
    'workloads.yaml': `${workloadEntry('chat-v1', v1.port, { app: 'chat', version: 'v1' })}---
${workloadEntry('chat-v2', v2.port, { app: 'chat', version: 'v2' })}`,
    'routes.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: chat}
spec:
  host: chat
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: chat}
spec:
  hosts: [chat]
  http:
  - route: [{destination: {host: chat, subset: v1}}]
    mirror: {host: chat, subset: v2}
`,
  });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${umbra.listener.address.port}/room`, {
      headers: { host: 'chat:8000' },
    });
    await once(ws, 'open');
    const replies: string[] = [];
    ws.on('message', (d: Buffer) => replies.push(d.toString()));
    for (const [i, m] of ['one', 'two', 'three'].entries()) {
      ws.send(m);
      while (replies.length < i + 1) await once(ws, 'message');
    }
    assert.deepEqual(replies, ['v1:one', 'v1:two', 'v1:three']);
    assert.deepEqual(v1.hosts, ['chat:8000']);
    ws.close();
    await once(ws, 'close');
    // WebSocket traffic is never mirrored: give a stray copy the time it would need to show up.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(v2.hosts, []);
    assert.ok(
      umbra.accessLines.some((l) => l.includes('"GET /room HTTP/1.1" 101')),
      umbra.accessLines.join('\n'),
    );

    // A WebSocket to a host nothing routes: a clear 404, not a hang.
    const lost = new WebSocket(`ws://127.0.0.1:${umbra.listener.address.port}/room`, {
      headers: { host: 'nowhere:8000' },
    });
    lost.on('error', () => undefined);
    const [, res] = (await once(lost, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 404);
    lost.terminate();
  } finally {
    await umbra.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});
