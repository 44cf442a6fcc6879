// The floor under any Node.js proxy, for the results' explanation: node's http server handing each
// request to undici's Pool.dispatch and streaming the answer back — no routing, no header work, no
// mirrors, no telemetry. Whatever Umbra costs above this is Umbra's; below it is the runtime's.

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
// Loaded as lightly as Umbra loads them, by Umbra's own two loaders (neither imports anything else
// of Umbra's), so the floor holds no more memory than the runtime has to: an ESM import of node:http
// loads node's bundled undici on Node 22/24, and undici's package index loads fetch, WebSocket and
// the rest (~9 MiB).
import { http } from '../src/runtime/node-http.js';
import { Pool } from '../src/proxy/undici-pool.js';

function main(): void {
  const [port, upstreamPort] = process.argv.slice(2).map(Number);
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, {
    connections: null,
    pipelining: 1,
    keepAliveTimeout: 4_000,
  });
  const server = http.createServer((req, res) => {
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        res.writeHead(status, headers as Record<string, string | string[]>);
      },
      onResponseData(_c, chunk) {
        res.write(chunk);
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_c, err) {
        res.destroy(err);
      },
    };
    pool.dispatch(
      {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: ['host', req.headers.host ?? ''],
        body: null,
      },
      handler,
    );
  });
  server.listen(port, '127.0.0.1');
  // The bench stops contenders with SIGTERM; exiting (rather than dying of it) lets --cpu-prof write.
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
